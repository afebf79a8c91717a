import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { callerFor, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { roundTrips } from '../support/round-trips.js';

// The planner answers read operations with one statement that builds their JSON in PostgreSQL
// (src/graphql/planner). Its answers must be graphql-js's, byte for byte: every operation here
// runs against a server with the planner and one without (QUERY_PLANNER=false) on the same
// database, and the two responses must be equal, in two tenants at once.

let db: TestDatabase;
let planned: TestApp;
let classic: TestApp;
let a: SeededTenant;
let b: SeededTenant;
/** A caller's response as the client receives it: status and body text. */
type RawCall = (query: string, variables?: Record<string, unknown>) => Promise<string>;
interface Callers {
  planned: Call;
  classic: Call;
  raw: { planned: RawCall; classic: RawCall };
}
let callA: Callers;
let callB: Callers;

async function rawCallerFor(api: TestApp, tenantId: string, userId: string): Promise<RawCall> {
  const token = await api.app.deps.tokens.signAccess(userId, undefined);
  return async (query, variables) => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-tenant-id': tenantId,
      },
      body: JSON.stringify({ query, variables }),
    });
    return `${response.status} ${await response.text()}`;
  };
}

async function callersOf(tenantId: string, userId: string): Promise<Callers> {
  return {
    planned: await callerFor(planned, tenantId, userId),
    classic: await callerFor(classic, tenantId, userId),
    raw: {
      planned: await rawCallerFor(planned, tenantId, userId),
      classic: await rawCallerFor(classic, tenantId, userId),
    },
  };
}
const projectsOfA: string[] = [];
const tasksOfA: string[] = [];

/** Projects with 0–25 tasks, tasks with 0–12 comments, ties on created_at, due dates, nulls. */
async function seedWork(client: pg.Client, tenant: SeededTenant, projects: number, into: string[]) {
  const statuses = ['TODO', 'IN_PROGRESS', 'DONE'];
  const priorities = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];
  for (let p = 0; p < projects; p++) {
    const projectId = randomUUID();
    into.push(projectId);
    await client.query(
      `insert into app.projects (tenant_id, id, key, name, description, created_by, created_at)
       values ($1, $2, $3, $4, $5, $6, now() - make_interval(days => $7))`,
      [
        tenant.id,
        projectId,
        `K${p}X`,
        `Project "${p}" of ${tenant.slug}`,
        `Line one\nline 'two' ${p}`,
        tenant.users.owner,
        p,
      ],
    );
    const taskCount = [0, 25, 21, 20, 3][p % 5] ?? 3;
    for (let t = 0; t < taskCount; t++) {
      const taskId = randomUUID();
      tasksOfA.push(taskId);
      // Every third task shares its created_at with the previous one: ids break the tie.
      await client.query(
        `insert into app.tasks (tenant_id, id, project_id, title, description, status, priority,
                                due_date, assignee_id, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 timestamptz '2026-01-01 00:00:00.123456+00' + make_interval(secs => $11))`,
        [
          tenant.id,
          taskId,
          projectId,
          // Everything JSON escapes: quotes, backslashes, control characters; and beyond ASCII.
          `Task ${t} ✓ "quoted" \\ back\t\u0001\u001f 😀 \u2028`,
          t % 2 ? '' : `Details ${t}`,
          statuses[t % 3],
          priorities[t % 4],
          t % 4 === 0 ? null : `2027-0${(t % 9) + 1}-1${t % 10}`,
          t % 5 === 0 ? null : tenant.users.member,
          tenant.users.owner,
          t - (t % 3 === 2 ? 1 : 0),
        ],
      );
      for (let c = 0; c < (t * 5) % 13; c++) {
        await client.query(
          `insert into app.comments (tenant_id, id, task_id, author_id, body, created_at)
           values ($1, $2, $3, $4, $5, timestamptz '2026-02-01 10:00:00.000001+00' + make_interval(secs => $6))`,
          [tenant.id, randomUUID(), taskId, tenant.users.member, `Comment ${c} on ${t}`, c % 4],
        );
      }
    }
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  try {
    await seedWork(client, a, 5, projectsOfA);
    await seedWork(client, b, 3, []);
  } finally {
    await client.end();
  }
  [planned, classic] = await Promise.all([
    startTestApp(db),
    startTestApp(db, { QUERY_PLANNER: 'false' }),
  ]);
  callA = await callersOf(a.id, a.users.viewer);
  callB = await callersOf(b.id, b.users.member);
}, 120_000);

afterAll(async () => {
  await Promise.all([planned?.close(), classic?.close()]);
  await db?.drop();
});

/** Runs the operation on both servers; returns whether the planner answered it. */
async function same(
  call: Callers,
  query: string,
  variables?: Record<string, unknown>,
): Promise<boolean> {
  let fromPlanner = '';
  const statements = await roundTrips(async () => {
    fromPlanner = await call.raw.planned(query, variables);
  });
  const fromGraphql = await call.raw.classic(query, variables);
  expect(fromPlanner).toBe(fromGraphql);
  return statements.some((s) => s.includes(' as data'));
}

const REFERENCE = `query Reference($projectId: ID!) { project(id: $projectId) { tasks(first: 20) {
  edges { node { title status comments(first: 10) { edges { node { body } } } } } } } }`;

describe('planned reads equal graphql-js', () => {
  it('the reference operation, for every project of the tenant and for a missing one', async () => {
    for (const projectId of [...projectsOfA, randomUUID()]) {
      expect(await same(callA, REFERENCE, { projectId })).toBe(true);
    }
  });

  it("another tenant's project, task and lists stay out of reach", async () => {
    for (const projectId of projectsOfA) {
      expect(await same(callB, REFERENCE, { projectId })).toBe(true);
      const asB = await callB.planned(REFERENCE, { projectId });
      expect(asB.data).toEqual({ project: null });
      const tasks = await callB.planned(
        `query($p: ID!) { tasks(projectId: $p) { totalCount edges { node { id } } } }`,
        { p: projectId },
      );
      expect(tasks.data).toEqual({ tasks: { totalCount: 0, edges: [] } });
    }
    for (const id of tasksOfA.slice(0, 5)) {
      const task = await callB.planned(`query($id: ID!) { task(id: $id) { id title } }`, { id });
      expect(task.data).toEqual({ task: null });
    }
  });

  it('every field, aliases, fragments, __typename, page info, counts and page sizes', async () => {
    const query = `
      fragment TaskBits on Task { id title description status priority dueDate createdAt updatedAt }
      query Everything($id: ID!, $n: Int = 3, $none: Int) {
        __typename
        one: project(id: $id) {
          __typename id key name description status createdAt updatedAt
          tasks(first: $n) {
            __typename totalCount
            pageInfo { __typename hasNextPage hasPreviousPage }
            edges { __typename node { ...TaskBits title
              ... on Task { comments(first: 100) { totalCount pageInfo { hasNextPage }
                edges { node { __typename id body createdAt updatedAt } } } } } }
          }
          more: tasks(first: $none) { pageInfo { next: hasNextPage } edges { node { id } } }
        }
        projects(first: 2) { totalCount pageInfo { hasNextPage } edges { node { id name } } }
        all: projects { edges { node { key tasks(first: 1) { edges { node { title } } } } } }
      }`;
    for (const id of projectsOfA) expect(await same(callA, query, { id })).toBe(true);
    expect(await same(callA, query, { id: projectsOfA[1], n: 25, none: 100 })).toBe(true);
  });

  it('task(id) and tasks(projectId) at the top level', async () => {
    for (const id of tasksOfA.slice(0, 8)) {
      expect(
        await same(
          callA,
          `query($id: ID!) { task(id: $id) { title dueDate comments(first: 2) { totalCount
             pageInfo { hasNextPage hasPreviousPage } edges { node { body } } } } }`,
          { id },
        ),
      ).toBe(true);
    }
    for (const projectId of projectsOfA) {
      expect(
        await same(
          callA,
          `query($projectId: ID!) { tasks(projectId: $projectId, first: 7) { totalCount
             pageInfo { hasNextPage } edges { node { title priority } } } }`,
          { projectId },
        ),
      ).toBe(true);
    }
  });

  it('what the planner leaves to graphql-js gets the same answer and the same errors', async () => {
    const [projectId] = projectsOfA;
    const cases: [string, Record<string, unknown>?][] = [
      [`{ projects(first: 0) { totalCount } }`],
      [`{ projects(first: 101) { totalCount } }`],
      [`{ project(id: "not-a-uuid") { id } }`],
      [`{ projects(after: "garbage") { totalCount } }`],
      [`{ projects(filter: { status: DRAFT }) { edges { node { id } } } }`],
      [`query($id: ID!) { project(id: $id) { allowedTransitions } }`, { id: projectId }],
      [
        `query($id: ID!, $s: Boolean!) { project(id: $id) { id @include(if: $s) } }`,
        { id: projectId, s: true },
      ],
      [`{ projects(after: "WyJUSVRMRSIsIngiLCJ4Il0") { totalCount } }`],
      [`{ me { id } projects { totalCount } }`],
    ];
    for (const [query, variables] of cases) {
      expect(await same(callA, query, variables)).toBe(false);
    }
  });

  it('filters, orderings and backward pages go to graphql-js, with the same answers', async () => {
    type BackPage = {
      project: {
        tasks: {
          pageInfo: { hasPreviousPage: boolean; startCursor: string | null };
          edges: { node: { id: string } }[];
        };
      };
    };
    const [, projectId] = projectsOfA;
    const read = `query($id: ID!, $f: TaskFilter, $s: [TaskOrder!], $last: Int, $before: String) {
      project(id: $id) { tasks(filter: $f, sort: $s, last: $last, before: $before) { totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id title priority dueDate
          comments(last: 2) { pageInfo { hasPreviousPage } edges { node { body } } } } } } } }`;
    const variants: Record<string, unknown>[] = [
      { f: { priority: { gte: 'HIGH' } } },
      { f: { assignee: { isNull: true }, or: [{ title: { contains: '"quoted"' } }] } },
      { s: [{ field: 'PRIORITY', direction: 'DESC' }, { field: 'DUE_DATE' }] },
      { last: 4 },
      { f: { not: { statusIs: { eq: 'DONE' } } }, s: [{ field: 'DUE_DATE' }], last: 3 },
    ];
    for (const variables of variants) {
      expect(await same(callA, read, { id: projectId, ...variables })).toBe(false);
      const answer = await callA.planned<{ project: { tasks: { totalCount: number } } }>(read, {
        id: projectId,
        ...variables,
      });
      expect(answer.errors).toBeUndefined();
    }
    // Page back from the end with the cursors graphql-js gives: the planner's answer without
    // those arguments is the same list.
    const plain = await callA.planned<{
      project: { tasks: { edges: { node: { id: string } }[] } };
    }>(`query($id: ID!) { project(id: $id) { tasks(first: 100) { edges { node { id } } } } }`, {
      id: projectId,
    });
    const ids: string[] = [];
    let before: string | null = null;
    for (let turn = 0; turn < 10; turn++) {
      const page: GraphQLResult<BackPage> = await callA.planned<BackPage>(read, {
        id: projectId,
        last: 7,
        before,
      });
      const tasks = page.data!.project.tasks;
      ids.unshift(...tasks.edges.map((e) => e.node.id));
      if (!tasks.pageInfo.hasPreviousPage) break;
      before = tasks.pageInfo.startCursor;
    }
    expect(ids).toEqual(plain.data!.project.tasks.edges.map((e) => e.node.id));
    // And the planner's own cursors page on, backward, through graphql-js.
    const planned = await callA.planned<{
      project: { tasks: { pageInfo: { endCursor: string } } };
    }>(`query($id: ID!) { project(id: $id) { tasks(first: 5) { pageInfo { endCursor } } } }`, {
      id: projectId,
    });
    const back = `query($id: ID!, $before: String) { project(id: $id) { tasks(last: 2, before: $before) {
      edges { node { id } } } } }`;
    const variables = { id: projectId, before: planned.data!.project.tasks.pageInfo.endCursor };
    expect(await same(callA, back, variables)).toBe(false);
    const earlier = await callA.planned<{
      project: { tasks: { edges: { node: { id: string } }[] } };
    }>(back, variables);
    expect(earlier.data!.project.tasks.edges.map((e) => e.node.id)).toEqual(ids.slice(2, 4));
  });

  it('leaves aggregates, node lookup and search to graphql-js, with the same answers', async () => {
    const [projectId] = projectsOfA;
    const cases: [string, Record<string, unknown>?][] = [
      [
        `query($id: ID!) { project(id: $id) { name taskStats { total overdue
            byStatus { status count } byAssignee { count user { id } } } } }`,
        { id: projectId },
      ],
      [`{ projects { edges { node { id taskStats { total } } } } }`],
      [`query($id: ID!) { node(id: $id) { id ... on Project { name } } }`, { id: projectId }],
      [`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [projectId, tasksOfA[0]] }],
      [`query($id: ID!) { project(id: $id) { ... on Node { id } } }`, { id: projectId }],
      [`{ search(query: "task") { totalCount edges { node { ... on Task { title } } } } }`],
    ];
    for (const [query, variables] of cases) {
      expect(await same(callA, query, variables)).toBe(false);
    }
  });

  it('a tenant the caller may not use gets FORBIDDEN, as from graphql-js', async () => {
    const outsider = await callersOf(b.id, a.users.owner);
    expect(await same(outsider, REFERENCE, { projectId: projectsOfA[1] })).toBe(true);
    const result = await outsider.planned(REFERENCE, { projectId: projectsOfA[1] });
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Every reading root field fails, in order; a non-null one (a connection) nulls the data.
    const id = projectsOfA[0];
    for (const query of [
      `query($id: ID!) { __typename a: project(id: $id) { name } b: task(id: $id) { title } }`,
      `query($id: ID!) { project(id: $id) { id } projects { totalCount } __typename }`,
    ]) {
      expect(await same(outsider, query, { id })).toBe(true);
    }
  });

  it('pages through every list forwards with cursors, as graphql-js does', async () => {
    const page = `query($id: ID!, $n: Int, $after: String, $tasksAfter: String) {
      projects(first: $n, after: $after) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } }
      }
      project(id: $id) { tasks(first: $n, after: $tasksAfter) {
        pageInfo { hasPreviousPage hasNextPage endCursor startCursor }
        edges { cursor node { title comments(first: 2) { pageInfo { endCursor } edges { cursor } } } } } }
    }`;
    type Page = { pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    for (const n of [1, 2, 7]) {
      let after: string | null = null;
      let tasksAfter: string | null = null;
      const seen: string[] = [];
      for (let turn = 0; turn < 30; turn++) {
        const variables: Record<string, unknown> = { id: projectsOfA[1], n, after, tasksAfter };
        expect(await same(callA, page, variables)).toBe(true);
        const { data } = await callA.planned<{
          projects: Page & { edges: { node: { id: string } }[] };
          project: { tasks: Page & { edges: { node: { title: string } }[] } };
        }>(page, variables);
        seen.push(...data!.project.tasks.edges.map((e) => e.node.title));
        const more =
          data!.projects.pageInfo.hasNextPage || data!.project.tasks.pageInfo.hasNextPage;
        if (!more) break;
        if (data!.projects.pageInfo.hasNextPage) after = data!.projects.pageInfo.endCursor;
        if (data!.project.tasks.pageInfo.hasNextPage) {
          tasksAfter = data!.project.tasks.pageInfo.endCursor;
        }
      }
      // Project 1 has 25 tasks: every one exactly once.
      expect(new Set(seen).size).toBe(25);
    }
  });

  it('random selections over projects, tasks and comments', async () => {
    const scalars = {
      Project: [
        'id',
        'key',
        'name',
        'description',
        'status',
        'createdAt',
        'updatedAt',
        '__typename',
      ],
      Task: [
        'id',
        'title',
        'description',
        'status',
        'priority',
        'dueDate',
        'createdAt',
        'updatedAt',
        '__typename',
      ],
      Comment: ['id', 'body', 'createdAt', 'updatedAt', '__typename'],
    } as const;
    const child = { Project: ['tasks', 'Task'], Task: ['comments', 'Comment'] } as const;
    // Rows a row points at: its author or assignee (users), its project or task.
    const refs = {
      Project: ['createdBy { id name email emailVerified createdAt __typename }'],
      Task: ['assignee { name emailVerified }', 'project { key name }'],
      Comment: ['author { email }', 'task { title assignee { id } }'],
    } as const;
    type Entity = keyof typeof scalars;
    const selection = (entity: Entity, depth: number): fc.Arbitrary<string> => {
      const fields = fc.subarray([...scalars[entity], ...refs[entity]], { minLength: 1 });
      const nested =
        entity in child && depth < 2
          ? fc.option(connection(child[entity as keyof typeof child], depth + 1), {
              nil: undefined,
            })
          : fc.constant(undefined);
      return fc.tuple(fields, nested).map(([f, n]) => [...f, ...(n ? [n] : [])].join(' '));
    };
    const connection = (
      [field, entity]: readonly [string, Entity],
      depth: number,
    ): fc.Arbitrary<string> =>
      fc
        .tuple(
          fc.integer({ min: 1, max: 30 }),
          fc.boolean(),
          fc.boolean(),
          selection(entity, depth),
          fc.constantFrom('', 'x: '),
        )
        .map(
          ([first, count, info, node, alias]) =>
            `${alias}${field}(first: ${first}) { ${count ? 'totalCount ' : ''}${
              info ? 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor } ' : ''
            }edges { ${first % 2 ? 'cursor ' : ''}node { ${node} } } }`,
        );
    await fc.assert(
      fc.asyncProperty(
        selection('Project', 0),
        fc.integer({ min: 0, max: projectsOfA.length - 1 }),
        async (fields, index) => {
          const query = `query($id: ID!) { project(id: $id) { ${fields} } }`;
          expect(await same(callA, query, { id: projectsOfA[index] })).toBe(true);
        },
      ),
      { numRuns: 60, seed: 17 },
    );
  });
});
