import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpAccount } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callersOf, errorCode, errorField, type Call } from '../support/callers.js';
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
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

interface Entry {
  entityType: string;
  entityId: string;
  action: string;
  changedFields: string[];
  label: string | null;
  actor: { id: string } | null;
}
interface Page {
  activity: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { node: Entry }[];
  };
}
const ACTIVITY = `query ($first: Int, $after: String, $filter: ActivityFilter) {
  activity(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { entityType entityId action changedFields label actor { id } } }
  }
}`;

async function activity(
  call: Call,
  filter: Record<string, unknown> = {},
  first = 100,
  after?: string,
): Promise<Page['activity']> {
  const result = await call<Page>(ACTIVITY, { first, after, filter });
  expect(result.errors).toBeUndefined();
  return (result.data as Page).activity;
}

const nodes = (page: Page['activity']) => page.edges.map((e) => e.node);

async function mutate<T>(call: Call, query: string, variables: Record<string, unknown>) {
  const result = await call<T>(query, variables);
  expect(result.errors).toBeUndefined();
  return result.data as T;
}

describe('activity log', () => {
  it('records every kind of change exactly once, newest first, with actor and entity', async () => {
    const before = (await activity(as.owner)).totalCount;
    const { createProject: project } = await mutate<{ createProject: { id: string } }>(
      as.member,
      'mutation { createProject(input: {name: "Logged", key: "LOG"}) { id } }',
      {},
    );
    await mutate(
      as.member,
      'mutation ($id: ID!) { updateProject(id: $id, input: {name: "Logged 2"}) { id } }',
      {
        id: project.id,
      },
    );
    const { createTask: task } = await mutate<{ createTask: { id: string } }>(
      as.member,
      'mutation ($p: ID!) { createTask(input: {projectId: $p, title: "Write it"}) { id } }',
      { p: project.id },
    );
    // A second task, deleted along with its project below: part of that one deletion.
    const { createTask: kept } = await mutate<{ createTask: { id: string } }>(
      as.member,
      'mutation ($p: ID!) { createTask(input: {projectId: $p, title: "Goes with it"}) { id } }',
      { p: project.id },
    );
    await mutate(
      as.member,
      'mutation ($id: ID!) { updateTask(id: $id, input: {status: DONE, priority: HIGH}) { id } }',
      { id: task.id },
    );
    const { addComment: comment } = await mutate<{ addComment: { id: string } }>(
      as.member,
      'mutation ($t: ID!) { addComment(input: {taskId: $t, body: "first"}) { id } }',
      { t: task.id },
    );
    await mutate(
      as.member,
      'mutation ($id: ID!) { updateComment(id: $id, body: "second") { id } }',
      {
        id: comment.id,
      },
    );
    await mutate(as.member, 'mutation ($id: ID!) { deleteComment(id: $id) }', { id: comment.id });
    await mutate(as.member, 'mutation ($id: ID!) { deleteTask(id: $id) }', { id: task.id });
    const newcomer = await signUpAccount(api, 'newcomer');
    // Invited by the owner, joined by the newcomer: the membership is the owner's doing.
    await mutate(
      as.owner,
      'mutation ($email: String!) { inviteMember(input: {email: $email, role: VIEWER}) { id } }',
      { email: newcomer.email },
    );
    const accepted = await api.request(
      ACCEPT,
      { token: await mailedToken(db.ownerUrl, newcomer.email) },
      { token: newcomer.token },
    );
    expect(accepted.errors).toBeUndefined();
    await mutate(
      as.owner,
      'mutation ($u: ID!) { changeMemberRole(userId: $u, role: MEMBER) { role } }',
      { u: newcomer.id },
    );
    await mutate(as.owner, 'mutation ($u: ID!) { removeMember(userId: $u) }', { u: newcomer.id });
    await mutate(as.admin, 'mutation ($id: ID!) { deleteProject(id: $id) }', { id: project.id });

    const page = await activity(as.owner);
    expect(page.totalCount).toBe(before + 13);
    const member = { id: a.users.member };
    const owner = { id: a.users.owner };
    const entry = (
      entityType: string,
      entityId: string,
      action: string,
      label: string | null,
      actor: { id: string },
      changedFields: string[] = [],
    ): Entry => ({ entityType, entityId, action, changedFields, label, actor });
    expect(nodes(page).slice(0, 13)).toEqual([
      entry('PROJECT', project.id, 'DELETED', 'Logged 2', { id: a.users.admin }),
      entry('MEMBERSHIP', newcomer.id, 'DELETED', 'member', owner),
      entry('MEMBERSHIP', newcomer.id, 'CHANGED', 'member', owner, ['role']),
      entry('MEMBERSHIP', newcomer.id, 'CREATED', 'viewer', owner),
      entry('TASK', task.id, 'DELETED', 'Write it', member),
      entry('COMMENT', comment.id, 'DELETED', null, member),
      entry('COMMENT', comment.id, 'CHANGED', null, member, ['body']),
      entry('COMMENT', comment.id, 'CREATED', null, member),
      entry('TASK', task.id, 'CHANGED', 'Write it', member, ['priority', 'status']),
      entry('TASK', kept.id, 'CREATED', 'Goes with it', member),
      entry('TASK', task.id, 'CREATED', 'Write it', member),
      entry('PROJECT', project.id, 'CHANGED', 'Logged 2', member, ['name']),
      entry('PROJECT', project.id, 'CREATED', 'Logged', member),
    ]);
    // The kept task never appears as deleted on its own.
    expect(
      nodes(page)
        .filter((n) => n.entityId === kept.id)
        .map((n) => n.action),
    ).toEqual(['CREATED']);
  });

  it('writes nothing for a rolled-back mutation', async () => {
    const before = (await activity(as.owner)).totalCount;
    const result = await as.admin(
      `mutation {
        ok: createProject(input: {name: "Undone", key: "UND"}) { id }
        bad: createProject(input: {name: "X", key: "lower"}) { id }
      }`,
    );
    expect(result.data).toBeNull();
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    const after = await activity(as.owner);
    expect(after.totalCount).toBe(before);
    expect(nodes(after).some((n) => n.label === 'Undone')).toBe(false);
  });

  it('records no change that changed nothing', async () => {
    const before = (await activity(as.owner)).totalCount;
    await mutate(as.admin, 'mutation ($id: ID!) { updateTask(id: $id, input: {}) { id } }', {
      id: a.taskId,
    });
    expect((await activity(as.owner)).totalCount).toBe(before);
  });

  it('filters by entity type, action, actor and entity id, and pages newest first', async () => {
    const { createProject: p } = await mutate<{ createProject: { id: string } }>(
      as.admin,
      'mutation { createProject(input: {name: "Filtered", key: "FLT"}) { id } }',
      {},
    );
    for (const name of ['F1', 'F2', 'F3']) {
      await mutate(
        as.admin,
        'mutation ($id: ID!, $n: String!) { updateProject(id: $id, input: {name: $n}) { id } }',
        {
          id: p.id,
          n: name,
        },
      );
    }
    const ofProject = await activity(as.owner, { entityId: p.id });
    expect(nodes(ofProject).map((n) => n.label)).toEqual(['F3', 'F2', 'F1', 'Filtered']);
    const changed = await activity(as.owner, { entityId: p.id, action: 'CHANGED' });
    expect(changed.totalCount).toBe(3);
    const byAdmin = await activity(as.owner, { actorId: a.users.admin, entityType: 'PROJECT' });
    expect(nodes(byAdmin).every((n) => n.actor?.id === a.users.admin)).toBe(true);
    expect(nodes(byAdmin).every((n) => n.entityType === 'PROJECT')).toBe(true);
    expect(byAdmin.totalCount).toBeGreaterThanOrEqual(4);
    expect(
      (await activity(as.owner, { entityType: 'MEMBERSHIP', entityId: p.id })).totalCount,
    ).toBe(0);

    const first = await activity(as.owner, { entityId: p.id }, 3);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await activity(as.owner, { entityId: p.id }, 3, first.pageInfo.endCursor ?? '');
    expect([...nodes(first), ...nodes(rest)].map((n) => n.label)).toEqual(
      nodes(ofProject).map((n) => n.label),
    );
    expect(rest.pageInfo.hasNextPage).toBe(false);

    const bad = await as.owner(ACTIVITY, { filter: { actorId: 'nope' } });
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
    expect(errorField(bad)).toBe('filter.actorId');
  });

  it('shows one tenant nothing of another', async () => {
    const beforeA = (await activity(as.owner)).totalCount;
    const { createProject: p } = await mutate<{ createProject: { id: string } }>(
      asB.owner,
      'mutation { createProject(input: {name: "Secret", key: "SEC"}) { id } }',
      {},
    );
    expect((await activity(asB.owner, { entityId: p.id })).totalCount).toBe(1);
    const seenByA = await activity(as.owner);
    expect(seenByA.totalCount).toBe(beforeA);
    expect((await activity(as.owner, { entityId: p.id })).totalCount).toBe(0);
    expect((await activity(as.owner, { actorId: b.users.owner })).totalCount).toBe(0);
  });

  it('is for owners and admins only', async () => {
    for (const role of ['member', 'viewer'] as const) {
      const result = await as[role](ACTIVITY, { first: 1 });
      expect(errorCode(result), role).toBe('FORBIDDEN');
    }
    for (const role of ['owner', 'admin'] as const) {
      const result = await as[role](ACTIVITY, { first: 1 });
      expect(result.errors, role).toBeUndefined();
    }
  });
});
