import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenKeys, TokenService } from '../../src/auth/jwt.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant } from '../support/fixtures.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import {
  childPids,
  graphql,
  isRunning,
  logLines,
  metricValue,
  scrape,
  startCluster,
  waitFor,
} from './cluster-support.js';

/** The secret spawnServer gives the server, so the test can sign tokens it accepts. */
const JWT_SECRET = 'server-process-test-secret-long-enough-0123456789';
const WORKER_OPERATIONS = 'tenantql_worker_operations_total';

let db: TestDatabase;
let dataDir: string;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-cluster-'));
  // Debug: the primary then logs each worker it sees ready.
  server = await startCluster(db, dataDir, {
    WEB_CONCURRENCY: '2',
    LOG_LEVEL: 'debug',
    LOGIN_ACCOUNT_ATTEMPTS: '3',
  });
});
afterAll(async () => {
  if (server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await db.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

const perWorker = (text: string) => ({
  1: metricValue(text, WORKER_OPERATIONS, { worker: '1' }),
  2: metricValue(text, WORKER_OPERATIONS, { worker: '2' }),
});

describe('WEB_CONCURRENCY=2', () => {
  it('serves from both workers, and /metrics counts the whole instance whichever answers', async () => {
    const before = perWorker(await scrape(server.port));
    for (let i = 0; i < 20; i++) {
      expect((await graphql(server.port, '{ __typename }')).json).toEqual({
        data: { __typename: 'Query' },
      });
    }
    // Scrapes on new connections are spread over both workers too: each must see all 20.
    const scrapes = await Promise.all(Array.from({ length: 6 }, () => scrape(server.port)));
    for (const text of scrapes) {
      const after = perWorker(text);
      expect(after[1] - before[1] + after[2] - before[2]).toBe(20);
      expect(after[1]).toBeGreaterThan(before[1]);
      expect(after[2]).toBeGreaterThan(before[2]);
      expect(metricValue(text, 'tenantql_operations_total', { tenant: 'none' })).toBe(
        after[1] + after[2],
      );
    }
  });

  it('keeps one in-memory tenant budget for the instance, not one per worker', async () => {
    const tenant = await seedTenant(db.ownerUrl, 'cluster');
    const superuser = new pg.Client({ connectionString: db.ownerUrl });
    await superuser.connect();
    try {
      await superuser.query('update app.tenants set requests_per_minute = 5 where id = $1', [
        tenant.id,
      ]);
    } finally {
      await superuser.end();
    }
    const config = loadConfig({ JWT_SECRET, TENANTQL_DATA_DIR: dataDir });
    const tokens = new TokenService(await loadTokenKeys(config.auth, dataDir), config.auth);
    const headers = {
      authorization: `Bearer ${await tokens.signAccess(tenant.users.member, tenant.id)}`,
    };

    const before = perWorker(await scrape(server.port));
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const answer = await graphql(server.port, '{ projects { totalCount } }', headers);
      codes.push(answer.json.errors?.[0]?.extensions?.code ?? 'OK');
    }
    expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', ...Array<string>(3).fill('RATE_LIMITED')]);
    const after = perWorker(await scrape(server.port));
    // Both workers took some of the 8: the budget they spent from is the primary's.
    expect(after[1]).toBeGreaterThan(before[1]);
    expect(after[2]).toBeGreaterThan(before[2]);
  });

  it('keeps one sign-in budget per account for the instance', async () => {
    const login = `mutation { login(input: {email: "nobody-${Date.now()}@example.test", password: "wrong password"}) { token } }`;
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await graphql(server.port, login)).json.errors?.[0]?.extensions?.code);
    }
    expect(codes).toEqual([
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
  });

  it('delivers live updates on every worker (each has its own LISTEN)', async () => {
    const tenant = await seedTenant(db.ownerUrl, 'cluster-live');
    const config = loadConfig({ JWT_SECRET, TENANTQL_DATA_DIR: dataDir });
    const tokens = new TokenService(await loadTokenKeys(config.auth, dataDir), config.auth);
    const viewer = await tokens.signAccess(tenant.users.viewer, tenant.id);
    // Two WebSocket connections opened together: the cluster gives them to different workers.
    const clients = [0, 1].map(() =>
      createClient({
        url: `ws://127.0.0.1:${server.port}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${viewer}` },
        retryAttempts: 0,
        lazy: true,
      }),
    );
    const received: string[][] = [[], []];
    clients.forEach((client, i) =>
      client.subscribe<{ taskChanged: { kind: string; taskId: string } }>(
        {
          query: `subscription ($projectId: ID!) { taskChanged(projectId: $projectId) { kind taskId } }`,
          variables: { projectId: tenant.projectId },
        },
        {
          next: ({ data }) =>
            received[i].push(
              data ? `${data.taskChanged.kind} ${data.taskChanged.taskId}` : 'error',
            ),
          error: () => received[i].push('error'),
          complete: () => undefined,
        },
      ),
    );
    try {
      await waitFor(
        'both subscriptions to start',
        async () => metricValue(await scrape(server.port), 'tenantql_live_subscriptions') === 2,
      );
      const owner = await tokens.signAccess(tenant.users.owner, tenant.id);
      const created = await graphql(
        server.port,
        `mutation { createTask(input: {projectId: "${tenant.projectId}", title: "Live in a cluster"}) { id } }`,
        { authorization: `Bearer ${owner}` },
      );
      expect(created.json.errors).toBeUndefined();
      const createdTask = `CREATED ${(created.json.data as { createTask: { id: string } }).createTask.id}`;
      await waitFor('both subscribers to hear of it', () =>
        received.every((heard) => heard.includes(createdTask)),
      );
      // On a Citus cluster each worker reads new events every 200 ms, so a subscription may also
      // hear of the seeded task, created up to one read before it started; NOTIFY is heard at
      // once, before. Each subscriber hears of each change once.
      const seededTask = `CREATED ${tenant.taskId}`;
      for (const heard of received) {
        expect(heard.filter((change) => change !== seededTask)).toEqual([createdTask]);
        expect(heard.filter((change) => change === seededTask).length).toBeLessThanOrEqual(1);
      }
    } finally {
      for (const client of clients) await client.dispose();
    }
  });

  it('replaces a worker that dies, and requests keep succeeding', async () => {
    const workers = childPids(server.child.pid!);
    expect(workers).toHaveLength(2);
    process.kill(workers[0], 'SIGKILL');

    const replaced = await waitFor('the replacement to be logged', () =>
      logLines(server).find((line) => line.msg === 'API worker exited; starting a replacement'),
    );
    expect(replaced).toMatchObject({ pid: workers[0], signal: 'SIGKILL' });
    for (let i = 0; i < 6; i++) {
      expect((await graphql(server.port, '{ __typename }')).status).toBe(200);
    }
    const [, replacement] = await waitFor('a new worker process', () => {
      const now = childPids(server.child.pid!);
      return now.length === 2 && !now.includes(workers[0]) && now;
    });
    // The replacement takes its share of new connections once it listens.
    const slot = String(replaced.apiWorker);
    await waitFor('the replacement to serve', async () => {
      // Connections alternate between the workers: several in a row reach both, whatever the
      // scrape's turn.
      for (let i = 0; i < 3; i++) {
        expect((await graphql(server.port, '{ __typename }')).status).toBe(200);
      }
      return metricValue(await scrape(server.port), WORKER_OPERATIONS, { worker: slot }) > 0;
    }).catch((error: Error) => {
      const said = server
        .output()
        .split('\n')
        .filter((line) => !line.includes('"msg":"operation"'))
        .join('\n');
      throw new Error(`${error.message}; the server said:\n${said.slice(-4000)}`);
    });
    expect(isRunning(replacement)).toBe(true);
  });

  it('drains both workers on SIGTERM and exits 0 with no worker left', async () => {
    const workers = childPids(server.child.pid!);
    // A request in flight: half its body is sent, the rest after the signal.
    const body = JSON.stringify({ query: '{ __typename }' });
    const request = http.request({
      agent: false,
      host: '127.0.0.1',
      port: server.port,
      path: '/graphql',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answered = new Promise<number>((resolve, reject) => {
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      request.on('error', reject);
    });
    request.write(body.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 300));

    server.child.kill('SIGTERM');
    await waitFor('the workers to drain', () =>
      server.output().includes('"msg":"API worker draining"'),
    );
    request.end(body.slice(10));
    expect(await answered).toBe(200);
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
    for (const pid of workers) expect(isRunning(pid)).toBe(false);
  });
});

describe('WEB_CONCURRENCY', () => {
  it('is 1 (no cluster) unless set, a count, or auto for every core', () => {
    expect(loadConfig({}).webConcurrency).toBe(1);
    expect(loadConfig({ WEB_CONCURRENCY: '' }).webConcurrency).toBe(1);
    expect(loadConfig({ WEB_CONCURRENCY: '3' }).webConcurrency).toBe(3);
    expect(loadConfig({ WEB_CONCURRENCY: 'auto' }).webConcurrency).toBe(os.availableParallelism());
    for (const value of ['0', 'abc', '-2', '1.5', '2x']) {
      expect(() => loadConfig({ WEB_CONCURRENCY: value })).toThrow(ConfigError);
    }
  });
});

describe('cluster startup failures', () => {
  it('refuses WEB_CONCURRENCY=0, abc or -2 with a clear message', async () => {
    await Promise.all(
      ['0', 'abc', '-2'].map(async (value) => {
        const refused = await spawnServer(db, dataDir, { WEB_CONCURRENCY: value });
        expect(await refused.exited).toBe(1);
        expect(logLines(refused).map((line) => line.msg)).toContainEqual(
          expect.stringMatching(
            new RegExp(`^Configuration problem: WEB_CONCURRENCY must be .* got "${value}"$`),
          ),
        );
      }),
    );
  });

  it('exits non-zero with the workers’ error when none of them can start', async () => {
    const broken = await spawnServer(db, dataDir, {
      WEB_CONCURRENCY: '2',
      // Only workers load the signing keys, so the primary itself starts fine.
      JWT_SECRET: '',
      JWT_PRIVATE_KEY: 'not a PEM key',
      JWT_PUBLIC_KEY: 'not a PEM key either',
    });
    expect(await broken.exited).toBe(1);
    const failed = logLines(broken).find((line) => line.msg === 'tenantql failed to start');
    expect((failed?.err as { message?: string } | undefined)?.message).toMatch(
      /^no API worker could start: /,
    );
    // Each worker tried once, and the primary says why: a broken configuration does not fork-loop.
    const attempts = logLines(broken).filter((line) => line.msg === 'API worker failed to start');
    expect(attempts).toHaveLength(2);
    for (const attempt of attempts) expect(attempt.error).toEqual(expect.any(String));
  });
});
