import http from 'node:http';
import { readFileSync } from 'node:fs';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** The middle value (the mean of the two middle ones for an even count); 0 for none. */
export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2
    ? (sorted[Math.floor(middle)] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs `concurrency` loops of `task` until `seconds` have passed (and never more than maxRequests
 * in all), recording each call's latency. A task returns false for a wrong answer.
 */
export async function runLoad(
  concurrency: number,
  seconds: number,
  task: (worker: number, i: number) => Promise<boolean>,
  maxRequests = 2_000_000,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline && issued < maxRequests; i++) {
        issued++;
        const t0 = performance.now();
        let ok: boolean;
        try {
          ok = await task(worker, i);
        } catch {
          ok = false;
        }
        latencies.push(performance.now() - t0);
        if (!ok) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds: Number(elapsed.toFixed(2)),
    requestsPerSecond: Math.round(latencies.length / elapsed),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
  };
}

const sharedAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * POSTs a GraphQL body to a loopback URL; resolves with status and parsed JSON. `agent` keeps a
 * client's connections apart from the shared ones (64 sockets).
 */
export function postGraphQL(
  url: URL,
  body: string,
  headers: Record<string, string>,
  agent: http.Agent = sharedAgent,
): Promise<{ status: number; json: { data?: unknown; errors?: unknown[] } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                data?: unknown;
                errors?: unknown[];
              },
            });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** User + system CPU seconds of a process, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat; here offset by the two fields before ')'.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Resident memory of a process in MB, from /proc (Linux); 0 once it has exited. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** A process and its direct children (Linux); none once it has exited. */
export function processAndChildren(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return [pid, ...children];
  } catch {
    return [];
  }
}

/** CPU used by a set of processes while `run` runs, as a share of one core. */
export async function withCpu<T>(
  processes: Record<string, () => number[]>,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const pidsBefore = Object.fromEntries(
    Object.entries(processes).map(([name, pids]) => [name, pids()]),
  );
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  const before = Object.fromEntries(
    Object.entries(pidsBefore).map(([name, pids]) => [name, sum(pids)]),
  );
  const selfBefore = process.cpuUsage();
  const t0 = performance.now();
  const result = await run();
  const wall = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(selfBefore);
  const cpu: Record<string, number> = {};
  for (const name of Object.keys(processes)) {
    // Processes that started during the run (new backends) count from zero.
    const pids = [...new Set([...pidsBefore[name], ...processes[name]()])];
    cpu[name] = Number(((sum(pids) - before[name]) / wall).toFixed(2));
  }
  cpu['load generator'] = Number(((self.user + self.system) / 1e6 / wall).toFixed(2));
  return { result, cpu };
}

/** What a failed answer carries: its first error's extensions.code, else its HTTP status. */
export function failureCode(
  status: number,
  json: { data?: unknown; errors?: unknown[] },
): string | undefined {
  const [first] = json.errors ?? [];
  if (first !== undefined) {
    const code = (first as { extensions?: { code?: unknown } }).extensions?.code;
    return typeof code === 'string' ? code : `HTTP ${status}`;
  }
  if (status !== 200) return `HTTP ${status}`;
  return json.data === undefined || json.data === null ? 'NO_DATA' : undefined;
}

/**
 * A load task posting one GraphQL body that counts its failures by code in `codes` (a thrown
 * error by its errno code); `accept` checks the data of an answer without errors.
 */
export function graphQLTask(
  url: URL,
  body: string,
  headers: Record<string, string>,
  agent: http.Agent | undefined,
  accept: (data: unknown) => boolean,
  codes: Record<string, number>,
): () => Promise<boolean> {
  const count = (code: string) => (codes[code] = (codes[code] ?? 0) + 1);
  return async () => {
    try {
      const { status, json } = await postGraphQL(url, body, headers, agent);
      const code = failureCode(status, json) ?? (accept(json.data) ? undefined : 'WRONG_DATA');
      if (code === undefined) return true;
      count(code);
      return false;
    } catch (error) {
      count((error as NodeJS.ErrnoException).code ?? 'EXCEPTION');
      return false;
    }
  };
}
