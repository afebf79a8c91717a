import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, errorField, type Call } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { roundTrips } from '../support/round-trips.js';
import { migrate, MigrationError } from '../../src/db/migrate.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let callA: Call;
let callB: Call;
let owner: pg.Client;

const SEARCH = `query($q: String!, $first: Int, $after: String, $last: Int, $before: String,
                       $types: [SearchableType!]) {
  search(query: $q, first: $first, after: $after, last: $last, before: $before, types: $types) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor rank exactMatch node { __typename
      ... on Project { id name } ... on Task { id title } ... on Comment { id body } } }
  }
}`;

interface Hit {
  __typename: string;
  id: string;
  name?: string;
  title?: string;
  body?: string;
}
interface SearchResult {
  search: {
    totalCount: number;
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    };
    edges: { cursor: string; rank: number; exactMatch: boolean; node: Hit }[];
  };
}

async function insertTask(tenant: SeededTenant, title: string, description = ''): Promise<string> {
  const id = randomUUID();
  await owner.query(
    `insert into app.tasks (tenant_id, id, project_id, title, description) values ($1, $2, $3, $4, $5)`,
    [tenant.id, id, tenant.projectId, title, description],
  );
  return id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'srchA'), seedTenant(db.ownerUrl, 'srchB')]);
  callA = await callerFor(api, a.id, a.users.viewer);
  callB = await callerFor(api, b.id, b.users.viewer);
  // The same words in both tenants.
  for (const tenant of [a, b]) {
    await owner.query(
      `update app.projects set description = 'Quarterly invoice reconciliation' where tenant_id = $1`,
      [tenant.id],
    );
    await insertTask(tenant, 'Invoice export', 'Export every invoice as PDF');
    await insertTask(tenant, 'Fix invoice totals', 'invoice invoice invoice rounding');
    await owner.query(
      `insert into app.comments (tenant_id, task_id, body) values ($1, $2, 'The invoice PDF is blank')`,
      [tenant.id, tenant.taskId],
    );
  }
});
afterAll(async () => {
  await owner?.end();
  await api?.close();
  await db?.drop();
});

async function searchAll(call: Call, q: string, first: number, types?: string[]): Promise<Hit[]> {
  const seen: Hit[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page++) {
    const result: Awaited<ReturnType<typeof call<SearchResult>>> = await call<SearchResult>(
      SEARCH,
      {
        q,
        first,
        after,
        types,
      },
    );
    expect(result.errors).toBeUndefined();
    const { edges, pageInfo } = result.data!.search;
    expect(pageInfo.hasPreviousPage).toBe(after !== null);
    seen.push(...edges.map((e) => e.node));
    if (!pageInfo.hasNextPage) return seen;
    after = pageInfo.endCursor;
  }
  throw new Error('too many pages');
}

/** Every hit, read backward from the end with `last`/`before`, in list order. */
async function searchAllBackward(call: Call, q: string, last: number): Promise<Hit[]> {
  const pages: Hit[][] = [];
  let before: string | null = null;
  for (let page = 0; page < 100; page++) {
    const result: Awaited<ReturnType<typeof call<SearchResult>>> = await call<SearchResult>(
      SEARCH,
      { q, last, before },
    );
    expect(result.errors).toBeUndefined();
    const { edges, pageInfo } = result.data!.search;
    expect(pageInfo.hasNextPage).toBe(before !== null);
    pages.unshift(edges.map((e) => e.node));
    if (!pageInfo.hasPreviousPage) return pages.flat();
    before = pageInfo.startCursor;
  }
  throw new Error('too many pages');
}

describe('search', () => {
  it("finds the current tenant's projects, tasks and comments, never the other's", async () => {
    for (const [call, tenant] of [
      [callA, a],
      [callB, b],
    ] as const) {
      const result = await call<SearchResult>(SEARCH, { q: 'invoice' });
      expect(result.errors).toBeUndefined();
      const { edges, totalCount } = result.data!.search;
      expect(totalCount).toBe(4);
      expect(edges.map((e) => e.node.__typename).sort()).toEqual([
        'Comment',
        'Project',
        'Task',
        'Task',
      ]);
      const label = tenant === a ? 'srchA' : 'srchB';
      const project = edges.find((e) => e.node.__typename === 'Project')?.node;
      expect(project).toEqual({
        __typename: 'Project',
        id: tenant.projectId,
        name: `${label} project`,
      });
      // Ranked, best first.
      const ranks = edges.map((e) => e.rank);
      expect([...ranks].sort((x, y) => y - x)).toEqual(ranks);
    }
  });

  it('ranks an exact title match first, whatever the other hits score', async () => {
    // A long description dilutes the exact match's own rank (normalised by length).
    const filler = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    await insertTask(a, 'rounding', filler);
    await insertTask(a, 'Rounding rounding rounding', 'rounding rounding rounding');
    const result = await callA<SearchResult>(SEARCH, { q: ' Rounding ' });
    expect(result.errors).toBeUndefined();
    const [top, ...rest] = result.data!.search.edges;
    expect(top).toMatchObject({ exactMatch: true, node: { title: 'rounding' } });
    expect(rest.length).toBeGreaterThanOrEqual(2);
    expect(rest.every((e) => !e.exactMatch && e.rank <= (rest[0]?.rank ?? 0))).toBe(true);
    // Without the exact match the densest text would have ranked first.
    expect(rest[0].rank).toBeGreaterThan(top.rank);
  });

  it('pages through every hit exactly once in order, for any page size', async () => {
    for (let i = 0; i < 23; i++)
      await insertTask(a, `Paging ${i % 4 === 0 ? 'alpha alpha' : 'alpha'}`);
    const all = await searchAll(callA, 'alpha', 100);
    expect(all).toHaveLength(23);
    for (const size of [1, 4, 7, 22]) {
      expect(await searchAll(callA, 'alpha', size)).toEqual(all);
      expect(await searchAllBackward(callA, 'alpha', size)).toEqual(all);
    }
    // A page between two cursors, read either way, is the hits strictly between them.
    const ends = await callA<SearchResult>(SEARCH, { q: 'alpha', first: 23 });
    const cursors = ends.data!.search.edges.map((e) => e.cursor);
    for (const [name, size] of [
      ['first', 30],
      ['last', 30],
      ['last', 3],
    ] as const) {
      const between = await callA<SearchResult>(SEARCH, {
        q: 'alpha',
        [name]: size,
        after: cursors[5],
        before: cursors[15],
      });
      expect(between.errors).toBeUndefined();
      const want = all.slice(6, 15);
      expect(between.data!.search.edges.map((e) => e.node)).toEqual(
        size >= want.length ? want : want.slice(-size),
      );
    }
  });

  it('searches only the types asked for', async () => {
    const hits = await searchAll(callA, 'invoice', 10, ['COMMENT', 'PROJECT']);
    expect(hits.map((h) => h.__typename).sort()).toEqual(['Comment', 'Project']);
    expect(await searchAll(callA, 'invoice', 10, [])).toEqual([]);
  });

  it('supports web-search syntax: phrases and excluded words', async () => {
    const phrase = await searchAll(callA, '"invoice totals"', 10);
    expect(phrase.map((h) => h.title)).toEqual(['Fix invoice totals']);
    const without = await searchAll(callA, 'invoice -export -pdf', 10, ['TASK']);
    expect(without.map((h) => h.title)).toEqual(['Fix invoice totals']);
  });

  it('runs one statement for the hits, naming the tenant, and ts_headline only when asked', async () => {
    const statements = (
      await roundTrips(async () => {
        expect((await callA(SEARCH, { q: 'invoice' })).errors).toBeUndefined();
      })
    ).flatMap((t) => t.split(' + '));
    const hits = statements.filter((s) => s.includes('ts_rank'));
    expect(hits).toHaveLength(2); // the page, and totalCount
    for (const statement of hits) {
      expect(statement.match(/"tenant_id" = \$\d+/g)).toHaveLength(3);
    }
    expect(statements.filter((s) => s.includes('ts_headline'))).toEqual([]);
  });

  // On a Citus cluster the rows and the ANALYZE of this uncommitted transaction are not in the
  // shard's statistics, so its plan says nothing about the index (the search itself is routed to
  // one shard: test/citus checks router plans).
  it.skipIf(CITUS_TEST_URL)(
    "reads the tenant's matches through the GIN index leading with tenant_id",
    async () => {
      await owner.query('begin');
      try {
        // Thousands of other tasks in both tenants, in a transaction rolled back afterwards.
        for (const tenant of [a, b]) {
          await owner.query(
            `insert into app.tasks (tenant_id, project_id, title)
           select $1, $2, 'filler ' || i from generate_series(1, 3000) i`,
            [tenant.id, tenant.projectId],
          );
        }
        // As autovacuum would have by then: the new entries out of GIN's pending list.
        await owner.query(`select gin_clean_pending_list('app.tasks_search_idx')`);
        await owner.query('analyze app.tasks');
        const { rows } = await owner.query<{ 'QUERY PLAN': string }>(
          `explain select id from app.tasks
          where tenant_id = $1 and search_vector @@ websearch_to_tsquery('app.search', 'invoice')`,
          [a.id],
        );
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan).toContain('tasks_search_idx');
        expect(plan).toMatch(/Index Cond: \(\(tenant_id = .*search_vector @@/s);
      } finally {
        await owner.query('rollback');
      }
    },
  );

  it('highlights the matching words only when asked', async () => {
    const result = await callA<{
      search: { edges: { highlight: { text: string; match: boolean }[]; node: Hit }[] };
    }>(
      `{ search(query: "PDF", types: [COMMENT]) { edges { highlight { text match } node {
          ... on Comment { body } } } } }`,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.search.edges).toEqual([
      {
        node: { body: 'The invoice PDF is blank' },
        highlight: [
          { text: 'The invoice ', match: false },
          { text: 'PDF', match: true },
          { text: ' is blank', match: false },
        ],
      },
    ]);
  });

  it('answers a query of punctuation only with no hits, and refuses blank or long ones', async () => {
    expect(await searchAll(callA, '!!! ??', 10)).toEqual([]);
    for (const q of ['', '   ', 'x'.repeat(201)]) {
      const result = await callA(SEARCH, { q });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(errorField(result)).toBe('query');
    }
  });

  it('refuses a cursor of another search, or a forged one, with BAD_USER_INPUT on after or before', async () => {
    const first = await callA<SearchResult>(SEARCH, { q: 'alpha', first: 2 });
    const cursor = first.data!.search.pageInfo.endCursor;
    const forged = Buffer.from(
      JSON.stringify(['SEARCH', 'x', 1, '1; drop table x', randomUUID()]),
    ).toString('base64url');
    for (const [q, after] of [
      ['invoice', cursor],
      ['alpha', forged],
      ['alpha', 'garbage'],
    ]) {
      const result = await callA(SEARCH, { q, after });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(errorField(result)).toBe('after');
      const backward = await callA(SEARCH, { q, last: 2, before: after });
      expect(errorCode(backward)).toBe('BAD_USER_INPUT');
      expect(errorField(backward)).toBe('before');
    }
  });

  it('a caller who is not a member of the tenant gets FORBIDDEN', async () => {
    const outsider = await callerFor(api, a.id, b.users.owner);
    expect(errorCode(await outsider(SEARCH, { q: 'invoice' }))).toBe('FORBIDDEN');
  });

  // Last: it changes the language of this file's database.
  it('SEARCH_LANGUAGE, applied by migrating, stems words and drops stop words', async () => {
    expect(await searchAll(callA, 'invoices', 10)).toEqual([]);
    const trips = await roundTrips(() => migrate(db.ownerUrl, { searchLanguage: 'english' }));
    expect(trips.some((t) => t.includes('set_search_language'))).toBe(true);
    const stemmed = await searchAll(callA, 'invoices', 10);
    expect(stemmed).toHaveLength(4);
    expect(await searchAll(callA, 'the', 10)).toEqual([]);
    // Vectors of rows written after the change use it too; the other tenant's stay out.
    await insertTask(a, 'Exports pending');
    expect((await searchAll(callA, 'exporting', 10)).map((h) => h.title).sort()).toEqual([
      'Exports pending',
      'Invoice export',
    ]);
    await owner.query('set role tenantql_owner');
    const { rows } = await owner.query<{ changed: boolean }>(
      `select app.set_search_language('english') as changed`,
    );
    await owner.query('reset role');
    const changed = rows[0]?.changed;
    expect(changed).toBe(false);
    await expect(migrate(db.ownerUrl, { searchLanguage: 'klingon' })).rejects.toThrow(
      MigrationError,
    );
    expect(await searchAll(callA, 'invoices', 10)).toHaveLength(4);
  });
});
