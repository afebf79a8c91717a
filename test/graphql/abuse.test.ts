import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The app first: it loads reflect-metadata, which the decorated types limits.ts imports need.
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { QUERY_LIMITS } from '../../src/graphql/limits.js';
import { liveClient } from '../live/client.js';
import { callerFor, errorCode, ownerQuery, type Call } from '../support/callers.js';
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
    expect(result.errors?.[0]?.extensions).toMatchObject({
      limit: 'depth',
      maximum: QUERY_LIMITS.maxDepth,
      measured: 50,
    });
  });

  it('answers a query just within the depth limit', async () => {
    // project → tasks → edges → node → project → … : 13 levels, under the limit of 15.
    const result = await asOwner(deepQuery(13), { p: tenant.projectId });
    expect(result.errors).toBeUndefined();
    expect(result.data?.project).toBeTruthy();
  });

  it('refuses 1,000 aliases of one field with TOO_MANY_ALIASES', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ');
    const result = await expectRefused(() => asOwner(`{ ${aliases} }`), 'TOO_MANY_ALIASES');
    expect(result.errors?.[0]?.extensions).toMatchObject({
      limit: 'aliases',
      maximum: QUERY_LIMITS.maxAliases,
      measured: 1000,
    });
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
    // projects 1 + 100 × (edges 1 + node 1 + tasks (1 + 100 × (edges, node, comments (1 + 100 × 3)))).
    expect(result.errors?.[0]?.extensions).toMatchObject({
      limit: 'cost',
      maximum: QUERY_LIMITS.maxCost,
      measured: 3_030_301,
    });
    expect(result.errors?.[0]?.message).toContain(String(QUERY_LIMITS.maxCost));
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

  it('counts a variable by its default value: refused when no variables are sent', async () => {
    const query = `query Q($n: Int = 100) { projects(first: $n) { edges { node { tasks(first: $n) {
      edges { node { comments(first: $n) { edges { node { body } } } } } } } } } }`;
    for (const variables of [undefined, {}]) {
      const result = await expectRefused(() => asOwner(query, variables), 'QUERY_TOO_COMPLEX');
      expect(result.errors?.[0]?.extensions).toMatchObject({ limit: 'cost', measured: 3_030_301 });
    }
  });

  it('keeps refusing a repeated document and weighs each request’s own variables', async () => {
    // A document without variables is weighed once and the figure kept; one with variables is
    // weighed per request.
    const fixed = `{ projects(first: 100) { edges { node { tasks(first: 100) { edges { node {
      comments(first: 100) { edges { node { body } } } } } } } } } }`;
    for (let i = 0; i < 3; i++) {
      const result = await expectRefused(() => asOwner(fixed), 'QUERY_TOO_COMPLEX');
      expect(result.errors?.[0]?.extensions?.measured).toBe(3_030_301);
    }
    const sized = `query Sized($n: Int) { projects(first: $n) { edges { node { tasks(first: $n) {
      edges { node { comments(first: $n) { edges { node { body } } } } } } } } } }`;
    for (const n of [2, 100, 2]) {
      const result = await asOwner(sized, { n });
      if (n === 2) expect(result.errors).toBeUndefined();
      else expect(errorCode(result)).toBe('QUERY_TOO_COMPLEX');
    }
  });

  it('counts fragments for the type they select on', async () => {
    const query = `query { projects(first: 100) { edges { node { ... on Project { ...T } } } } }
      fragment T on Project { tasks(first: 100) { edges { node { ...C } } } }
      fragment C on Task { comments(first: 100) { edges { node { body } } } }`;
    const result = await expectRefused(() => asOwner(query), 'QUERY_TOO_COMPLEX');
    expect(result.errors?.[0]?.extensions?.measured).toBe(3_030_301);
  });

  it('refuses a subscription whose selection costs too much, over WebSocket', async () => {
    const token = await api.app.deps.tokens.signAccess(tenant.users.owner, undefined);
    const client = liveClient(api, { authorization: `Bearer ${token}`, 'x-tenant-id': tenant.id });
    try {
      const received = client.subscribe(
        `subscription S($p: ID!, $n: Int = 100) { taskChanged(projectId: $p) { task {
          tasks: project { tasks(first: $n) { edges { node { title
            comments(first: $n) { edges { node { id body createdAt } } } } } } } } } }`,
        { p: tenant.projectId },
      );
      await received.ended;
      expect(received.results).toEqual([]);
      expect(received.errors?.[0]?.extensions).toMatchObject({
        code: 'QUERY_TOO_COMPLEX',
        limit: 'cost',
        maximum: QUERY_LIMITS.maxCost,
      });
      expect(received.errors?.[0]?.extensions?.measured).toBeGreaterThan(QUERY_LIMITS.maxCost);
      expect(api.app.live.hub.subscriberCount).toBe(0);
      // The depth limit holds there too, with its own code.
      const nested = 'project { tasks { edges { node { '.repeat(4) + 'id' + ' } } } }'.repeat(4);
      const deep = client.subscribe(
        `subscription ($p: ID!) { taskChanged(projectId: $p) { task { ${nested} } } }`,
        { p: tenant.projectId },
      );
      await deep.ended;
      expect(deep.errors?.[0]?.extensions).toMatchObject({
        code: 'QUERY_TOO_DEEP',
        limit: 'depth',
        maximum: QUERY_LIMITS.maxDepth,
        measured: 19,
      });
    } finally {
      await client.close();
    }
  });

  it('bounds Project.transitions: 50 unless asked, first up to 100, after continues', async () => {
    await ownerQuery(
      db.ownerUrl,
      `insert into app.project_transitions (tenant_id, project_id, from_status, to_status, created_at)
       select $1, $2, 'DRAFT', 'SUBMITTED', now() + n * interval '1 second'
         from generate_series(1, 150) n`,
      [tenant.id, tenant.projectId],
    );
    type Transitions = { project: { transitions: { id: string }[] } };
    const page = (args: string) =>
      asOwner<Transitions>(`query($p: ID!) { project(id: $p) { transitions${args} { id } } }`, {
        p: tenant.projectId,
      });
    // Clients from before `first` existed get the oldest 50.
    const old = await page('');
    expect(old.data?.project.transitions).toHaveLength(50);
    const hundred = await page('(first: 100)');
    expect(hundred.data?.project.transitions).toHaveLength(100);
    expect(hundred.data?.project.transitions.slice(0, 50)).toEqual(old.data?.project.transitions);
    const last = old.data?.project.transitions.at(-1)?.id ?? '';
    const next = await page(`(first: 100, after: "${last}")`);
    expect(next.data?.project.transitions).toHaveLength(100);
    expect(next.data?.project.transitions.slice(0, 50)).toEqual(
      hundred.data?.project.transitions.slice(50),
    );
    // Over the cap: refused like every page size, never silently cut.
    const over = await page('(first: 101)');
    expect(errorCode(over)).toBe('BAD_USER_INPUT');
    expect(over.errors?.[0]?.extensions?.field).toBe('first');
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

describe('configured limits', () => {
  it('refuses a small query over a low QUERY_MAX_COST, naming the configured number', async () => {
    const strict = await startTestApp(db, { QUERY_MAX_COST: '500', QUERY_MAX_DEPTH: '4' });
    try {
      const call = await callerFor(strict, tenant.id, tenant.users.owner);
      // members are counted as the 250 the largest limited plan allows: 1 + 250 × 2.
      const members = await call('{ members { role joinedAt } }');
      expect(members.status).toBe(400);
      expect(members.errors?.[0]?.extensions).toMatchObject({
        code: 'QUERY_TOO_COMPLEX',
        limit: 'cost',
        maximum: 500,
        measured: 501,
      });
      expect(members.errors?.[0]?.message).toContain('500');
      expect((await call('{ members { role } }')).errors).toBeUndefined();
      const deep = await call('{ projects { edges { node { tasks { totalCount } } } } }');
      expect(deep.errors?.[0]?.extensions).toMatchObject({
        code: 'QUERY_TOO_DEEP',
        maximum: 4,
        measured: 5,
      });
    } finally {
      await strict.close();
    }
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
