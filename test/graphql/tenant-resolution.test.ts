import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { errorCode } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { ownerQuery } from '../support/callers.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;
const started: TestApp[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  // One user in both tenants, so only the resolution rules decide.
  await ownerQuery(
    db.ownerUrl,
    `insert into app.memberships (tenant_id, user_id, role) values ($1, $2, 'member')`,
    [b.id, a.users.member],
  );
});
afterAll(async () => {
  await Promise.all(started.map((api) => api.close()));
  await db.drop();
});

async function app(env: Record<string, string>) {
  const api = await startTestApp(db, env);
  started.push(api);
  const token = await api.app.deps.tokens.signAccess(a.users.member, undefined);
  return { api, token };
}

const CURRENT = '{ currentTenant { slug } }';

/** A POST with a chosen Host header, which fetch does not let callers set. */
function postWithHost(
  url: string,
  host: string,
  token: string,
): Promise<{ data?: unknown; errors?: unknown[] }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { host, 'content-type': 'application/json', authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(body) as { data?: unknown }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: CURRENT }));
  });
}

describe('tenant resolution settings', () => {
  it('TENANT_ALLOWLIST serves the listed tenants only', async () => {
    const { api, token } = await app({ TENANT_ALLOWLIST: a.slug });
    const ok = await api.request(CURRENT, undefined, { token, headers: { 'x-tenant-id': a.id } });
    expect(ok.data).toEqual({ currentTenant: { slug: a.slug } });
    const refused = await api.request(CURRENT, undefined, {
      token,
      headers: { 'x-tenant-id': b.id },
    });
    expect(errorCode(refused)).toBe('TENANT_NOT_ALLOWED');
  });

  it('subdomain resolution maps <slug>.TENANT_BASE_DOMAIN to the tenant', async () => {
    const { api, token } = await app({
      TENANT_RESOLUTION: 'subdomain',
      TENANT_BASE_DOMAIN: 'example.test',
    });
    expect(await postWithHost(api.url, `${b.slug}.example.test`, token)).toEqual({
      data: { currentTenant: { slug: b.slug } },
    });
    expect(await postWithHost(api.url, 'example.test', token)).toEqual({
      data: { currentTenant: null },
    });
  });

  it('ignores sources left out of TENANT_RESOLUTION and honours renamed headers', async () => {
    const { api, token } = await app({ TENANT_RESOLUTION: 'header', TENANT_HEADER: 'X-Org' });
    const viaQuery = await api.request('{ projects { totalCount } }', undefined, {
      token,
      search: `tenant=${a.slug}`,
    });
    expect(errorCode(viaQuery)).toBe('TENANT_REQUIRED');
    expect(viaQuery.errors?.[0]?.message).toContain('x-org');
    const viaRenamed = await api.request(CURRENT, undefined, { token, headers: { 'x-org': b.id } });
    expect(viaRenamed.data).toEqual({ currentTenant: { slug: b.slug } });
  });

  it('refuses two sources that name different tenants', async () => {
    const { api, token } = await app({});
    const result = await api.request(CURRENT, undefined, {
      token,
      headers: { 'x-tenant-id': a.id },
      search: `tenant=${b.id}`,
    });
    expect(errorCode(result)).toBe('TENANT_NOT_ALLOWED');
  });
});
