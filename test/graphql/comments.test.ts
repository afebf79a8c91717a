import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callersOf, errorCode, errorField, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let api: TestApp;
let tenant: SeededTenant;
let as: Record<'owner' | 'admin' | 'member' | 'viewer', Call>;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  tenant = await seedTenant(db.ownerUrl, 'cmt');
  as = await callersOf(api, tenant);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

const ADD = `mutation($input: AddCommentInput!) {
  addComment(input: $input) { id body author { id } task { id title } }
}`;
const UPDATE = `mutation($id: ID!, $body: String!) { updateComment(id: $id, body: $body) { id body } }`;
const DELETE = `mutation($id: ID!) { deleteComment(id: $id) }`;

async function addAs(call: Call, body: string): Promise<string> {
  const result = await call<{ addComment: { id: string } }>(ADD, {
    input: { taskId: tenant.taskId, body },
  });
  expect(result.errors).toBeUndefined();
  return result.data!.addComment.id;
}

async function storedBody(id: string): Promise<string | undefined> {
  const rows = await ownerQuery<{ body: string }>(
    db.ownerUrl,
    'select body from app.comments where id = $1',
    [id],
  );
  return rows[0]?.body;
}

describe('comments', () => {
  it('adds a comment as the caller, on the given task, keeping its whitespace', async () => {
    const result = await as.member(ADD, { input: { taskId: tenant.taskId, body: ' Looks good ' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.addComment).toMatchObject({
      body: ' Looks good ',
      author: { id: tenant.users.member },
      task: { id: tenant.taskId, title: 'cmt task' },
    });
  });

  it('refuses invalid comments with BAD_USER_INPUT naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ taskId: tenant.taskId, body: '  ' }, 'body'],
      [{ taskId: tenant.taskId, body: 'b'.repeat(10_001) }, 'body'],
      [{ taskId: 'task-1', body: 'hi' }, 'taskId'],
      [{ taskId: randomUUID(), body: 'hi' }, 'taskId'],
    ];
    for (const [input, field] of cases) {
      const result = await as.member(ADD, { input });
      expect([errorCode(result), errorField(result)]).toEqual(['BAD_USER_INPUT', field]);
    }
  });

  it('refuses viewers with FORBIDDEN', async () => {
    expect(errorCode(await as.viewer(ADD, { input: { taskId: tenant.taskId, body: 'x' } }))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await as.viewer(UPDATE, { id: tenant.commentId, body: 'x' }))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await as.viewer(DELETE, { id: tenant.commentId }))).toBe('FORBIDDEN');
  });

  it('lets the author edit, refuses another member, allows an admin or owner', async () => {
    const id = await addAs(as.member, 'first draft');
    expect((await as.member(UPDATE, { id, body: 'second draft' })).data).toEqual({
      updateComment: { id, body: 'second draft' },
    });
    const memberOfOther = await addAs(as.admin, 'admin note');
    const refused = await as.member(UPDATE, { id: memberOfOther, body: 'hijacked' });
    expect(errorCode(refused)).toBe('FORBIDDEN');
    expect(await storedBody(memberOfOther)).toBe('admin note');
    expect((await as.admin(UPDATE, { id, body: 'moderated' })).data).toEqual({
      updateComment: { id, body: 'moderated' },
    });
    expect((await as.owner(UPDATE, { id, body: 'by owner' })).errors).toBeUndefined();
    const blank = await as.member(UPDATE, { id, body: '' });
    expect([errorCode(blank), errorField(blank)]).toEqual(['BAD_USER_INPUT', 'body']);
    expect(errorCode(await as.member(UPDATE, { id: randomUUID(), body: 'x' }))).toBe('NOT_FOUND');
  });

  it('lets the author or an admin delete, nobody else', async () => {
    const byAdmin = await addAs(as.admin, 'admin says');
    const refused = await as.member(DELETE, { id: byAdmin });
    expect(errorCode(refused)).toBe('FORBIDDEN');
    expect(await storedBody(byAdmin)).toBe('admin says');
    const own = await addAs(as.member, 'mine');
    expect((await as.member(DELETE, { id: own })).data).toEqual({ deleteComment: true });
    expect(await storedBody(own)).toBeUndefined();
    const members = await addAs(as.member, 'moderate me');
    expect((await as.admin(DELETE, { id: members })).data).toEqual({ deleteComment: true });
    expect(errorCode(await as.admin(DELETE, { id: members }))).toBe('NOT_FOUND');
  });

  it('pages Task.comments with cursors and counts', async () => {
    const taskResult = await as.member<{ createTask: { id: string } }>(
      `mutation($projectId: ID!) { createTask(input: { projectId: $projectId, title: "Chatty" }) { id } }`,
      { projectId: tenant.projectId },
    );
    const taskId = taskResult.data!.createTask.id;
    await ownerQuery(
      db.ownerUrl,
      `insert into app.comments (tenant_id, task_id, author_id, body, created_at)
       select $1, $2, $3, 'c' || lpad(i::text, 2, '0'), timestamptz '2024-06-01' + make_interval(secs => i)
         from generate_series(1, 15) i`,
      [tenant.id, taskId, tenant.users.member],
    );
    const QUERY = `query($id: ID!, $after: String) {
      task(id: $id) {
        comments(first: 10, after: $after) {
          totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { body author { id } } }
        }
      }
    }`;
    type Page = {
      task: {
        comments: {
          totalCount: number;
          pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string };
          edges: { node: { body: string; author: { id: string } } }[];
        };
      };
    };
    const first = await as.viewer<Page>(QUERY, { id: taskId });
    const one = first.data!.task.comments;
    expect(one.totalCount).toBe(15);
    expect(one.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(one.edges.map((e) => e.node.body)).toEqual(
      Array.from({ length: 10 }, (_, i) => `c${String(i + 1).padStart(2, '0')}`),
    );
    expect(one.edges[0]?.node.author).toEqual({ id: tenant.users.member });
    const second = await as.viewer<Page>(QUERY, { id: taskId, after: one.pageInfo.endCursor });
    const two = second.data!.task.comments;
    expect(two.edges.map((e) => e.node.body)).toEqual(['c11', 'c12', 'c13', 'c14', 'c15']);
    expect(two.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  it('answers comments fetched ahead with a page of tasks exactly as Task.comments alone', async () => {
    const created = await as.member<{ createTask: { id: string } }>(
      `mutation($projectId: ID!) { createTask(input: { projectId: $projectId, title: "Ahead" }) { id } }`,
      { projectId: tenant.projectId },
    );
    const taskId = created.data!.createTask.id;
    await ownerQuery(
      db.ownerUrl,
      `insert into app.comments (tenant_id, task_id, author_id, body, created_at)
       select $1, $2, $3, 'a' || lpad(i::text, 2, '0'),
              timestamptz '2024-06-01 00:00:00.000001' + make_interval(secs => i / 2)
         from generate_series(1, 7) i`,
      [tenant.id, taskId, tenant.users.member],
    );
    const PAGE = `comments(first: 3, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id body createdAt updatedAt author { id } } }
    }`;
    type Comments = { pageInfo: { endCursor: string | null } };
    type Node = { id: string; comments: Comments };
    const alone = async (after: string | null) =>
      (
        await as.viewer<{ task: { comments: Comments } }>(
          `query($id: ID!, $after: String) { task(id: $id) { ${PAGE} } }`,
          { id: taskId, after },
        )
      ).data!.task.comments;
    const inList = async (after: string | null) =>
      (
        await as.viewer<{ tasks: { edges: { node: Node }[] } }>(
          `query($projectId: ID!, $after: String) {
            tasks(projectId: $projectId, first: 100) { edges { node { id ...C } } }
          }
          fragment C on Task { ${PAGE} }`,
          { projectId: tenant.projectId, after },
        )
      ).data!.tasks.edges.find((e) => e.node.id === taskId)!.node.comments;
    const inProject = async (after: string | null) =>
      (
        await as.viewer<{ project: { tasks: { edges: { node: Node }[] } } }>(
          `query($id: ID!, $after: String) {
            project(id: $id) { tasks(first: 100) { edges { node { id ${PAGE} } } } }
          }`,
          { id: tenant.projectId, after },
        )
      ).data!.project.tasks.edges.find((e) => e.node.id === taskId)!.node.comments;

    let after: string | null = null;
    for (let page = 0; page < 3; page += 1) {
      const expected = await alone(after);
      expect(await inList(after)).toEqual(expected);
      expect(await inProject(after)).toEqual(expected);
      after = expected.pageInfo.endCursor;
    }
    // Past the end: no rows, rows before the cursor, the same total.
    const end = await alone(after);
    expect(end).toMatchObject({ totalCount: 7, pageInfo: { hasPreviousPage: true } });
    expect(await inList(after)).toEqual(end);
    expect(await inProject(after)).toEqual(end);

    // Two pages of the same comments under aliases are not fetched ahead; both still answer.
    type Aliased = { id: string; two: { edges: unknown[] }; five: { edges: unknown[] } };
    const aliased = await as.viewer<{ tasks: { edges: { node: Aliased }[] } }>(
      `query($projectId: ID!) { tasks(projectId: $projectId, first: 100) { edges { node {
        id two: comments(first: 2) { edges { node { id } } } five: comments(first: 5) { edges { node { id } } }
      } } } }`,
      { projectId: tenant.projectId },
    );
    const node = aliased.data!.tasks.edges.find((e) => e.node.id === taskId)!.node;
    expect([node.two.edges.length, node.five.edges.length]).toEqual([2, 5]);

    // A page Task.comments refuses is refused there, not by the tasks page fetching ahead.
    const refused = await as.viewer(
      `query($projectId: ID!) { tasks(projectId: $projectId) { edges { node { id comments(first: 1000) { totalCount } } } } }`,
      { projectId: tenant.projectId },
    );
    expect(errorCode(refused)).toBe('BAD_USER_INPUT');
    expect(errorField(refused)).toBe('first');
    expect(refused.errors?.[0]?.path).toEqual(['tasks', 'edges', 0, 'node', 'comments']);
  });
});
