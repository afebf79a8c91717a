import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue } from '../../../src/db/schema.js';
import type { TestApp } from '../app.js';
import { callerFor, callersOf, errorCode, errorField, ownerQuery, type Call } from '../callers.js';
import { createTestDatabase, type TestDatabase } from '../database.js';
import { seedTenant, type SeededTenant } from '../fixtures.js';
import type { Route, RoutedApi } from './route.js';

const ROLES: MembershipRoleValue[] = ['owner', 'admin', 'member', 'viewer'];
const WRITERS: MembershipRoleValue[] = ['owner', 'admin', 'member'];
// As many as the API's default pool has: these tests run one operation at a time.
const SERVER_CONNECTIONS = 4;

/** Defines the cross-tenant tests for `route`; call once at the top level of a test file. */
export function crossTenantSuite(route: Route): void {
  let db: TestDatabase;
  let api: TestApp;
  let a: SeededTenant;
  let b: SeededTenant;
  let asA: Record<MembershipRoleValue, Call>;
  let routed: RoutedApi;

  beforeAll(async () => {
    db = await createTestDatabase();
    routed = await route.start(db, SERVER_CONNECTIONS);
    api = routed.api;
    a = await seedTenant(db.ownerUrl, 'alpha');
    b = await seedTenant(db.ownerUrl, 'beta');
    asA = await callersOf(api, a);
  });
  afterAll(async () => {
    await routed?.close();
    await db?.drop();
  });

  /** Everything tenant B owns, as the migrator sees it (RLS does not apply to it). */
  async function snapshotOf(tenantId: string): Promise<unknown> {
    const [row] = await ownerQuery(
      db.ownerUrl,
      `select (select json_agg(p order by p.id) from app.projects p where p.tenant_id = $1) as projects,
              (select json_agg(t order by t.id) from app.tasks t where t.tenant_id = $1) as tasks,
              (select json_agg(c order by c.id) from app.comments c where c.tenant_id = $1) as comments`,
      [tenantId],
    );
    return row;
  }

  describe(`a tenant A user against tenant B's rows${route.suffix}`, () => {
    let before: unknown;
    beforeAll(async () => {
      before = await snapshotOf(b.id);
    });

    it('reads null by id, in every role', async () => {
      for (const role of ROLES) {
        const result = await asA[role](
          `query($p: ID!, $t: ID!) { project(id: $p) { id } task(id: $t) { id } }`,
          { p: b.projectId, t: b.taskId },
        );
        expect(result.errors, role).toBeUndefined();
        expect(result.data, role).toEqual({ project: null, task: null });
      }
    });

    it("lists only A's rows, even with B's project id or one of B's cursors", async () => {
      const own = await asA.viewer<{
        projects: { totalCount: number; edges: { node: { id: string } }[] };
      }>(`{ projects { totalCount edges { node { id } } } }`);
      expect(own.data?.projects).toEqual({ totalCount: 1, edges: [{ node: { id: a.projectId } }] });
      const theirs = await asA.viewer(
        `query($p: ID!) { tasks(projectId: $p) { totalCount edges { node { id } } } }`,
        { p: b.projectId },
      );
      expect(theirs.data).toEqual({ tasks: { totalCount: 0, edges: [] } });
      const asB = await callerFor(api, b.id, b.users.viewer);
      const bPage = await asB<{ projects: { pageInfo: { startCursor: string } } }>(
        `{ projects(first: 1) { pageInfo { startCursor } } }`,
      );
      const withBCursor = await asA.viewer(
        `query($after: String) { projects(after: $after) { edges { node { id } } } }`,
        { after: bPage.data?.projects.pageInfo.startCursor },
      );
      const ids = (
        withBCursor.data as { projects: { edges: { node: { id: string } }[] } }
      ).projects.edges.map((e) => e.node.id);
      expect(ids).not.toContain(b.projectId);
    });

    it('cannot update or delete them: NOT_FOUND for writers, FORBIDDEN for viewers', async () => {
      const attempts = [
        [
          `mutation($id: ID!) { updateProject(id: $id, input: { name: "pwned" }) { id } }`,
          b.projectId,
        ],
        [`mutation($id: ID!) { updateProject(id: $id, input: {}) { id } }`, b.projectId],
        [`mutation($id: ID!) { deleteProject(id: $id) }`, b.projectId],
        [`mutation($id: ID!) { updateTask(id: $id, input: { title: "pwned" }) { id } }`, b.taskId],
        [`mutation($id: ID!) { deleteTask(id: $id) }`, b.taskId],
        [`mutation($id: ID!) { updateComment(id: $id, body: "pwned") { id } }`, b.commentId],
        [`mutation($id: ID!) { deleteComment(id: $id) }`, b.commentId],
      ] as const;
      for (const role of ROLES) {
        for (const [mutation, id] of attempts) {
          const result = await asA[role](mutation, { id });
          const expected =
            role === 'viewer' || (role === 'member' && mutation.includes('deleteProject'))
              ? 'FORBIDDEN'
              : 'NOT_FOUND';
          expect(errorCode(result), `${role}: ${mutation}`).toBe(expected);
          expect(result.data ?? null).toBeNull();
        }
      }
      expect(await snapshotOf(b.id)).toEqual(before);
    });

    it('cannot comment on, add tasks to, or assign to them', async () => {
      for (const role of WRITERS) {
        const comment = await asA[role](
          `mutation($t: ID!) { addComment(input: { taskId: $t, body: "hi" }) { id } }`,
          { t: b.taskId },
        );
        expect([errorCode(comment), errorField(comment)], role).toEqual([
          'BAD_USER_INPUT',
          'taskId',
        ]);
        const task = await asA[role](
          `mutation($p: ID!) { createTask(input: { projectId: $p, title: "in B" }) { id } }`,
          { p: b.projectId },
        );
        expect([errorCode(task), errorField(task)], role).toEqual(['BAD_USER_INPUT', 'projectId']);
        const assignNew = await asA[role](
          `mutation($p: ID!, $u: ID!) { createTask(input: { projectId: $p, title: "x", assigneeId: $u }) { id } }`,
          { p: a.projectId, u: b.users.member },
        );
        expect([errorCode(assignNew), errorField(assignNew)], role).toEqual([
          'BAD_USER_INPUT',
          'assigneeId',
        ]);
        const reassign = await asA[role](
          `mutation($t: ID!, $u: ID!) { updateTask(id: $t, input: { assigneeId: $u }) { id } }`,
          { t: a.taskId, u: b.users.owner },
        );
        expect([errorCode(reassign), errorField(reassign)], role).toEqual([
          'BAD_USER_INPUT',
          'assigneeId',
        ]);
      }
      expect(await snapshotOf(b.id)).toEqual(before);
      const [{ count }] = await ownerQuery<{ count: string }>(
        db.ownerUrl,
        `select count(*) from app.tasks where tenant_id = $1 and assignee_id = any($2::uuid[])`,
        [a.id, Object.values(b.users)],
      );
      expect(count).toBe('0');
    });

    it('cannot switch to B by naming it in the tenant header', async () => {
      const intruder = await callerFor(api, b.id, a.users.owner);
      const read = await intruder(`{ projects { totalCount } }`);
      expect(errorCode(read)).toBe('FORBIDDEN');
      const write = await intruder(
        `mutation($id: ID!) { updateProject(id: $id, input: { name: "pwned" }) { id } }`,
        { id: b.projectId },
      );
      expect(errorCode(write)).toBe('FORBIDDEN');
      expect(await snapshotOf(b.id)).toEqual(before);
    });

    it("does not see B's users through its own rows", async () => {
      const result = await asA.viewer(
        `query($t: ID!) { task(id: $t) { assignee { id } comments { edges { node { author { id } } } } } }`,
        { t: a.taskId },
      );
      expect(result.data).toEqual({
        task: {
          assignee: { id: a.users.member },
          comments: { edges: [{ node: { author: { id: a.users.member } } }] },
        },
      });
    });
  });

  describe(`viewers of a tenant${route.suffix}`, () => {
    it('cannot write their own tenant either, and nothing changes', async () => {
      const before = await snapshotOf(a.id);
      const writes = [
        `mutation { createProject(input: { name: "V", key: "VIEW" }) { id } }`,
        `mutation($p: ID!) { updateProject(id: $p, input: { name: "V" }) { id } }`,
        `mutation($p: ID!) { createTask(input: { projectId: $p, title: "V" }) { id } }`,
        `mutation($t: ID!) { updateTask(id: $t, input: { status: DONE }) { id } }`,
        `mutation($t: ID!) { addComment(input: { taskId: $t, body: "V" }) { id } }`,
        `mutation($c: ID!) { updateComment(id: $c, body: "V") { id } }`,
        `mutation($t: ID!) { deleteTask(id: $t) }`,
      ];
      for (const mutation of writes) {
        const variables: Record<string, string> = {};
        if (mutation.includes('$p')) variables.p = a.projectId;
        if (mutation.includes('$t')) variables.t = a.taskId;
        if (mutation.includes('$c')) variables.c = a.commentId;
        expect(errorCode(await asA.viewer(mutation, variables)), mutation).toBe('FORBIDDEN');
      }
      expect(await snapshotOf(a.id)).toEqual(before);
    });
  });
}
