import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The app first: it loads reflect-metadata, which the decorated types limits.ts imports need.
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { QUERY_LIMITS } from '../../src/graphql/limits.js';
import { callerFor, errorCode, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

// Generous for a loaded 2-core CI machine; an unprotected server takes far longer or never answers.
const QUICKLY_MS = 2_000;

let db: TestDatabase;
let api: TestApp;
let production: TestApp;
let tenant: SeededTenant;
let asOwner: Call;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  production = await startTestApp(db, { NODE_ENV: 'production' });
  tenant = await seedTenant(db.ownerUrl, 'abuse');
  asOwner = await callerFor(api, tenant.id, tenant.users.owner);
});
afterAll(async () => {
  await api.close();
  await production.close();
  await db.drop();
});

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

/** Refused with `code` within the time bound, and the server answers right after. */
async function expectRefused(
  run: () => Promise<GraphQLResult<unknown>>,
  code: string,
  status = 400,
): Promise<GraphQLResult<unknown>> {
  const { result, ms } = await timed(run);
  expect(errorCode(result), JSON.stringify(result.errors)).toBe(code);
  expect(result.status).toBe(status);
  expect(result.data ?? null).toBeNull();
  expect(ms).toBeLessThan(QUICKLY_MS);
  const after = await timed(() => api.request('{ __typename }'));
  expect(after.result.data).toEqual({ __typename: 'Query' });
  expect(after.ms).toBeLessThan(QUICKLY_MS);
  return result;
}

/** `project(id) { tasks { edges { node { project { tasks … } } } } }`, `levels` fields deep. */
function deepQuery(levels: number): string {
  let inner = 'id';
  let depth = 1;
  while (depth + 4 <= levels) {
    inner = `tasks { edges { node { project { ${inner} } } } }`;
    depth += 4;
  }
  return `query($p: ID!) { project(id: $p) { ${inner} } }`;
}

describe('query limits', () => {
  it('refuses a query 50 levels deep with QUERY_TOO_DEEP', async () => {
    const result = await expectRefused(
      () => asOwner(deepQuery(50), { p: tenant.projectId }),
      'QUERY_TOO_DEEP',
    );
    expect(result.errors?.[0]?.extensions?.limit).toBe(QUERY_LIMITS.maxDepth);
  });

  it('answers a query just within the depth limit', async () => {
    // project → tasks → edges → node → project → … : 13 levels, under the limit of 15.
    const result = await asOwner(deepQuery(13), { p: tenant.projectId });
    expect(result.errors).toBeUndefined();
    expect(result.data?.project).toBeTruthy();
  });

  it('refuses 1,000 aliases of one field with TOO_MANY_ALIASES', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ');
    await expectRefused(() => asOwner(`{ ${aliases} }`), 'TOO_MANY_ALIASES');
  });

  it('refuses 6,000 copies of one field (no aliases) by its token count', async () => {
    // Without aliases the copies merge; validating such overlaps costs quadratic time unbounded.
    const copies = Array.from({ length: 6000 }, () => '__typename').join(' ');
    const result = await expectRefused(() => asOwner(`{ ${copies} }`), 'GRAPHQL_PARSE_FAILED');
    expect(result.errors?.[0]?.message).toMatch(`${QUERY_LIMITS.maxTokens} tokens`);
  });

  it('answers just under the token limit quickly too', async () => {
    // Whatever validation makes of thousands of copies of one field, it must not take long.
    const copies = Array.from({ length: QUERY_LIMITS.maxTokens - 10 }, () => '__typename');
    const { result, ms } = await timed(() => asOwner(`{ ${copies.join(' ')} }`));
    expect(result.status).toBeLessThan(500);
    expect(ms).toBeLessThan(QUICKLY_MS);
  });

  it('refuses many directives with TOO_MANY_DIRECTIVES', async () => {
    const directives = Array.from({ length: 50 }, () => '@include(if: true)').join(' ');
    await expectRefused(() => asOwner(`{ __typename ${directives} }`), 'TOO_MANY_DIRECTIVES');
  });

  it('refuses a 1 MB query with HTTP 413 before parsing it', async () => {
    const query = `{ __typename ${' '.repeat(1_048_576)} }`;
    await expectRefused(() => asOwner(query), 'BAD_USER_INPUT', 413);
  });

  it('refuses first: 1000000 with BAD_USER_INPUT on first', async () => {
    const { result, ms } = await timed(() =>
      asOwner(`query($p: ID!) { project(id: $p) { tasks(first: 1000000) { totalCount } } }`, {
        p: tenant.projectId,
      }),
    );
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions?.field).toBe('first');
    expect(ms).toBeLessThan(QUICKLY_MS);
  });

  it('refuses lists nested so that they could fetch a million rows with QUERY_TOO_COMPLEX', async () => {
    const query = `{ projects(first: 100) { edges { node { tasks(first: 100) { edges { node {
      comments(first: 100) { edges { node { body } } } } } } } } } }`;
    const result = await expectRefused(() => asOwner(query), 'QUERY_TOO_COMPLEX');
    expect(result.errors?.[0]?.extensions?.limit).toBe(QUERY_LIMITS.maxCost);
    // The page size given as a variable counts the same.
    await expectRefused(
      () =>
        asOwner(
          `query($n: Int) { projects(first: $n) { edges { node { tasks(first: $n) { edges { node {
            comments(first: $n) { edges { node { body } } } } } } } } } }`,
          { n: 100 },
        ),
      'QUERY_TOO_COMPLEX',
    );
  });

  it('answers the reference operation of the benchmark', async () => {
    const result = await asOwner(
      `query($p: ID!) { project(id: $p) { tasks(first: 20) { edges { node { title status
        comments(first: 10) { edges { node { body } } } } } } } }`,
      { p: tenant.projectId },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.project).toBeTruthy();
  });

  it('refuses deeply nested fragments with QUERY_TOO_DEEP', async () => {
    // F0 spreads F1 twice, F1 spreads F2 twice …: 2^30 paths if expanded naively.
    const levels = 30;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Task { id title }`
        : `fragment F${i} on Task { ...F${i + 1} project { tasks { edges { node { ...F${i + 1} } } } } }`,
    ).join('\n');
    const query = `query($t: ID!) { task(id: $t) { ...F0 } }\n${fragments}`;
    await expectRefused(() => asOwner(query, { t: tenant.taskId }), 'QUERY_TOO_DEEP');
  });

  it('refuses fragments that expand to too many fields with QUERY_TOO_COMPLEX', async () => {
    // Shallow but wide: each fragment spreads the next one twice under an alias-free field.
    const levels = 25;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Query { __typename }`
        : `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} currentTenant { __typename } }`,
    ).join('\n');
    await expectRefused(() => asOwner(`{ ...F0 }\n${fragments}`), 'QUERY_TOO_COMPLEX');
  });

  it('refuses a batched (array) request body', async () => {
    const { result, ms } = await timed(async () => {
      const response = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
      });
      return {
        status: response.status,
        ...((await response.json()) as Omit<GraphQLResult, 'status'>),
      };
    });
    expect(result.status).toBe(400);
    expect(errorCode(result)).toBe('BAD_REQUEST');
    expect(result.errors?.[0]?.message).toMatch(/batching/i);
    expect(ms).toBeLessThan(QUICKLY_MS);
  });
});

describe('field suggestions', () => {
  const typo = '{ projectz { totalCount } }';

  it('are given during development', async () => {
    const result = await api.request(typo);
    expect(errorCode(result)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.errors?.[0]?.message).toContain('Did you mean');
  });

  it('are hidden in production', async () => {
    const result = await production.request(typo);
    expect(errorCode(result)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(result.errors)).not.toContain('Did you mean');
    expect(JSON.stringify(result.errors)).not.toContain('projects');
  });
});
