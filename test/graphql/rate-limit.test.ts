import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../support/accounts.js';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant } from '../support/fixtures.js';
import { freePort } from '../support/ports.js';
import { installed } from '../support/programs.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let db: TestDatabase;
let superuser: pg.Client;
// Without redis-server only the in-memory budgets are tested.
const REDIS_INSTALLED = installed('redis', 'the rate-limit tests against Redis');
let redis: RedisServer;

const PROJECTS = '{ projects { totalCount } }';

beforeAll(async () => {
  db = await createTestDatabase();
  superuser = new pg.Client({ connectionString: db.ownerUrl });
  await superuser.connect();
  if (REDIS_INSTALLED) redis = await startRedis();
});
afterAll(async () => {
  await superuser.end();
  await db.drop();
  await redis?.stop();
});

/** A fresh tenant allowed `rpm` requests per minute, and a member's token for it. */
async function limitedTenant(api: TestApp, label: string, rpm: number | null) {
  const tenant = await seedTenant(db.ownerUrl, label);
  await superuser.query('update app.tenants set requests_per_minute = $2 where id = $1', [
    tenant.id,
    rpm,
  ]);
  return { tenant, token: await api.app.deps.tokens.signAccess(tenant.users.member, tenant.id) };
}

const outcome = (r: GraphQLResult) => (codeOf(r) as string | undefined) ?? 'OK';

function expectRateLimited(result: GraphQLResult | undefined) {
  expect(codeOf(result ?? {})).toBe('RATE_LIMITED');
  expect(result?.status).toBe(429);
  const retryAfter = result?.errors?.[0]?.extensions?.retryAfter;
  expect(typeof retryAfter).toBe('number');
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

const BACKENDS: [string, () => Record<string, string>][] = [['in memory', () => ({})]];
if (REDIS_INSTALLED) BACKENDS.push(['in Redis', () => ({ REDIS_URL: redis.url })]);

describe.each(BACKENDS)('per-tenant rate limits (%s)', (backend, env) => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp(db, env());
  });
  afterAll(async () => {
    await api.close();
  });

  it('limits a tenant over its budget with retryAfter, and not another tenant', async () => {
    const a = await limitedTenant(api, 'A', 5);
    const b = await limitedTenant(api, 'B', 5);
    const results: GraphQLResult[] = [];
    for (let i = 0; i < 8; i++) results.push(await api.request(PROJECTS, {}, { token: a.token }));
    const codes = results.map(outcome);
    console.log(`rate limit (${backend}): tenant A at 5/min, 8 requests -> ${codes.join(', ')}`);
    expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', ...Array(3).fill('RATE_LIMITED')]);
    expectRateLimited(results[5]);

    // Tenant B has its own budget, untouched by A's.
    const other = await api.request(PROJECTS, {}, { token: b.token });
    expect(codeOf(other)).toBeUndefined();
    expect(other.data).toEqual({ projects: { totalCount: 1 } });
  });

  it('naming a tenant you do not belong to spends nothing of its budget', async () => {
    const a = await limitedTenant(api, 'A', 5);
    const b = await limitedTenant(api, 'B', 5);
    const outsider = await api.app.deps.tokens.signAccess(a.tenant.users.owner, undefined);
    for (let i = 0; i < 10; i++) {
      const result = await api.request(
        PROJECTS,
        {},
        { token: outsider, headers: { 'x-tenant-id': b.tenant.id } },
      );
      expect(codeOf(result)).toBe('FORBIDDEN');
    }
    expect(codeOf(await api.request(PROJECTS, {}, { token: b.token }))).toBeUndefined();
  });

  it('an unlimited (enterprise) tenant is never limited', async () => {
    const c = await limitedTenant(api, 'C', null);
    await superuser.query(`update app.tenants set plan = 'enterprise' where id = $1`, [
      c.tenant.id,
    ]);
    const results = await Promise.all(
      Array.from({ length: 30 }, () => api.request(PROJECTS, {}, { token: c.token })),
    );
    expect(results.every((r) => codeOf(r) === undefined)).toBe(true);
  });
});

describe('budgets shared through Redis', () => {
  it.skipIf(!REDIS_INSTALLED)('two API instances spend one budget together', async () => {
    const [one, two] = await Promise.all([
      startTestApp(db, { REDIS_URL: redis.url }),
      startTestApp(db, { REDIS_URL: redis.url }),
    ]);
    try {
      const a = await limitedTenant(one, 'Shared', 10);
      const results: GraphQLResult[] = [];
      // Alternating: each instance alone has seen only 8 of them.
      for (let i = 0; i < 16; i++) {
        results.push(await (i % 2 === 0 ? one : two).request(PROJECTS, {}, { token: a.token }));
      }
      const codes = results.map(outcome);
      console.log(
        `rate limit (Redis, 2 instances): 10/min, 16 requests alternating -> ` +
          `${codes.filter((c) => c === 'OK').length} passed, ` +
          `${codes.filter((c) => c === 'RATE_LIMITED').length} refused`,
      );
      expect(codes).toEqual([...Array(10).fill('OK'), ...Array(6).fill('RATE_LIMITED')]);
      expectRateLimited(results[10]);
      expectRateLimited(results[11]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('without Redis each instance falls back to its own memory: served, limited, counted', async () => {
    // Nobody listens on this port: Redis is "down" from the start.
    const api = await startTestApp(db, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      const a = await limitedTenant(api, 'Down', 3);
      const codes: string[] = [];
      for (let i = 0; i < 5; i++) {
        codes.push(outcome(await api.request(PROJECTS, {}, { token: a.token })));
      }
      expect(codes).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
      const metrics = await api.app.metrics?.render();
      expect(metrics?.body).toMatch(/tenantql_rate_limit_fallbacks_total\{budget="tenant"\} 5/);
      expect(metrics?.body).toMatch(/tenantql_rate_limit_redis_up 0/);
    } finally {
      await api.close();
    }
  });
});
