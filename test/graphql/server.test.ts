import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/app.js';

let db: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

describe('the GraphQL endpoint', () => {
  it('answers a query that touches no table', async () => {
    expect(await api.request('{ __typename }')).toEqual({
      status: 200,
      data: { __typename: 'Query' },
    });
  });

  it('answers me with null for anonymous callers', async () => {
    expect((await api.request('{ me { id } }')).data).toEqual({ me: null });
  });

  it('refuses a malformed or forged token with UNAUTHENTICATED and no data', async () => {
    for (const authorization of [
      'Bearer not-a-jwt',
      'Basic abc',
      'Bearer eyJhbGciOiJub25lIn0.e30.',
    ]) {
      const result = await api.request('{ me { id } }', undefined, { headers: { authorization } });
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.data ?? null).toBeNull();
    }
  });

  it('reports parse and validation errors with their codes and no stack traces', async () => {
    const parse = await api.request('{ me { id ');
    expect(parse.errors?.[0]?.extensions).toEqual({ code: 'GRAPHQL_PARSE_FAILED' });
    const validation = await api.request('{ nope }');
    expect(validation.errors?.[0]?.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });

  it('refuses a malformed tenant header with BAD_USER_INPUT naming the header', async () => {
    const result = await api.request('{ me { id } }', undefined, {
      headers: { 'x-tenant-id': 'not-a-uuid' },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'x-tenant-id',
    });
  });

  it('serves health and readiness', async () => {
    const base = api.url.replace('/graphql', '');
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('refuses an oversized body with 413', async () => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(1_100_000)}` }),
    });
    expect(response.status).toBe(413);
  });
});
