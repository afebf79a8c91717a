import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, errorField, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { roundTrips } from '../support/round-trips.js';

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let callA: Call;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'nodeA'), seedTenant(db.ownerUrl, 'nodeB')]);
  callA = await callerFor(api, a.id, a.users.viewer);
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

const NODE = `query($id: ID!) { node(id: $id) { __typename id
  ... on Project { name } ... on Task { title } ... on Comment { body } } }`;
const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on Project { name } ... on Task { title } ... on Comment { body } } }`;

describe('node(id:) and nodes(ids:)', () => {
  it("finds the tenant's own project, task and comment by their ids", async () => {
    const cases = [
      [a.projectId, { __typename: 'Project', id: a.projectId, name: 'nodeA project' }],
      [a.taskId, { __typename: 'Task', id: a.taskId, title: 'nodeA task' }],
      [a.commentId, { __typename: 'Comment', id: a.commentId, body: 'nodeA comment' }],
    ] as const;
    for (const [id, expected] of cases) {
      const result = await callA(NODE, { id });
      expect(result.errors).toBeUndefined();
      expect(result.data?.node).toEqual(expected);
    }
    // The id the other fields return is the same uuid, upper case accepted.
    const upper = await callA(NODE, { id: a.taskId.toUpperCase() });
    expect(upper.data?.node).toMatchObject({ id: a.taskId });
  });

  it("answers null for another tenant's ids, unknown ids and deleted rows", async () => {
    for (const id of [b.projectId, b.taskId, b.commentId, randomUUID()]) {
      const result = await callA(NODE, { id });
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ node: null });
    }
    const [{ id: doomed }] = await ownerQuery<{ id: string }>(
      db.ownerUrl,
      `insert into app.tasks (tenant_id, project_id, title) values ($1, $2, 'doomed') returning id`,
      [a.id, a.projectId],
    );
    expect((await callA(NODE, { id: doomed })).data?.node).toMatchObject({ title: 'doomed' });
    await ownerQuery(db.ownerUrl, 'delete from app.tasks where tenant_id = $1 and id = $2', [
      a.id,
      doomed,
    ]);
    expect((await callA(NODE, { id: doomed })).data).toEqual({ node: null });
  });

  it('nodes(ids:) answers one entry per id, in order, null where node(id:) would', async () => {
    const ids = [a.commentId, b.taskId, a.projectId, randomUUID(), a.taskId, a.projectId];
    const result = await callA<{ nodes: ({ id: string } | null)[] }>(NODES, { ids });
    expect(result.errors).toBeUndefined();
    expect(result.data?.nodes.map((n) => n?.id ?? null)).toEqual([
      a.commentId,
      null,
      a.projectId,
      null,
      a.taskId,
      a.projectId,
    ]);
    expect((await callA(NODES, { ids: [] })).data).toEqual({ nodes: [] });
  });

  it('finds the tables of all ids of an operation in one statement, then one per type', async () => {
    const trips = await roundTrips(async () => {
      const result = await callA(
        `query($a: ID!, $b: ID!, $ids: [ID!]!) { x: node(id: $a) { id } y: node(id: $b) { id }
           nodes(ids: $ids) { id } }`,
        { a: a.projectId, b: a.taskId, ids: [a.commentId, b.projectId] },
      );
      expect(result.errors).toBeUndefined();
    });
    const statements = trips.flatMap((t) => t.split(' + '));
    expect(statements.filter((s) => s.includes('union all'))).toHaveLength(1);
    for (const table of ['projects', 'tasks', 'comments']) {
      expect(
        statements.filter((s) => s.startsWith(`select`) && s.includes(`from "app"."${table}"`))
          .length,
        table,
      ).toBeGreaterThanOrEqual(1);
    }
  });

  it('refuses an id that is not a uuid, and more than 100 ids, with BAD_USER_INPUT', async () => {
    const malformed = await callA(NODE, { id: 'not-a-uuid' });
    expect(errorCode(malformed)).toBe('BAD_USER_INPUT');
    expect(errorField(malformed)).toBe('id');
    const oneBad = await callA(NODES, { ids: [a.projectId, 'nope'] });
    expect(errorCode(oneBad)).toBe('BAD_USER_INPUT');
    expect(errorField(oneBad)).toBe('ids');
    const tooMany = await callA(NODES, { ids: Array.from({ length: 101 }, () => randomUUID()) });
    expect(errorCode(tooMany)).toBe('BAD_USER_INPUT');
    expect(errorField(tooMany)).toBe('ids');
  });

  it('a caller who is not a member of the tenant gets FORBIDDEN, not nulls', async () => {
    const outsider = await callerFor(api, a.id, b.users.owner);
    expect(errorCode(await outsider(NODE, { id: a.projectId }))).toBe('FORBIDDEN');
    expect(errorCode(await outsider(NODES, { ids: [a.projectId] }))).toBe('FORBIDDEN');
  });
});
