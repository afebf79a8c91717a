import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppSchema } from '../../src/graphql/schema.js';
import type { Projection } from '../../src/graphql/ahead.js';
import { COMMENT_PROJECTION } from '../../src/modules/comment/comment.service.js';
import { TASK_PROJECTION } from '../../src/modules/task/task.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { roundTrips } from '../support/round-trips.js';

// Pages fetched ahead carry only the columns the selected fields read (Projection): a field
// whose columns were left out would answer null or fail, so every field is checked here.

const TASK_FIELDS = `id title description status priority dueDate createdAt updatedAt
  project { id } assignee { id }`;
const COMMENT_FIELDS = 'id body createdAt updatedAt task { id } author { id }';

let db: TestDatabase;
let api: TestApp;
let tenant: SeededTenant;
let call: Call;

beforeAll(async () => {
  db = await createTestDatabase();
  tenant = await seedTenant(db.ownerUrl, 'Projected');
  // Tasks that differ in every column, nulls included, each with comments by different authors.
  await ownerQuery(
    db.ownerUrl,
    `with t as (
       insert into app.tasks (tenant_id, project_id, title, description, status, priority,
                              assignee_id, due_date, created_by)
       select $1, $2, 'task ' || i, 'about ' || i,
              (array['TODO','IN_PROGRESS','DONE'])[1 + i % 3],
              (array['LOW','MEDIUM','HIGH','URGENT'])[1 + i % 4],
              case when i % 2 = 0 then $3::uuid end,
              case when i % 3 = 0 then date '2027-01-01' + i end, $4
         from generate_series(1, 4) i
       returning id, tenant_id)
     insert into app.comments (tenant_id, task_id, author_id, body)
     select t.tenant_id, t.id, case when c % 2 = 0 then $3::uuid else $4::uuid end, 'comment ' || c
       from t, generate_series(1, 3) c`,
    [tenant.id, tenant.projectId, tenant.users.member, tenant.users.owner],
  );
  // The statements graphql-js's resolvers send: the planner (which would answer these reads
  // itself, see planner.test.ts) is off.
  api = await startTestApp(db, { QUERY_PLANNER: 'false' });
  call = await callerFor(api, tenant.id, tenant.users.viewer);
});
afterAll(async () => {
  await api?.close();
  await db.drop();
});

type Node = Record<string, unknown> & { id: string };
type Edges<T> = { edges: { node: T }[] };
type TaskNode = Node & { comments?: Edges<Node> };

async function tasksFetchedAhead(taskFields: string, commentFields: string) {
  const result = await call<{ project: { tasks: Edges<TaskNode> } }>(
    `query($id: ID!) { project(id: $id) { tasks(first: 10) { edges { node {
       ${taskFields} comments(first: 10) { edges { node { ${commentFields} } } } } } } } }`,
    { id: tenant.projectId },
  );
  expect(result.errors).toBeUndefined();
  return result.data!.project.tasks.edges.map((e) => e.node);
}

/** The same task read on its own: by id, its comments through their own loader, no projection. */
async function taskAlone(id: string) {
  const result = await call<{ task: TaskNode }>(
    `query($id: ID!) { task(id: $id) { ${TASK_FIELDS}
       comments(first: 10) { edges { node { ${COMMENT_FIELDS} } } } } }`,
    { id },
  );
  expect(result.errors).toBeUndefined();
  return result.data!.task;
}

const pick = (node: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.map((key) => [key, node[key]]));

describe('pages fetched ahead carry the selected columns only', () => {
  it('names a column for every field of Task and Comment', async () => {
    const schema = await buildAppSchema();
    for (const [name, projection] of [
      ['Task', TASK_PROJECTION],
      ['Comment', COMMENT_PROJECTION],
    ] as [string, Projection][]) {
      const type = schema.getType(name);
      if (!isObjectType(type)) throw new Error(`${name} is not an object type`);
      expect(Object.keys(projection.byField).sort()).toEqual(
        ['__typename', ...Object.keys(type.getFields())].sort(),
      );
      for (const columns of Object.values(projection.byField)) {
        for (const column of columns) expect(projection.all).toContain(column);
      }
    }
  });

  it('answers every field as the task read on its own does', async () => {
    const tasks = await tasksFetchedAhead(TASK_FIELDS, COMMENT_FIELDS);
    expect(tasks).toHaveLength(5);
    for (const task of tasks) expect(task).toEqual(await taskAlone(task.id));
    // The fixture's values differ, nulls included, so a missing column could not pass unseen.
    expect(new Set(tasks.map((t) => t.dueDate)).size).toBeGreaterThan(1);
    expect(new Set(tasks.map((t) => (t.assignee as Node | null)?.id ?? null)).size).toBe(2);
  });

  it('sends only the columns asked for, and each field still answers right', async () => {
    let tasks: TaskNode[] = [];
    const trips = await roundTrips(async () => {
      tasks = await tasksFetchedAhead('id title dueDate', 'id body');
    });
    const statement = trips.find((trip) => trip.includes('json_build_array')) ?? '';
    expect(statement).toContain('"c"."title"');
    expect(statement).toContain('"c"."due_date"');
    expect(statement).toContain('"c"."body"');
    for (const column of ['description', 'priority', 'assignee_id', 'author_id', 'updated_at'])
      expect(statement).not.toContain(`"c"."${column}"`);
    for (const task of tasks) {
      const alone = await taskAlone(task.id);
      expect(task).toEqual({
        ...pick(alone, ['id', 'title', 'dueDate']),
        comments: {
          edges: alone.comments!.edges.map((e) => ({ node: pick(e.node, ['id', 'body']) })),
        },
      });
    }
  });

  it('keeps apart the pages of aliases that select different fields', async () => {
    const result = await call<{
      a: { tasks: Edges<Node> };
      b: { tasks: Edges<Node> };
    }>(
      `query($id: ID!) {
         a: project(id: $id) { tasks(first: 10) { edges { node { id title } } } }
         b: project(id: $id) { tasks(first: 10) { edges { node { id description priority } } } }
       }`,
      { id: tenant.projectId },
    );
    expect(result.errors).toBeUndefined();
    for (const [alias, keys] of [
      ['a', ['id', 'title']],
      ['b', ['id', 'description', 'priority']],
    ] as const) {
      for (const { node } of result.data![alias].tasks.edges) {
        expect(node).toEqual(pick(await taskAlone(node.id), [...keys]));
      }
    }
  });

  it('reads fields through fragments as well', async () => {
    const result = await call<{ project: { tasks: Edges<TaskNode> } }>(
      `query($id: ID!) { project(id: $id) { tasks(first: 10) { edges { node { ...T } } } } }
       fragment T on Task { id ... on Task { priority } comments(first: 10) { ...C } }
       fragment C on CommentConnection { edges { node { id author { id } } } }`,
      { id: tenant.projectId },
    );
    expect(result.errors).toBeUndefined();
    for (const { node } of result.data!.project.tasks.edges) {
      const alone = await taskAlone(node.id);
      expect(node).toEqual({
        ...pick(alone, ['id', 'priority']),
        comments: {
          edges: alone.comments!.edges.map((e) => ({ node: pick(e.node, ['id', 'author']) })),
        },
      });
    }
  });

  it('computes sort keys only for pages whose cursors are read', async () => {
    const none = await roundTrips(() => tasksFetchedAhead('id', 'id'));
    expect(none.find((trip) => trip.includes('json_build_array'))).not.toContain('to_char');

    let tasks: TaskNode[] = [];
    const some = await roundTrips(async () => {
      const result = await call<{
        a: { tasks: Edges<TaskNode> & { pageInfo: { endCursor: string } } };
        b: { tasks: Edges<TaskNode> };
      }>(
        `query($id: ID!) {
           b: project(id: $id) { tasks(first: 10) { edges { node { id
             comments(first: 10) { edges { node { id } } } } } } }
           a: project(id: $id) { tasks(first: 10) { pageInfo { endCursor } edges { node { id
             comments(first: 10) { edges { cursor node { id } } } } } } }
         }`,
        { id: tenant.projectId },
      );
      expect(result.errors).toBeUndefined();
      tasks = result.data!.a.tasks.edges.map((e) => e.node);
      // The alias that reads no cursor has a page of its own, and answers the same tasks.
      expect(result.data!.b.tasks.edges.map((e) => e.node.id)).toEqual(tasks.map((t) => t.id));
      // The end cursor continues the list exactly where this page ends: nothing after it.
      const next = await call<{ project: { tasks: Edges<Node> } }>(
        `query($id: ID!, $after: String) { project(id: $id) {
           tasks(first: 10, after: $after) { edges { node { id } } } } }`,
        { id: tenant.projectId, after: result.data!.a.tasks.pageInfo.endCursor },
      );
      expect(next.data?.project.tasks.edges).toEqual([]);
    });
    expect(some.some((trip) => trip.includes('to_char'))).toBe(true);
    for (const task of tasks) {
      const alone = await call<{ task: TaskNode }>(
        `query($id: ID!) { task(id: $id) { comments(first: 10) { edges { cursor node { id } } } } }`,
        { id: task.id },
      );
      expect(task.comments).toEqual(alone.data?.task.comments);
      expect(task.comments?.edges[0]).toHaveProperty('cursor');
    }
  });
});
