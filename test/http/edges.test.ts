import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** Log lines written by the app, parsed. */
function captureLog() {
  const lines: { msg: string; level: number; [key: string]: unknown }[] = [];
  const log = createLogger('info', {
    destination: { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[0]) },
  });
  return { log, lines };
}

async function post(api: TestApp, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as {
    errors?: { extensions?: Record<string, unknown> }[];
  };
  return { response, body, code: body.errors?.[0]?.extensions?.code };
}

const LOGIN = `mutation { login(input: { email: "nobody@example.com", password: "wrong-password" }) {
  token } }`;

describe('per-address budgets over IPv6', () => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp(db, {
      TRUST_PROXY: 'true',
      LOGIN_ADDRESS_ATTEMPTS: '2',
      LOGIN_ACCOUNT_ATTEMPTS: '100000',
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  const loginFrom = (address: string) => post(api, LOGIN, { 'x-forwarded-for': address });

  it('share one budget within a /64, each /64 its own, IPv4 per address', async () => {
    expect((await loginFrom('2001:db8:1:2::1')).code).toBe('UNAUTHENTICATED');
    expect((await loginFrom('2001:db8:1:2::beef')).code).toBe('UNAUTHENTICATED');
    const third = await loginFrom('2001:db8:1:2:ffff:ffff:ffff:ffff');
    expect(third.code).toBe('RATE_LIMITED');
    // Another /64 of the same /48 is another client.
    expect((await loginFrom('2001:db8:1:3::1')).code).toBe('UNAUTHENTICATED');

    expect((await loginFrom('192.0.2.1')).code).toBe('UNAUTHENTICATED');
    expect((await loginFrom('192.0.2.1')).code).toBe('UNAUTHENTICATED');
    expect((await loginFrom('::ffff:192.0.2.1')).code).toBe('RATE_LIMITED');
    expect((await loginFrom('192.0.2.2')).code).toBe('UNAUTHENTICATED');
  });

  it('answers 429 with Retry-After, the seconds of extensions.retryAfter', async () => {
    await loginFrom('2001:db8:9::1');
    await loginFrom('2001:db8:9::2');
    const { response, body, code } = await loginFrom('2001:db8:9::3');
    expect(code).toBe('RATE_LIMITED');
    expect(response.status).toBe(429);
    const retryAfter = body.errors?.[0]?.extensions?.retryAfter;
    expect(typeof retryAfter).toBe('number');
    expect(response.headers.get('retry-after')).toBe(String(retryAfter));
  });

  it('answers 401 with a Bearer challenge, invalid_token when a token was refused', async () => {
    const wrongPassword = await loginFrom('198.51.100.1');
    expect(wrongPassword.response.status).toBe(401);
    expect(wrongPassword.response.headers.get('www-authenticate')).toBe('Bearer');

    const noToken = await post(api, '{ myTenants { id } }');
    expect(noToken.code).toBe('UNAUTHENTICATED');
    expect(noToken.response.status).toBe(401);
    expect(noToken.response.headers.get('www-authenticate')).toBe('Bearer');

    for (const authorization of ['Bearer not-a-token', 'Basic dXNlcjpwYXNz']) {
      const refused = await post(api, '{ projects { totalCount } }', { authorization });
      expect(refused.code).toBe('UNAUTHENTICATED');
      expect(refused.response.status).toBe(401);
      expect(refused.response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
    // Other answers carry no challenge.
    const ok = await post(api, '{ __typename }');
    expect(ok.response.status).toBe(200);
    expect(ok.response.headers.get('www-authenticate')).toBeNull();
  });
});

describe('X-Forwarded-For without TRUST_PROXY in production', () => {
  it('is logged once and flagged in /readyz, which stays ready', async () => {
    const { log, lines } = captureLog();
    const api = await startTestApp(db, { NODE_ENV: 'production' }, { log });
    const readyz = async () => {
      const response = await fetch(new URL('/readyz', api.url));
      expect(response.status).toBe(200);
      return (await response.json()) as { status: string; warning?: string };
    };
    const warnings = () => lines.filter((l) => l.msg.includes('TRUST_PROXY'));
    try {
      expect((await readyz()).warning).toBeUndefined();
      await post(api, '{ __typename }');
      expect(warnings()).toHaveLength(0);
      await post(api, '{ __typename }', { 'x-forwarded-for': '203.0.113.7' });
      await post(api, '{ __typename }', { 'x-forwarded-for': '203.0.113.8' });
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]?.level).toBe(40);
      const ready = await readyz();
      expect(ready.status).toBe('ready');
      expect(ready.warning).toMatch(/TRUST_PROXY/);
    } finally {
      await api.close();
    }
  });

  it('is not flagged when TRUST_PROXY is set', async () => {
    const { log, lines } = captureLog();
    const api = await startTestApp(db, { NODE_ENV: 'production', TRUST_PROXY: '1' }, { log });
    try {
      await post(api, '{ __typename }', { 'x-forwarded-for': '203.0.113.7' });
      const ready = (await (await fetch(new URL('/readyz', api.url))).json()) as object;
      expect(ready).not.toHaveProperty('warning');
      expect(lines.filter((l) => l.msg.includes('TRUST_PROXY'))).toHaveLength(0);
    } finally {
      await api.close();
    }
  });
});

describe('/metrics', () => {
  const TOKEN = 'metrics-token-0123456789';

  it('moves to METRICS_PORT and needs METRICS_TOKEN there', async () => {
    const port = await freePort();
    const api = await startTestApp(db, { METRICS_PORT: String(port), METRICS_TOKEN: TOKEN });
    try {
      expect(api.app.metricsUrl).toBe(`http://localhost:${port}/metrics`);
      const url = `http://127.0.0.1:${port}/metrics`;
      // No longer on the API port.
      expect((await fetch(new URL('/metrics', api.url))).status).toBe(404);
      const anonymous = await fetch(url);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await anonymous.text()).not.toContain('tenantql_');
      const wrong = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status).toBe(401);
      const scraped = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('tenantql_operations_total');
      expect((await fetch(`http://127.0.0.1:${port}/graphql`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });

  it('needs METRICS_TOKEN on the API port too', async () => {
    const api = await startTestApp(db, { METRICS_TOKEN: TOKEN });
    try {
      const url = new URL('/metrics', api.url);
      expect((await fetch(url)).status).toBe(401);
      const scraped = await fetch(url, { headers: { authorization: `bearer ${TOKEN}` } });
      expect(scraped.status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('refuses a METRICS_PORT that is no port', () => {
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ METRICS_PORT: 'metrics' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ QUERY_MAX_COST: '0' })).toThrow(/QUERY_MAX_COST/);
    expect(() => loadConfig({ QUERY_MAX_DEPTH: '-1' })).toThrow(/QUERY_MAX_DEPTH/);
    expect(() => loadConfig({ QUERY_MAX_TOKENS: 'lots' })).toThrow(/QUERY_MAX_TOKENS/);
  });
});

describe('/readyz with the database unreachable', () => {
  it('says "not ready" without the driver’s error, which goes to the log', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-readyz-'));
    const { log, lines } = captureLog();
    const closedPort = await freePort();
    const config = loadConfig({
      TENANTQL_DATA_DIR: dataDir,
      JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    });
    const app = await startApp({
      config,
      log,
      apiUrl: `postgres://tenantql_api:secret@127.0.0.1:${closedPort}/tenantql`,
      port: 0,
    });
    try {
      const response = await fetch(app.url.replace('/graphql', '/readyz'));
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ status: 'not ready', detail: 'database unreachable' });
      expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|tenantql_api/);
      expect(String(closedPort).length > 0 && text.includes(String(closedPort))).toBe(false);
      const logged = lines.find((l) => l.msg.startsWith('readiness'));
      expect(JSON.stringify(logged)).toMatch(/ECONNREFUSED/);
    } finally {
      await app.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
