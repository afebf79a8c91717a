import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, ownerQuery, type Call } from '../support/callers.js';
import type { TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { freePort } from '../support/ports.js';

// A cluster of its own: stopping the shared test server would break every other test file.
const WORKERS = 8;
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let dataDir: string;
let port: number;
let server: EmbeddedServer;
let api: TestApp;
let tenant: SeededTenant;
let call: Call;

const start = () => startEmbeddedPostgres({ dataDir, port, databaseName: 'tenantql' }, log);

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-restart-'));
  await fs.chmod(dataDir, 0o755);
  port = await freePort();
  server = await start();
  await migrate(server.migrationUrl, {
    rolePasswords: {
      tenantql_api: decodeURIComponent(new URL(server.apiUrl).password),
      tenantql_admin: decodeURIComponent(new URL(server.adminUrl).password),
    },
  });
  const db: TestDatabase = {
    name: 'tenantql',
    ownerUrl: server.migrationUrl,
    apiUrl: server.apiUrl,
    adminUrl: server.adminUrl,
    workerUrl: server.workerUrl,
    drop: () => Promise.resolve(),
  };
  api = await startTestApp(db, { DATABASE_POOL_SIZE: '4' });
  tenant = await seedTenant(server.migrationUrl, 'rst');
  // The load must meet only the outage, not the free plan's quotas and request budget.
  await ownerQuery(
    server.migrationUrl,
    `update app.tenants set plan = 'enterprise' where id = $1`,
    [tenant.id],
  );
  call = await callerFor(api, tenant.id, tenant.users.member);
}, 120_000);
afterAll(async () => {
  // Closing ends the pool, which waits for every checked-out connection: a connection leaked by
  // the outage shows up here as a hang, so it is bounded and reported as such.
  const within = async (what: string, run: () => Promise<void>) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish in 15 s`)), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
  };
  try {
    await within('closing the app', async () => api?.close());
  } finally {
    await server?.stop();
  }
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

interface Outcome {
  at: number;
  ms: number;
  code: unknown;
  key?: string;
}

describe('PostgreSQL restart under load', () => {
  it('fails fast with SERVICE_UNAVAILABLE, recovers by itself and loses no acknowledged write', async () => {
    const outcomes: Outcome[] = [];
    const acknowledged: string[] = [];
    const t0 = performance.now();
    let stopLoad = false;
    let n = 0;
    const load = Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (!stopLoad) {
          const key = `R${n++}`;
          const started = performance.now();
          const result = await call<{ createProject: { key: string } }>(
            `mutation($k: String!) { createProject(input: { key: $k, name: "rst restart" }) { key } }`,
            { k: key },
          );
          const ms = performance.now() - started;
          if (result.data?.createProject) acknowledged.push(result.data.createProject.key);
          outcomes.push({ at: started - t0, ms, code: errorCode(result) ?? 'OK', key });
          // Keeps the loop from spinning on instant refusals during the outage.
          if (result.errors) await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const stoppedAt = performance.now() - t0;
    await server.stop();
    await new Promise((r) => setTimeout(r, 2_000));
    const restartAt = performance.now() - t0;
    server = await start();
    const upAt = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3_000));
    stopLoad = true;
    await load;

    const codes = new Set(outcomes.map((o) => o.code));
    // Only successes and the coded outage error: nothing masked, nothing else.
    expect([...codes].sort()).toEqual(['OK', 'SERVICE_UNAVAILABLE']);
    const during = outcomes.filter((o) => o.at > stoppedAt + 200 && o.at + o.ms < restartAt);
    expect(during.length).toBeGreaterThan(0);
    // Refused quickly while the database is down, not after a hang.
    expect(Math.max(...during.map((o) => o.ms))).toBeLessThan(6_000);
    // After the restart the API recovered by itself: the last requests all succeeded.
    const after = outcomes.filter((o) => o.at > upAt + 1_000);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((o) => o.code === 'OK')).toBe(true);
    // No pooled connection is left broken: a run of sequential operations all succeed.
    for (let i = 0; i < 12; i++) {
      const result = await call('{ projects(first: 1) { totalCount } }');
      expect(result.errors).toBeUndefined();
    }
    // Every acknowledged write is there.
    const rows = await ownerQuery<{ key: string }>(
      server.migrationUrl,
      `select key from app.projects where tenant_id = $1 and key like 'R%'`,
      [tenant.id],
    );
    const stored = new Set(rows.map((r) => r.key));
    expect(acknowledged.filter((k) => !stored.has(k))).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(0);
  }, 120_000);
});
