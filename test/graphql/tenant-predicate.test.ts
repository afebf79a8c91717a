import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { roundTrips } from '../support/round-trips.js';
import { namesItsTenant } from '../support/tenant-predicate-audit.js';

// Every statement on a tenant table names its tenant (`"tenant_id" = $n`): PostgreSQL then uses
// the (tenant_id, …) indexes, and Citus sends the statement to the one shard of that tenant
// instead of all of them. RLS stays the guard; the predicate is for routing. Every test file
// checks whatever the API sends (test/support/tenant-predicate-audit.ts); this one makes sure
// the shapes that build the most intricate SQL are sent, and that the check itself tells.

const TENANT_TABLE = /"app"\."(projects|tasks|comments)"/;

const PROJECT = `query($id: ID!) {
  project(id: $id) { name tasks(first: 20) { totalCount edges { node { title
    comments(first: 10) { totalCount edges { node { body } } } } } } }
}`;
const LISTS = `query($projectId: ID!) {
  projects(filter: { search: "project" }) { totalCount edges { node { name
    tasks(first: 5) { totalCount edges { node { title } } } } } }
  tasks(projectId: $projectId) { totalCount edges { node { title comments { edges { node { body } } } } } }
}`;
// Filters, several keys and backward pages: the statements the resolvers build for them.
const FILTERED = `query($projectId: ID!) {
  projects(last: 5, sort: [{ field: NAME, direction: DESC }], filter: { or: [
    { name: { contains: "project" } }, { not: { createdBy: { isNull: true } } }] }) {
    totalCount pageInfo { hasPreviousPage } edges { node { name
      tasks(last: 3, filter: { priority: { gte: LOW } }, sort: [{ field: DUE_DATE }]) { totalCount
        edges { node { title comments(last: 2, filter: { body: { contains: "c" } }) {
          totalCount edges { node { body } } } } } } } } }
  tasks(projectId: $projectId, filter: { assignee: { isNull: false } }, last: 2) {
    totalCount edges { node { title } } }
}`;
const BY_ID = `query($id: ID!) { task(id: $id) { title project { name } comments { totalCount } } }`;

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let call: Call;

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'A');
  api = await startTestApp(db);
  call = await callerFor(api, a.id, a.users.owner);
});
afterAll(async () => {
  await api?.close();
  await db.drop();
});

/** The statements of `run` that read or write a tenant table, each split from its batch. */
async function tenantStatements(run: () => Promise<unknown>): Promise<string[]> {
  const trips = await roundTrips(run);
  return trips
    .flatMap((trip) => trip.split(' + '))
    .filter((statement) => TENANT_TABLE.test(statement) && !statement.startsWith('insert'));
}

function unnamed(statements: readonly string[]): string[] {
  return statements.filter((statement) => !namesItsTenant(statement));
}

describe('every statement on a tenant table names the tenant', () => {
  it('tells a statement without the predicate apart', () => {
    expect(
      unnamed([
        'select "id" from "app"."tasks" where "id" = $1',
        'select 1 from "app"."tasks" where "tenant_id" = $1 and exists (select from "app"."comments")',
        'select "id" from "app"."tasks" where "tenant_id" = $1 and "id" = $2',
        'update app.notification_channels set enabled = $1 where channel = $2',
        'insert into "app"."comments" ("task_id", "body") values ($1, $2)',
        'insert into "app"."comments" ("tenant_id", "task_id", "body") values ($1, $2, $3)',
        'select "tenant_id" from "app"."memberships" where "user_id" = $1 /* across tenants */',
        'select app.tasks_of(1), count(*) from app.plans',
      ]),
    ).toEqual([
      'select "id" from "app"."tasks" where "id" = $1',
      'select 1 from "app"."tasks" where "tenant_id" = $1 and exists (select from "app"."comments")',
      'update app.notification_channels set enabled = $1 where channel = $2',
      'insert into "app"."comments" ("task_id", "body") values ($1, $2)',
    ]);
  });

  it('project(id) with its tasks and comments fetched ahead, and their counts', async () => {
    const statements = await tenantStatements(async () => {
      const result = await call(PROJECT, { id: a.projectId });
      expect(result.errors).toBeUndefined();
    });
    expect(statements.length).toBeGreaterThan(0);
    expect(unnamed(statements)).toEqual([]);
  });

  it('the projects and tasks lists, filtered, sorted and backward, nested pages, task(id)', async () => {
    const statements = await tenantStatements(async () => {
      for (const [query, variables] of [
        [LISTS, { projectId: a.projectId }],
        [FILTERED, { projectId: a.projectId }],
        [BY_ID, { id: a.taskId }],
      ] as const) {
        const result = await call(query, variables);
        expect(result.errors).toBeUndefined();
      }
    });
    expect(statements.length).toBeGreaterThanOrEqual(3);
    expect(unnamed(statements)).toEqual([]);
  });

  it('node(id:) and nodes(ids:), the table of each id found in one statement', async () => {
    const statements = await tenantStatements(async () => {
      const result = await call(
        `query($id: ID!, $ids: [ID!]!) { node(id: $id) { id } nodes(ids: $ids) { id } }`,
        { id: a.projectId, ids: [a.taskId, a.commentId] },
      );
      expect(result.errors).toBeUndefined();
    });
    expect(statements.length).toBeGreaterThanOrEqual(4);
    expect(unnamed(statements)).toEqual([]);
  });

  it('search, its count and its highlights', async () => {
    const statements = await tenantStatements(async () => {
      const result = await call(
        `{ search(query: "task") { totalCount edges { highlight { text }
            node { ... on Task { title } ... on Comment { body } } } } }`,
      );
      expect(result.errors).toBeUndefined();
    });
    expect(statements.filter((s) => s.includes('ts_rank'))).toHaveLength(2);
    expect(statements.filter((s) => s.includes('ts_headline'))).toHaveLength(1);
    expect(unnamed(statements)).toEqual([]);
  });

  it('every part of Project.taskStats', async () => {
    const statements = await tenantStatements(async () => {
      const result = await call(
        `{ projects { edges { node { taskStats { total overdue byStatus { count }
            byAssignee { count user { id } } } } } } }`,
      );
      expect(result.errors).toBeUndefined();
    });
    expect(statements.filter((s) => s.includes('count(*)'))).toHaveLength(4);
    expect(unnamed(statements)).toEqual([]);
  });

  it('creating, changing and deleting tasks and comments', async () => {
    const inserts: string[] = [];
    const statements = await tenantStatements(async () => {
      const trips = await roundTrips(async () => {
        const created = await call<{ createTask: { id: string } }>(
          `mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }`,
          { input: { projectId: a.projectId, title: 'Routed' } },
        );
        expect(created.errors).toBeUndefined();
        const taskId = created.data!.createTask.id;
        const comment = await call<{ addComment: { id: string } }>(
          `mutation($input: AddCommentInput!) { addComment(input: $input) { id } }`,
          { input: { taskId, body: 'Routed too' } },
        );
        expect(comment.errors).toBeUndefined();
        for (const [query, variables] of [
          [
            `mutation($id: ID!) { updateComment(id: $id, body: "Changed") { id } }`,
            { id: comment.data!.addComment.id },
          ],
          [`mutation($id: ID!) { deleteComment(id: $id) }`, { id: comment.data!.addComment.id }],
          [
            `mutation($id: ID!) { updateTask(id: $id, input: { title: "Renamed" }) { id } }`,
            { id: taskId },
          ],
          [`mutation($id: ID!) { deleteTask(id: $id) }`, { id: taskId }],
        ] as const) {
          expect((await call(query, variables)).errors).toBeUndefined();
        }
      });
      inserts.push(
        ...trips.flatMap((t) => t.split(' + ')).filter((s) => /^insert into "app"\./.test(s)),
      );
    });
    expect(statements.length).toBeGreaterThanOrEqual(4);
    expect(unnamed(statements)).toEqual([]);
    expect(inserts).toHaveLength(2);
    for (const insert of inserts) expect(insert).toMatch(/"tenant_id"/);
  });
});
