import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, callersOf, errorCode, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { mailedToken } from '../support/accounts.js';
import { ACCEPT } from '../support/invitations.js';
import type { MembershipRoleValue } from '../../src/db/schema.js';

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let as: Record<MembershipRoleValue, Call>;
let asB: Record<MembershipRoleValue, Call>;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = await startTestApp(db);
  [as, asB] = await Promise.all([callersOf(api, a), callersOf(api, b)]);
  // The fixture's own inserts notified people; start every test from a clean slate.
  for (const call of [...Object.values(as), ...Object.values(asB)]) {
    await call('mutation { markNotificationsRead }');
  }
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

interface Page {
  notifications: {
    totalCount: number;
    edges: {
      node: {
        kind: string;
        message: string;
        read: boolean;
        actor: { id: string } | null;
        task: { id: string } | null;
      };
    }[];
  };
  unreadNotificationCount: number;
}
const INBOX = `query ($unreadOnly: Boolean) {
  notifications(first: 50, unreadOnly: $unreadOnly) {
    totalCount edges { node { kind message read actor { id } task { id } } }
  }
  unreadNotificationCount
}`;

const inbox = async (call: Call, unreadOnly = true) =>
  (await call<Page>(INBOX, { unreadOnly })).data as Page;

describe('notifications', () => {
  it('tells an assignee, in the same transaction as the assignment', async () => {
    const created = await as.admin<{ createTask: { id: string } }>(
      `mutation ($p: ID!, $u: ID!) { createTask(input: {projectId: $p, title: "Ship it", assigneeId: $u}) { id } }`,
      { p: a.projectId, u: a.users.viewer },
    );
    const taskId = created.data?.createTask.id;
    const viewer = await inbox(as.viewer);
    expect(viewer.unreadNotificationCount).toBe(1);
    expect(viewer.notifications.edges[0]?.node).toEqual({
      kind: 'TASK_ASSIGNED',
      message: 'You were assigned "Ship it".',
      read: false,
      actor: { id: a.users.admin },
      task: { id: taskId },
    });
    // The actor is not told about their own action.
    expect((await inbox(as.admin)).unreadNotificationCount).toBe(0);
  });

  it('tells nobody when the change is rolled back', async () => {
    const result = await as.admin(
      `mutation ($p: ID!, $u: ID!) {
        ok: createTask(input: {projectId: $p, title: "Rolled back", assigneeId: $u}) { id }
        bad: createProject(input: {name: "X", key: "lower"}) { id }
      }`,
      { p: a.projectId, u: a.users.owner },
    );
    expect(result.data).toBeNull();
    expect((await inbox(as.owner)).unreadNotificationCount).toBe(0);
  });

  it('tells the creator and assignee of a commented task, never the author', async () => {
    await as.viewer('mutation { markNotificationsRead }');
    await as.owner(`mutation ($t: ID!) { addComment(input: {taskId: $t, body: "Nice"}) { id } }`, {
      t: a.taskId,
    });
    // The fixture task was created by the member and is assigned to them: told once, not twice.
    const member = await inbox(as.member);
    expect(member.notifications.edges.map((e) => e.node.kind)).toEqual(['TASK_COMMENTED']);
    expect((await inbox(as.owner)).unreadNotificationCount).toBe(0);
  });

  it('tells a project creator about status changes, and a new member they were added', async () => {
    const project = await as.member<{ createProject: { id: string } }>(
      `mutation { createProject(input: {name: "Notified", key: "NTF"}) { id } }`,
    );
    const id = project.data?.createProject.id;
    await as
      .admin(`mutation ($id: ID!) { transitionProject(id: $id, to: SUBMITTED) { id } }`, { id })
      .then(async () =>
        as.admin(
          `mutation ($id: ID!) { transitionProject(id: $id, to: APPROVED, comment: "go") { id } }`,
          { id },
        ),
      );
    const member = await inbox(as.member);
    expect(member.notifications.edges.map((e) => e.node.message)).toContain(
      '"Notified" moved from SUBMITTED to APPROVED.',
    );

    const [newcomer] = await ownerQuery<{ email: string }>(
      db.ownerUrl,
      'select email from app.users where id = $1',
      [b.users.viewer],
    );
    await as.owner(
      `mutation ($e: String!) { inviteMember(input: {email: $e, role: VIEWER}) { id } }`,
      {
        e: newcomer?.email,
      },
    );
    const accepted = await api.request(
      ACCEPT,
      { token: await mailedToken(db.ownerUrl, newcomer?.email ?? '') },
      { token: await api.app.deps.tokens.signAccess(b.users.viewer, undefined) },
    );
    expect(errorCode(accepted)).toBeUndefined();
    const asNewcomer = await callerFor(api, a.id, b.users.viewer);
    const welcome = await inbox(asNewcomer);
    expect(welcome.notifications.edges.map((e) => e.node.message)).toEqual([
      'You were added to this tenant as viewer.',
    ]);
  });

  it('shows each recipient only their own, in their own tenant', async () => {
    const mine = await inbox(as.member, false);
    expect(mine.notifications.totalCount).toBeGreaterThan(0);
    for (const role of ['owner', 'admin', 'member', 'viewer'] as const) {
      const other = await inbox(asB[role], false);
      expect(other.notifications.edges.every((e) => e.node.task?.id !== a.taskId)).toBe(true);
    }
    const anonymous = await api.request(INBOX, {}, { headers: { 'x-tenant-id': a.id } });
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
  });

  it('marks read by id or all at once; ids of others change nothing', async () => {
    const before = await inbox(as.member);
    expect(before.unreadNotificationCount).toBeGreaterThan(0);
    const marked = await asB.owner<{ markNotificationsRead: number }>(
      'mutation { markNotificationsRead }',
    );
    expect(marked.data?.markNotificationsRead).toBeGreaterThanOrEqual(0);
    expect((await inbox(as.member)).unreadNotificationCount).toBe(before.unreadNotificationCount);
    const all = await as.member<{ markNotificationsRead: number }>(
      'mutation { markNotificationsRead }',
    );
    expect(all.data?.markNotificationsRead).toBe(before.unreadNotificationCount);
    expect((await inbox(as.member)).unreadNotificationCount).toBe(0);
  });

  it('still lets people comment on a task whose creator has left the tenant', async () => {
    const created = await as.member<{ createTask: { id: string } }>(
      `mutation ($p: ID!) { createTask(input: {projectId: $p, title: "Orphan"}) { id } }`,
      { p: a.projectId },
    );
    const taskId = created.data?.createTask.id;
    const removed = await as.admin(`mutation ($u: ID!) { removeMember(userId: $u) }`, {
      u: a.users.member,
    });
    expect(removed.errors).toBeUndefined();
    const comment = await as.admin(
      `mutation ($t: ID!) { addComment(input: {taskId: $t, body: "Still here"}) { id } }`,
      { t: taskId },
    );
    expect(comment.errors).toBeUndefined();
  });
});
