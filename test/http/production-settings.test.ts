import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { clientAddress, parseTrustProxy, type TrustProxy } from '../../src/http/client-address.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let api: TestApp;
const lines: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(
    db,
    { CORS_ORIGINS: 'https://app.example.com, https://admin.example.com/', TRUST_PROXY: '1' },
    { log: createLogger('info', { destination: { write: (line: string) => lines.push(line) } }) },
  );
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

describe('CORS allowlist', () => {
  it('answers a preflight from a listed origin, naming the tenant header', async () => {
    const response = await fetch(api.url, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-tenant-id',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('access-control-allow-headers')).toContain('x-tenant-id');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('lets listed origins read answers and gives others no CORS headers', async () => {
    const post = (origin: string) =>
      fetch(api.url, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
    const listed = await post('https://admin.example.com');
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
    const other = await post('https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toContain('Origin');
    const preflight = await fetch(api.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('introspection', () => {
  it('is off in production unless INTROSPECTION_ENABLED=true', async () => {
    const query = '{ __schema { queryType { name } } }';
    const off = await startTestApp(db, { NODE_ENV: 'production' });
    const on = await startTestApp(db, { NODE_ENV: 'production', INTROSPECTION_ENABLED: 'true' });
    try {
      expect((await off.request(query)).errors?.[0]?.extensions?.code).toBe(
        'GRAPHQL_VALIDATION_FAILED',
      );
      expect((await on.request(query)).data).toEqual({
        __schema: { queryType: { name: 'Query' } },
      });
      expect((await api.request(query)).data).toBeTruthy();
    } finally {
      await off.close();
      await on.close();
    }
  });
});

describe('client addresses behind proxies', () => {
  it('logs the address the trusted proxy saw, not one the client claims', async () => {
    await api.request('query WhoCalls { __typename }', undefined, {
      headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.7', 'x-request-id': 'proxy-1' },
    });
    let line: { clientAddress?: string } | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = lines
        .map((l) => JSON.parse(l) as { requestId?: string; msg: string; clientAddress?: string })
        .find((l) => l.requestId === 'proxy-1' && l.msg === 'operation');
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(line?.clientAddress).toBe('203.0.113.7');
  });

  it('believes only as many hops, or only the proxies, it is told to', () => {
    const none = parseTrustProxy(undefined) as TrustProxy;
    const one = parseTrustProxy('1') as TrustProxy;
    const two = parseTrustProxy('2') as TrustProxy;
    const list = parseTrustProxy('10.0.0.1, 10.0.0.2') as TrustProxy;
    const xff = '6.6.6.6, 203.0.113.7, 10.0.0.2';
    expect(clientAddress('::ffff:10.0.0.1', xff, none)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', xff, one)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.1', xff, two)).toBe('203.0.113.7');
    expect(clientAddress('10.0.0.1', xff, list)).toBe('203.0.113.7');
    // A peer that is not a trusted proxy is the client, whatever it claims.
    expect(clientAddress('198.51.100.9', xff, list)).toBe('198.51.100.9');
    expect(clientAddress('10.0.0.1', undefined, one)).toBe('10.0.0.1');
    expect(parseTrustProxy('yes please')).toBeUndefined();
    expect(() => loadConfig({ TRUST_PROXY: 'sometimes' })).toThrow(/TRUST_PROXY/);
  });
});
