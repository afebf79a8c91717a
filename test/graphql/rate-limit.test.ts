import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let api: TestApp;
let superuser: pg.Client;
let a: SeededTenant;
let b: SeededTenant;

const PROJECTS = '{ projects { totalCount } }';

beforeAll(async () => {
  db = await createTestDatabase();
  superuser = new pg.Client({ connectionString: db.ownerUrl });
  await superuser.connect();
  api = await startTestApp(db);
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  await superuser.query('update app.tenants set requests_per_minute = 5 where id = $1', [a.id]);
  await superuser.query('update app.tenants set requests_per_minute = 5 where id = $1', [b.id]);
});
afterAll(async () => {
  await api.close();
  await superuser.end();
  await db.drop();
});

describe('per-tenant rate limits (in memory)', () => {
  it('limits a tenant over its budget with retryAfter, and not another tenant', async () => {
    const aToken = await api.app.deps.tokens.signAccess(a.users.member, a.id);
    const bToken = await api.app.deps.tokens.signAccess(b.users.member, b.id);
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await api.request(PROJECTS, {}, { token: aToken }));
    const codes = results.map((r) => (codeOf(r) as string | undefined) ?? 'OK');
    console.log(`rate limit: tenant A at 5/min, 8 requests -> ${codes.join(', ')}`);
    expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', ...Array(3).fill('RATE_LIMITED')]);
    const limited = results[5];
    expect(limited?.status).toBe(429);
    const retryAfter = limited?.errors?.[0]?.extensions?.retryAfter;
    expect(typeof retryAfter).toBe('number');
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // Tenant B has its own budget, untouched by A's.
    const other = await api.request(PROJECTS, {}, { token: bToken });
    expect(codeOf(other)).toBeUndefined();
    expect(other.data).toEqual({ projects: { totalCount: 1 } });
  });

  it('naming a tenant you do not belong to spends nothing of its budget', async () => {
    const outsider = await api.app.deps.tokens.signAccess(a.users.owner, undefined);
    for (let i = 0; i < 10; i++) {
      const result = await api.request(
        PROJECTS,
        {},
        { token: outsider, headers: { 'x-tenant-id': b.id } },
      );
      expect(codeOf(result)).toBe('FORBIDDEN');
    }
    const bToken = await api.app.deps.tokens.signAccess(b.users.owner, b.id);
    expect(codeOf(await api.request(PROJECTS, {}, { token: bToken }))).toBeUndefined();
  });

  it('an unlimited (enterprise) tenant is never limited', async () => {
    const c = await seedTenant(db.ownerUrl, 'C');
    await superuser.query(`update app.tenants set plan = 'enterprise' where id = $1`, [c.id]);
    const token = await api.app.deps.tokens.signAccess(c.users.member, c.id);
    const results = await Promise.all(
      Array.from({ length: 30 }, () => api.request(PROJECTS, {}, { token })),
    );
    expect(results.every((r) => codeOf(r) === undefined)).toBe(true);
  });
});
