/**
 * Issue 15, "one tenant cannot starve another". Tenant B runs a light operation from one client,
 * alone and then while tenant A floods a heavy but allowed operation from 32 clients, with
 * fairness on (each tenant's default share of the API pool) and off
 * (DATABASE_TENANT_MAX_CONNECTIONS = the pool's size). Each configuration has its own API
 * process, and they take turns in rounds (off then on, then on then off, …), so both see the same
 * phases of a machine whose speed drifts by tens of percent.
 *
 * The capacity target (fairness must not waste capacity) compares A's throughput with A flooding
 * alone, on and off. Beside B it would count B's own work as waste: B's one client sends its next
 * request when the last is answered, so served fairly it does ten times the requests it gets
 * through unfairly, on the same two cores. That figure is printed too ("beside B"), with the
 * requests B got through.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadTokenKeys, TokenService } from '../src/auth/jwt.js';
import { loadConfig } from '../src/config.js';
import type { FloodMessage, FloodOrder } from './flood.js';
import { graphQLTask, median, runLoad, withCpu, type LoadResult } from './load.js';
import { benchIds } from './seed.js';

export const LIGHT_OPERATION = 'query Light($id: ID!) { project(id: $id) { name } }';

/**
 * The issue's heavy operation, `projects(first:20){ tasks(first:20){ … } }`: on the bench data 10
 * projects and 200 tasks. `--heavy-comments` adds each task's first 10 comments (600 more rows,
 * cost 19,301 of QUERY_MAX_COST's 50,000) for a flood far heavier than the issue's.
 */
export const HEAVY_OPERATION = `query Heavy { projects(first: 20) { edges { node { id name
  tasks(first: 20) { edges { node { id title status priority createdAt } } } } } } }`;
export const HEAVIER_OPERATION = `query Heavier { projects(first: 20) { edges { node { id name
  tasks(first: 20) { edges { node { id title status priority createdAt
    comments(first: 10) { edges { node { body createdAt } } } } } } } } } }`;

/** Issue 15's targets. */
const P99_RATIO_LIMIT = 3;
const CAPACITY_KEPT_LIMIT = 0.8;
/** Answers that refuse B rather than serve it. */
const REFUSALS = ['RATE_LIMITED', 'SERVICE_UNAVAILABLE'];

export interface FairnessApi {
  url: URL;
  /** The API's processes, for CPU accounting. */
  pids: () => number[];
  stop: () => Promise<void>;
}

export interface FairnessOptions {
  migrationUrl: string;
  jwtSecret: string;
  /** Starts an API process with these settings over the bench's own (undefined unsets one). */
  startApi: (env: Record<string, string | undefined>) => Promise<FairnessApi>;
  postgresPids: () => number[];
  poolSize: number;
  /** DATABASE_TENANT_MAX_CONNECTIONS with fairness on; unset (the API's default) when undefined. */
  share?: number | undefined;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  floodClients: number;
  /** Nice value added to the flood's thread (see flood.ts); 0 runs it as the rest. */
  floodNice: number;
  /** Flood with HEAVIER_OPERATION (comments too) instead of the issue's HEAVY_OPERATION. */
  heavier?: boolean | undefined;
  /** Bench tenant numbers (seed.ts) of A and B. */
  tenants: { a: number; b: number };
}

interface Coded extends LoadResult {
  errorCodes: Record<string, number>;
}

/** One tenant's turns at the API pool during the flood, from the API's /metrics. */
interface Turns {
  operations: number;
  meanWaitMs: number;
  /** Share of its operations granted a place within 1 ms. */
  grantedWithin1Ms: number;
  /** Most of its operations seen waiting at once (sampled every second). */
  maxWaiting: number;
}

type Fairness = 'on' | 'off';

interface Measurement {
  tenantMaxConnections: number;
  bAlone: Coded;
  bUnderFlood: Coded;
  p50Ratio: number;
  p99Ratio: number;
  a: Coded;
  /** A's flood with no B, right after. */
  aAlone: Coded;
  /** Cores each process used while B ran under the flood. */
  cpuUnderFlood: Record<string, number>;
  /**
   * `unverified`: operations keyed by their caller, not their tenant, because the API's 30 s
   * memory of the caller's membership had lapsed; each such caller has a share of its own.
   */
  turns: { a: Turns; b: Turns; unverified: Turns };
  /**
   * The API's event-loop delay (prom-client's, at a 10 ms resolution, which idle shows as about
   * 10 ms): over B alone, and under the flood the median p99 and the highest max of each second.
   */
  eventLoopLagMs: { alone: Lag; underFlood: Lag };
}

interface Lag {
  p99: number;
  max: number;
}

const ratio = (a: number, b: number) => Number((b > 0 ? a / b : Infinity).toFixed(2));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The API's /metrics as `name{label="value",…}` (labels sorted) → value. */
async function scrape(url: URL): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    const request = http.get(
      { agent: false, host: url.hostname, port: url.port, path: '/metrics' },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(body));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
  const metrics = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`)
      .sort()
      .join(',');
    metrics.set(`${match[1]}{${labels}}`, Number(match[3]));
  }
  return metrics;
}

function metric(metrics: Map<string, number>, name: string, labels: Record<string, string>) {
  const key = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  return metrics.get(`${name}{${key}}`) ?? 0;
}

function lagOf(metrics: Map<string, number>): Lag {
  const ms = (name: string) =>
    Number(
      (metric(metrics, `tenantql_nodejs_eventloop_lag_${name}_seconds`, {}) * 1000).toFixed(1),
    );
  return { p99: ms('p99'), max: ms('max') };
}

function turnsBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  tenant: string,
  maxWaiting: number,
): Turns {
  const delta = (name: string, labels: Record<string, string> = {}) =>
    metric(after, name, { tenant, ...labels }) - metric(before, name, { tenant, ...labels });
  const operations = delta('tenantql_db_turn_wait_seconds_count');
  const waited = delta('tenantql_db_turn_wait_seconds_sum');
  const quick = delta('tenantql_db_turn_wait_seconds_bucket', { le: '0.001' });
  return {
    operations,
    meanWaitMs: Number((operations ? (waited * 1000) / operations : 0).toFixed(2)),
    grantedWithin1Ms: Number((operations ? quick / operations : 0).toFixed(3)),
    maxWaiting,
  };
}

/**
 * NOTE: on Node 20 tsx's loader reaches no worker thread (not even with `--import tsx` in its
 * execArgv), so the worker loads flood.ts through tsx's API.
 */
const FLOOD_WORKER = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ tsImport }) =>
  tsImport(${JSON.stringify(new URL('./flood.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`;

/** Runs A's flood in a worker thread; `warm` resolves when its measured window starts. */
function startFlood(order: FloodOrder) {
  const worker = new Worker(FLOOD_WORKER, { eval: true, workerData: order });
  let onWarm: () => void = () => undefined;
  const warm = new Promise<void>((resolve) => (onWarm = resolve));
  const done = new Promise<Coded>((resolve, reject) => {
    worker.on('message', (message: FloodMessage) => {
      if (message.kind === 'warm') onWarm();
      else resolve({ ...message.result, errorCodes: message.errorCodes });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`flood worker exited with ${code}`)));
  });
  // A worker that fails before it is warm must not leave the caller waiting for ever.
  return { warm: Promise.race([warm, done.then(() => undefined)]), done };
}

const codesText = (codes: Record<string, number>) =>
  Object.entries(codes)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ');

/**
 * Measures both configurations in alternating rounds and returns every round, the medians and
 * issue 15's targets.
 */
export async function fairness(options: FairnessOptions) {
  const [a, b] = await benchIds(options.migrationUrl, [options.tenants.a, options.tenants.b]);
  if (!a || !b) throw new Error('The bench tenants of the fairness benchmark are missing.');
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-bench-fair-'));
  const config = loadConfig({
    TENANTQL_DATA_DIR: dataDir,
    JWT_SECRET: options.jwtSecret,
    JWT_ACCESS_TTL_SECONDS: '86400',
    DATABASE_POOL_SIZE: String(options.poolSize),
  });
  const tokens = new TokenService(await loadTokenKeys(config.auth, dataDir), config.auth);
  await fs.rm(dataDir, { recursive: true, force: true });
  // One user of A for all its clients, the way one busy integration would call.
  const aHeaders = {
    authorization: `Bearer ${await tokens.signAccess(a.userId, undefined)}`,
    'x-tenant-id': a.tenantId,
  };
  const bHeaders = {
    authorization: `Bearer ${await tokens.signAccess(b.userId, undefined)}`,
    'x-tenant-id': b.tenantId,
  };
  const heavy = options.heavier ? HEAVIER_OPERATION : HEAVY_OPERATION;
  const heavyBody = JSON.stringify({ query: heavy });
  const lightBody = JSON.stringify({ query: LIGHT_OPERATION, variables: { id: b.projectIds[0] } });
  // B's client has a connection of its own, never queued behind A's sockets.
  const bAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const acceptLight = (data: unknown) =>
    typeof (data as { project?: { name?: unknown } } | null)?.project?.name === 'string';

  const shares: Record<Fairness, number> = {
    on: options.share ?? config.database.tenantMaxConnections,
    off: options.poolSize,
  };
  const settings: Record<Fairness, Record<string, string | undefined>> = {
    // By default the API's own share: the setting unset, as a deployment would leave it.
    on: { DATABASE_TENANT_MAX_CONNECTIONS: options.share?.toString() },
    off: { DATABASE_TENANT_MAX_CONNECTIONS: String(options.poolSize) },
  };
  const apis: Partial<Record<Fairness, FairnessApi>> = {};

  const measureB = async (url: URL, seconds: number): Promise<Coded> => {
    const errorCodes: Record<string, number> = {};
    const task = graphQLTask(url, lightBody, bHeaders, bAgent, acceptLight, errorCodes);
    return { ...(await runLoad(1, seconds, task)), errorCodes };
  };

  const measure = async (fair: Fairness, round: number): Promise<Measurement> => {
    const api = apis[fair] as FairnessApi;
    await measureB(api.url, options.warmupSeconds);
    // Each scrape also restarts the API's event-loop delay histogram.
    await scrape(api.url);
    const bAlone = await measureB(api.url, options.seconds);
    const before = await scrape(api.url);
    const floodOrder: FloodOrder = {
      url: api.url.toString(),
      body: heavyBody,
      headers: aHeaders,
      clients: options.floodClients,
      warmupSeconds: options.warmupSeconds,
      seconds: options.seconds,
      nice: options.floodNice,
    };
    const flood = startFlood(floodOrder);
    await flood.warm;
    let sampling = true;
    const maxWaiting = { a: 0, b: 0 };
    const lags: Lag[] = [];
    const sampler = (async () => {
      while (sampling) {
        await sleep(1000);
        const now = await scrape(api.url).catch(() => undefined);
        if (!now) continue;
        const waiting = (tenant: string) =>
          metric(now, 'tenantql_db_turn_waiting', { tenant: tenant });
        maxWaiting.a = Math.max(maxWaiting.a, waiting(a.tenantId));
        maxWaiting.b = Math.max(maxWaiting.b, waiting(b.tenantId));
        lags.push(lagOf(now));
      }
    })();
    const { result: bUnderFlood, cpu } = await withCpu(
      { api: api.pids, postgres: options.postgresPids },
      () => measureB(api.url, options.seconds),
    ).finally(() => (sampling = false));
    const aResult = await flood.done;
    await sampler;
    const after = await scrape(api.url);
    const aAlone = await startFlood(floodOrder).done;
    const measured: Measurement = {
      tenantMaxConnections: shares[fair],
      bAlone,
      bUnderFlood,
      p50Ratio: ratio(bUnderFlood.p50Ms, bAlone.p50Ms),
      p99Ratio: ratio(bUnderFlood.p99Ms, bAlone.p99Ms),
      a: aResult,
      aAlone,
      cpuUnderFlood: cpu,
      turns: {
        a: turnsBetween(before, after, a.tenantId, maxWaiting.a),
        b: turnsBetween(before, after, b.tenantId, maxWaiting.b),
        unverified: turnsBetween(before, after, 'unverified', 0),
      },
      eventLoopLagMs: {
        alone: lagOf(before),
        underFlood: {
          p99: Number(median(lags.map((l) => l.p99)).toFixed(1)),
          max: Math.max(0, ...lags.map((l) => l.max)),
        },
      },
    };
    console.log(
      `fairness ${fair.padEnd(3)}, round ${round}: B alone p50 ${bAlone.p50Ms.toFixed(2)} p99 ${bAlone.p99Ms.toFixed(2)} ms, ` +
        `under flood p50 ${bUnderFlood.p50Ms.toFixed(2)} p99 ${bUnderFlood.p99Ms.toFixed(2)} ms (p99 x${measured.p99Ratio}); ` +
        `A ${aResult.requestsPerSecond} req/s beside B (B ${bUnderFlood.requestsPerSecond}), ${aAlone.requestsPerSecond} alone; turn wait A ${measured.turns.a.meanWaitMs} ms, B ${measured.turns.b.meanWaitMs} ms; ` +
        `API event-loop delay p99 ${measured.eventLoopLagMs.alone.p99} ms alone, ${measured.eventLoopLagMs.underFlood.p99} ms under flood; ` +
        `cpu ${Object.entries(cpu)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    );
    for (const [who, result] of [
      ['B alone', bAlone],
      ['B under flood', bUnderFlood],
      ['A', aResult],
      ['A alone', aAlone],
    ] as const) {
      if (result.errors > 0) {
        console.log(
          `  ^ ${who}: ${result.errors} requests failed (${codesText(result.errorCodes)}): their latencies are not those of answers`,
        );
      }
    }
    return measured;
  };

  const started: FairnessApi[] = [];
  try {
    for (const fair of ['off', 'on'] as const) {
      const api = await options.startApi({
        DATABASE_POOL_SIZE: String(options.poolSize),
        // Label A and B in the per-tenant metrics whatever else the API has seen.
        METRICS_TENANT_LABELS: `${a.tenantId},${b.tenantId}`,
        ...settings[fair],
      });
      started.push(api);
      apis[fair] = api;
      // Both operations must succeed once before anything is timed.
      for (const [body, headers, agent] of [
        [heavyBody, aHeaders, undefined],
        [lightBody, bHeaders, bAgent],
      ] as const) {
        const codes: Record<string, number> = {};
        if (!(await graphQLTask(api.url, body, headers, agent, () => true, codes)())) {
          throw new Error(`fairness ${fair}: a bench operation failed: ${codesText(codes)}`);
        }
      }
    }
    const rounds: Round[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const order: Fairness[] = round % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
      const measured: Partial<Record<Fairness, Measurement>> = {};
      for (const fair of order) measured[fair] = await measure(fair, round);
      const on = measured.on as Measurement;
      const off = measured.off as Measurement;
      rounds.push({
        round,
        off,
        on,
        capacityRatio: ratio(on.aAlone.requestsPerSecond, off.aAlone.requestsPerSecond),
        besideBRatio: ratio(on.a.requestsPerSecond, off.a.requestsPerSecond),
      });
    }
    return summarise(rounds, options, { a: a.tenantId, b: b.tenantId });
  } finally {
    bAgent.destroy();
    await Promise.all(started.map((api) => api.stop()));
  }
}

function summarise(rounds: Round[], options: FairnessOptions, tenantIds: { a: string; b: string }) {
  const of = (fair: Fairness) => {
    const all = rounds.map((r) => r[fair]);
    const m = (pick: (x: Measurement) => number) => Number(median(all.map(pick)).toFixed(2));
    const codes: Record<string, number> = {};
    const add = (result: Coded) => {
      for (const [code, n] of Object.entries(result.errorCodes))
        codes[code] = (codes[code] ?? 0) + n;
    };
    all.forEach((x) => (add(x.bAlone), add(x.bUnderFlood)));
    const aCodes: Record<string, number> = {};
    for (const x of all)
      for (const result of [x.a, x.aAlone])
        for (const [code, n] of Object.entries(result.errorCodes))
          aCodes[code] = (aCodes[code] ?? 0) + n;
    return {
      tenantMaxConnections: all[0]?.tenantMaxConnections,
      bAloneP50Ms: m((x) => x.bAlone.p50Ms),
      bAloneP99Ms: m((x) => x.bAlone.p99Ms),
      bUnderFloodP50Ms: m((x) => x.bUnderFlood.p50Ms),
      bUnderFloodP99Ms: m((x) => x.bUnderFlood.p99Ms),
      p50Ratio: m((x) => x.p50Ratio),
      p99Ratio: m((x) => x.p99Ratio),
      bErrors: all.reduce((n, x) => n + x.bAlone.errors + x.bUnderFlood.errors, 0),
      bErrorCodes: codes,
      bRefused: REFUSALS.reduce((n, code) => n + (codes[code] ?? 0), 0),
      aRequestsPerSecond: m((x) => x.a.requestsPerSecond),
      aAloneRequestsPerSecond: m((x) => x.aAlone.requestsPerSecond),
      bUnderFloodRequestsPerSecond: m((x) => x.bUnderFlood.requestsPerSecond),
      aErrors: all.reduce((n, x) => n + x.a.errors + x.aAlone.errors, 0),
      aErrorCodes: aCodes,
      aMeanTurnWaitMs: m((x) => x.turns.a.meanWaitMs),
      bMeanTurnWaitMs: m((x) => x.turns.b.meanWaitMs),
      apiEventLoopLagP99AloneMs: m((x) => x.eventLoopLagMs.alone.p99),
      apiEventLoopLagP99UnderFloodMs: m((x) => x.eventLoopLagMs.underFlood.p99),
      apiCoresUnderFlood: m((x) => x.cpuUnderFlood.api ?? 0),
    };
  };
  const summary = { off: of('off'), on: of('on') };
  const capacityRatio = Number(median(rounds.map((r) => r.capacityRatio)).toFixed(2));
  const besideBRatio = Number(median(rounds.map((r) => r.besideBRatio)).toFixed(2));
  const targets = {
    fairnessBoundMet: {
      target: `B's p99 under the flood <= ${P99_RATIO_LIMIT} x alone, fairness on (median of rounds)`,
      value: summary.on.p99Ratio,
      met: summary.on.p99Ratio <= P99_RATIO_LIMIT,
    },
    bNeverRefused: {
      target: `no ${REFUSALS.join(' or ')} for B, fairness on`,
      value: summary.on.bRefused,
      met: summary.on.bRefused === 0,
    },
    capacityKept: {
      target: `A's req/s flooding alone, on / off >= ${CAPACITY_KEPT_LIMIT} (median of rounds)`,
      value: capacityRatio,
      met: capacityRatio >= CAPACITY_KEPT_LIMIT,
    },
  };

  const row = (label: string, s: (typeof summary)['on']) =>
    [
      label.padEnd(15),
      `${s.bAloneP50Ms.toFixed(2)} / ${s.bAloneP99Ms.toFixed(2)}`.padStart(15),
      `${s.bUnderFloodP50Ms.toFixed(2)} / ${s.bUnderFloodP99Ms.toFixed(2)}`.padStart(17),
      `x${s.p99Ratio}`.padStart(8),
      String(s.bErrors).padStart(6),
      String(s.aRequestsPerSecond).padStart(7),
      String(s.aErrors).padStart(6),
    ].join('  ');
  console.log(
    `fairness, medians of ${rounds.length} rounds (B: 1 client, light; A: ${options.floodClients} clients, heavy; pool ${options.poolSize}):`,
  );
  console.log(
    [
      'fairness'.padEnd(15),
      'B alone p50/p99'.padStart(15),
      'B flood p50/p99'.padStart(17),
      'p99 x'.padStart(8),
      'B err'.padStart(6),
      'A req/s'.padStart(7),
      'A err'.padStart(6),
    ].join('  '),
  );
  console.log(row(`off (${summary.off.tenantMaxConnections}/tenant)`, summary.off));
  console.log(row(`on (${summary.on.tenantMaxConnections}/tenant)`, summary.on));
  console.log(
    `A's throughput on / off per round, flooding alone: ${rounds.map((r) => r.capacityRatio).join(', ')}; median ${capacityRatio}` +
      ` (A alone ${summary.on.aAloneRequestsPerSecond} on, ${summary.off.aAloneRequestsPerSecond} off)`,
  );
  console.log(
    `A's throughput on / off per round, beside B: ${rounds.map((r) => r.besideBRatio).join(', ')}; median ${besideBRatio}` +
      ` (B got through ${summary.on.bUnderFloodRequestsPerSecond} req/s on, ${summary.off.bUnderFloodRequestsPerSecond} off)`,
  );
  console.log(
    'targets of issue 15',
    Object.fromEntries(
      Object.entries(targets).map(([k, v]) => [k, `${v.met ? 'met' : 'MISSED'} (${v.value})`]),
    ),
  );
  return {
    options: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      rounds: options.rounds,
      floodClients: options.floodClients,
      floodNice: options.floodNice,
      bClients: 1,
      apiPoolSize: options.poolSize,
      tenantMaxConnections: { on: summary.on.tenantMaxConnections, off: options.poolSize },
    },
    tenants: {
      a: { bench: options.tenants.a, id: tenantIds.a },
      b: { bench: options.tenants.b, id: tenantIds.b },
    },
    operations: {
      b: LIGHT_OPERATION,
      a: (options.heavier ? HEAVIER_OPERATION : HEAVY_OPERATION).replace(/\s+/g, ' '),
    },
    rounds,
    summary,
    capacityRatio,
    besideBRatio,
    targets,
  };
}

interface Round {
  round: number;
  off: Measurement;
  on: Measurement;
  /** A's req/s flooding alone, on / off: the capacity target. */
  capacityRatio: number;
  /** A's req/s beside B, on / off. */
  besideBRatio: number;
}
