import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import type { Database } from '../../src/db/schema.js';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
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
  tenant = await seedTenant(db.ownerUrl, 'task');
  as = await callersOf(api, tenant);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

const TASK_FIELDS = `id title description status priority dueDate
  assignee { id } project { id key }`;
const CREATE = `mutation($input: CreateTaskInput!) { createTask(input: $input) { ${TASK_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) {
  updateTask(id: $id, input: $input) { ${TASK_FIELDS} }
}`;
const TASKS = `query($projectId: ID!, $first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {
  tasks(projectId: $projectId, first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { id title status dueDate assignee { id } } }
  }
}`;

interface TaskNode {
  id: string;
  title: string;
  status: string;
  dueDate: string | null;
  assignee: { id: string } | null;
}
interface TasksPage {
  tasks: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
    edges: { node: TaskNode }[];
  };
}

async function newProject(call: Call, key: string): Promise<string> {
  const result = await call<{ createProject: { id: string } }>(
    `mutation($key: String!) { createProject(input: { name: $key, key: $key }) { id } }`,
    { key },
  );
  expect(result.errors).toBeUndefined();
  return result.data!.createProject.id;
}

describe('task CRUD', () => {
  it('creates a task with defaults, and with every field', async () => {
    const plain = await as.member(CREATE, {
      input: { projectId: tenant.projectId, title: ' Write tests ' },
    });
    expect(plain.errors).toBeUndefined();
    expect(plain.data?.createTask).toMatchObject({
      title: 'Write tests',
      description: '',
      status: 'TODO',
      priority: 'MEDIUM',
      dueDate: null,
      assignee: null,
      project: { id: tenant.projectId, key: 'PRJ' },
    });
    const full = await as.member(CREATE, {
      input: {
        projectId: tenant.projectId,
        title: 'Ship',
        description: 'All of it',
        status: 'IN_PROGRESS',
        priority: 'URGENT',
        assigneeId: tenant.users.viewer,
        dueDate: '2030-02-28',
      },
    });
    expect(full.errors).toBeUndefined();
    expect(full.data?.createTask).toMatchObject({
      status: 'IN_PROGRESS',
      priority: 'URGENT',
      dueDate: '2030-02-28',
      assignee: { id: tenant.users.viewer },
    });
  });

  it('refuses invalid input with BAD_USER_INPUT naming the field', async () => {
    const base = { projectId: tenant.projectId, title: 'T' };
    const cases: [Record<string, unknown>, string | undefined][] = [
      [{ ...base, title: '' }, 'title'],
      [{ ...base, title: 't'.repeat(301) }, 'title'],
      [{ ...base, description: 'd'.repeat(20_001) }, 'description'],
      [{ ...base, projectId: 'nope' }, 'projectId'],
      [{ ...base, projectId: randomUUID() }, 'projectId'],
      [{ ...base, assigneeId: randomUUID() }, 'assigneeId'],
      [{ ...base, assigneeId: 'x' }, 'assigneeId'],
      // Coerced by GraphQL itself: the code is the same, the field is in the message.
      [{ ...base, dueDate: '2030-13-01' }, undefined],
      [{ ...base, dueDate: 'tomorrow' }, undefined],
      [{ ...base, priority: 'SOMEDAY' }, undefined],
      [{ ...base, status: 'BLOCKED' }, undefined],
    ];
    for (const [input, field] of cases) {
      const result = await as.member(CREATE, { input });
      expect(errorCode(result), JSON.stringify(input).slice(0, 80)).toBe('BAD_USER_INPUT');
      if (field) expect(errorField(result)).toBe(field);
      expect(result.data ?? null).toBeNull();
    }
  });

  it('updates given fields, clears assignee and due date with null', async () => {
    const created = await as.member<{ createTask: { id: string } }>(CREATE, {
      input: {
        projectId: tenant.projectId,
        title: 'Mutable',
        assigneeId: tenant.users.member,
        dueDate: '2031-01-01',
      },
    });
    const id = created.data?.createTask.id;
    const moved = await as.member(UPDATE, { id, input: { status: 'DONE', priority: 'LOW' } });
    expect(moved.data?.updateTask).toMatchObject({
      title: 'Mutable',
      status: 'DONE',
      priority: 'LOW',
      assignee: { id: tenant.users.member },
      dueDate: '2031-01-01',
    });
    const cleared = await as.member(UPDATE, { id, input: { assigneeId: null, dueDate: null } });
    expect(cleared.data?.updateTask).toMatchObject({ assignee: null, dueDate: null });
    const reassigned = await as.admin(UPDATE, { id, input: { assigneeId: tenant.users.owner } });
    expect(reassigned.data?.updateTask).toMatchObject({ assignee: { id: tenant.users.owner } });
    const nullTitle = await as.member(UPDATE, { id, input: { title: null } });
    expect([errorCode(nullTitle), errorField(nullTitle)]).toEqual(['BAD_USER_INPUT', 'title']);
    const nullStatus = await as.member(UPDATE, { id, input: { status: null } });
    expect([errorCode(nullStatus), errorField(nullStatus)]).toEqual(['BAD_USER_INPUT', 'status']);
    const stranger = await as.member(UPDATE, { id, input: { assigneeId: randomUUID() } });
    expect([errorCode(stranger), errorField(stranger)]).toEqual(['BAD_USER_INPUT', 'assigneeId']);
    const missing = await as.member(UPDATE, { id: randomUUID(), input: { title: 'X' } });
    expect(errorCode(missing)).toBe('NOT_FOUND');
  });

  it('reads a task by id with its project, and null when missing', async () => {
    const found = await as.viewer(
      `query($id: ID!) { task(id: $id) { id title project { id } assignee { id } } }`,
      { id: tenant.taskId },
    );
    expect(found.data).toEqual({
      task: {
        id: tenant.taskId,
        title: 'task task',
        project: { id: tenant.projectId },
        assignee: { id: tenant.users.member },
      },
    });
    const missing = await as.viewer(`query($id: ID!) { task(id: $id) { id } }`, {
      id: randomUUID(),
    });
    expect(missing.data).toEqual({ task: null });
  });

  it('deletes a task with its comments; viewers cannot', async () => {
    const projectId = await newProject(as.member, 'DEL');
    const created = await as.member<{ createTask: { id: string } }>(CREATE, {
      input: { projectId, title: 'Doomed' },
    });
    const id = created.data!.createTask.id;
    await as.member(
      `mutation($id: ID!) { addComment(input: { taskId: $id, body: "bye" }) { id } }`,
      {
        id,
      },
    );
    const DELETE = `mutation($id: ID!) { deleteTask(id: $id) }`;
    expect(errorCode(await as.viewer(DELETE, { id }))).toBe('FORBIDDEN');
    expect((await as.member(DELETE, { id })).data).toEqual({ deleteTask: true });
    const left = await ownerQuery(db.ownerUrl, 'select 1 from app.comments where task_id = $1', [
      id,
    ]);
    expect(left).toEqual([]);
    expect(errorCode(await as.member(DELETE, { id }))).toBe('NOT_FOUND');
    expect(errorCode(await as.viewer(CREATE, { input: { projectId, title: 'No' } }))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await as.viewer(UPDATE, { id: tenant.taskId, input: { title: 'No' } }))).toBe(
      'FORBIDDEN',
    );
  });
});

describe('task lists', () => {
  let projectId: string;

  beforeAll(async () => {
    projectId = await newProject(as.member, 'LIST');
    await ownerQuery(
      db.ownerUrl,
      `insert into app.tasks (tenant_id, project_id, title, status, assignee_id, due_date, created_at)
       select $1, $2, 'Task ' || lpad(i::text, 2, '0'),
              (array['TODO', 'IN_PROGRESS', 'DONE'])[i % 3 + 1],
              case when i % 2 = 0 then $3::uuid end,
              case when i % 4 = 0 then null else date '2030-01-01' + (30 - i) end,
              timestamptz '2024-01-01' + make_interval(secs => i)
         from generate_series(1, 30) i`,
      [tenant.id, projectId, tenant.users.admin],
    );
  });

  it('pages through a project with cursors, counts and the first cap', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page++) {
      const result: { data?: TasksPage | null } = await as.viewer<TasksPage>(TASKS, {
        projectId,
        first: 12,
        after,
      });
      const tasks = result.data!.tasks;
      expect(tasks.totalCount).toBe(30);
      expect(tasks.pageInfo.hasPreviousPage).toBe(page > 0);
      expect(tasks.pageInfo.hasNextPage).toBe(page < 2);
      seen.push(...tasks.edges.map((e) => e.node.title));
      after = tasks.pageInfo.endCursor;
    }
    expect(seen).toEqual(
      Array.from({ length: 30 }, (_, i) => `Task ${String(i + 1).padStart(2, '0')}`),
    );
    const tooMany = await as.viewer(TASKS, { projectId, first: 101 });
    expect([errorCode(tooMany), errorField(tooMany)]).toEqual(['BAD_USER_INPUT', 'first']);
    const badCursor = await as.viewer(TASKS, { projectId, after: 'bm90LWEtY3Vyc29y' });
    expect([errorCode(badCursor), errorField(badCursor)]).toEqual(['BAD_USER_INPUT', 'after']);
  });

  it('filters by status and assignee', async () => {
    const done = await as.viewer<TasksPage>(TASKS, { projectId, filter: { status: 'DONE' } });
    expect(done.data?.tasks.totalCount).toBe(10);
    expect(done.data?.tasks.edges.every((e) => e.node.status === 'DONE')).toBe(true);
    const mine = await as.viewer<TasksPage>(TASKS, {
      projectId,
      filter: { assigneeId: tenant.users.admin, status: 'TODO' },
    });
    expect(mine.data?.tasks.totalCount).toBe(5);
    expect(mine.data?.tasks.edges.every((e) => e.node.assignee?.id === tenant.users.admin)).toBe(
      true,
    );
  });

  it('orders by due date with undated tasks last, across pages', async () => {
    const dates: (string | null)[] = [];
    let after: string | null = null;
    do {
      const result: { data?: TasksPage | null } = await as.viewer<TasksPage>(TASKS, {
        projectId,
        first: 7,
        after,
        orderBy: { field: 'DUE_DATE', direction: 'ASC' },
      });
      dates.push(...result.data!.tasks.edges.map((e) => e.node.dueDate));
      after = result.data!.tasks.pageInfo.hasNextPage
        ? result.data!.tasks.pageInfo.endCursor
        : null;
    } while (after);
    expect(dates).toHaveLength(30);
    const dated = dates.filter((d): d is string => d !== null);
    expect(dated).toEqual([...dated].sort());
    expect(dates.slice(dated.length).every((d) => d === null)).toBe(true);
    const byTitle = await as.viewer<TasksPage>(TASKS, {
      projectId,
      first: 3,
      orderBy: { field: 'TITLE', direction: 'DESC' },
    });
    expect(byTitle.data?.tasks.edges.map((e) => e.node.title)).toEqual([
      'Task 30',
      'Task 29',
      'Task 28',
    ]);
  });

  it('answers an empty list for an unknown project', async () => {
    const result = await as.viewer<TasksPage>(TASKS, { projectId: randomUUID() });
    expect(result.data?.tasks).toMatchObject({ totalCount: 0, edges: [] });
  });

  it('pages nested Project.tasks per project', async () => {
    const result = await as.viewer<{
      project: { tasks: { totalCount: number; pageInfo: { endCursor: string } } };
    }>(
      `query($id: ID!) { project(id: $id) { tasks(first: 25) { totalCount pageInfo { endCursor } } } }`,
      { id: projectId },
    );
    const { endCursor } = result.data!.project.tasks.pageInfo;
    const rest = await as.viewer(
      `query($id: ID!, $after: String) {
        project(id: $id) { tasks(after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage } edges { node { title } } } }
      }`,
      { id: projectId, after: endCursor },
    );
    expect(rest.data).toEqual({
      project: {
        tasks: {
          totalCount: 30,
          pageInfo: { hasNextPage: false, hasPreviousPage: true },
          edges: ['26', '27', '28', '29', '30'].map((n) => ({ node: { title: `Task ${n}` } })),
        },
      },
    });
  });

  it('answers Project.tasks fetched with the project exactly as the tasks list', async () => {
    const FIELDS = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id title description status priority dueDate createdAt updatedAt assignee { id } } }`;
    type Page = { pageInfo: { endCursor: string | null; hasNextPage: boolean } };
    let after: string | null = null;
    for (let page = 0; page < 6; page += 1) {
      const list: GraphQLResult<{ tasks: Page }> = await as.viewer<{ tasks: Page }>(
        `query($projectId: ID!, $after: String) { tasks(projectId: $projectId, first: 7, after: $after) { ${FIELDS} } }`,
        { projectId, after },
      );
      const nested = await as.viewer<{ project: { tasks: Page } }>(
        `query($id: ID!, $after: String) { project(id: $id) { tasks(first: 7, after: $after) { ${FIELDS} } } }`,
        { id: projectId, after },
      );
      expect(nested.data?.project.tasks).toEqual(list.data?.tasks);
      after = list.data!.tasks.pageInfo.endCursor;
      if (!list.data!.tasks.pageInfo.hasNextPage) break;
    }
  });
});

describe('batching', () => {
  // The operation named in the issue, and the same with the users it mentions.
  const REFERENCE = `query($id: ID!) {
    project(id: $id) {
      tasks(first: 20) {
        edges { node { title status comments(first: 10) { edges { node { body } } } } }
      }
    }
  }`;
  const WITH_USERS = `query($id: ID!) {
    project(id: $id) {
      createdBy { id }
      tasks(first: 20) {
        edges { node { title assignee { id } comments(first: 10) { edges { node { body author { id } } } } } }
      }
    }
  }`;

  /** Swaps in a Kysely that logs every statement (BEGIN and COMMIT included) for one call. */
  async function countStatements(run: () => Promise<unknown>): Promise<string[]> {
    const statements: string[] = [];
    const pool = createPool({ connectionString: db.apiUrl, max: 2, statementTimeoutMs: 10_000 });
    const counting = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        statements.push(event.query.sql);
      },
    });
    const original = api.app.deps.db;
    api.app.deps.db = counting;
    try {
      await run();
    } finally {
      api.app.deps.db = original;
      await counting.destroy();
    }
    return statements;
  }

  async function projectWithTasks(key: string, tasks: number): Promise<string> {
    const projectId = await newProject(as.member, key);
    await ownerQuery(
      db.ownerUrl,
      `with t as (
         insert into app.tasks (tenant_id, project_id, title, assignee_id)
         select $1, $2, 'Batched ' || i, (array[$3, $4]::uuid[])[i % 2 + 1]
           from generate_series(1, $5::int) i
         returning id)
       insert into app.comments (tenant_id, task_id, author_id, body)
       select $1, t.id, $3, 'Comment ' || c from t, generate_series(1, 3) c`,
      [tenant.id, projectId, tenant.users.member, tenant.users.admin, tasks],
    );
    return projectId;
  }

  it('answers the reference query in a constant number of round trips', async () => {
    const many = await projectWithTasks('MANY', 20);
    const few = await projectWithTasks('FEW', 2);
    let manyResult: unknown;
    const manyStatements = await countStatements(async () => {
      manyResult = await as.viewer(REFERENCE, { id: many });
    });
    const fewStatements = await countStatements(() => as.viewer(REFERENCE, { id: few }));
    const edges = (
      manyResult as {
        data: { project: { tasks: { edges: { node: { comments: { edges: unknown[] } } }[] } } };
      }
    ).data.project.tasks.edges;
    expect(edges).toHaveLength(20);
    expect(edges.every((e) => e.node.comments.edges.length === 3)).toBe(true);
    // start transaction (sent with the next), set_operation_context, the project with its tasks
    // page and each task's comments page inside (fetched ahead), commit
    expect(manyStatements).toHaveLength(4);
    expect(fewStatements).toHaveLength(4);

    // Users (creator, assignees, comment authors) add at most one batched lookup per level.
    const withUsers = await countStatements(() => as.viewer(WITH_USERS, { id: many }));
    const withUsersFew = await countStatements(() => as.viewer(WITH_USERS, { id: few }));
    expect(withUsers.length).toBeLessThanOrEqual(8);
    expect(withUsersFew).toHaveLength(withUsers.length);
    console.info(
      `reference operation: ${manyStatements.length} statements; with users: ${withUsers.length}\n` +
        withUsers.map((q) => q.replace(/\s+/g, ' ').slice(0, 90)).join('\n'),
    );
  });

  it('pages and counts Project.tasks for several projects in one statement each', async () => {
    const five = await projectWithTasks('PAGES5', 5);
    const none = await newProject(as.member, 'PAGES0');
    const two = await projectWithTasks('PAGES2', 2);
    type Nested = {
      projects: {
        edges: {
          node: {
            id: string;
            tasks: {
              totalCount?: number;
              pageInfo: {
                hasNextPage: boolean;
                hasPreviousPage: boolean;
                endCursor: string | null;
              };
              edges: { node: { title: string } }[];
            };
          };
        }[];
      };
    };
    const query = (count: boolean) => `query($after: String) {
      projects(first: 100) { edges { node { id tasks(first: 2, after: $after) {
        ${count ? 'totalCount' : ''} pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { title } }
      } } } }
    }`;
    const pick = (result: { data?: Nested | null }) =>
      new Map(result.data!.projects.edges.map((e) => [e.node.id, e.node.tasks]));

    let first: { data?: Nested | null } = {};
    const uncounted = await countStatements(async () => {
      first = await as.viewer<Nested>(query(false), {});
    });
    const counted = await countStatements(() => as.viewer<Nested>(query(true), {}));
    // start transaction, context, the planned statement (or, through the resolvers, the
    // projects page and one LATERAL tasks page for all projects), commit; totalCount is counted
    // in the planned statement (or by one grouped count for every project), and only when asked.
    expect(uncounted.length).toBeLessThanOrEqual(5);
    expect(counted.length).toBeLessThanOrEqual(6);
    expect(uncounted.some((q) => /count\(\*\)\s+from/.test(q))).toBe(false);
    expect(counted.some((q) => /count\(\*\)\s+from/.test(q))).toBe(true);

    const pages = pick(first);
    expect(pages.get(five)?.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(pages.get(five)?.edges).toHaveLength(2);
    expect(pages.get(none)).toMatchObject({ edges: [], pageInfo: { hasNextPage: false } });
    expect(pages.get(two)).toMatchObject({ pageInfo: { hasNextPage: false } });
    expect(pages.get(two)?.edges).toHaveLength(2);

    // One cursor for every project: rows of the later project all follow it, none of the empty.
    const after = pages.get(five)!.pageInfo.endCursor;
    const next = pick(await as.viewer<Nested>(query(true), { after }));
    expect(next.get(five)).toMatchObject({
      totalCount: 5,
      pageInfo: { hasNextPage: true, hasPreviousPage: true },
    });
    expect(next.get(five)?.edges).toHaveLength(2);
    expect(next.get(none)).toMatchObject({
      totalCount: 0,
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, endCursor: null },
    });
    expect(next.get(two)).toMatchObject({
      totalCount: 2,
      pageInfo: { hasNextPage: false, hasPreviousPage: false },
    });

    // Past the end of the first project's list: no rows, but rows precede the cursor.
    const last = pick(
      await as.viewer<Nested>(query(true), { after: next.get(five)!.pageInfo.endCursor }),
    );
    const end = pick(
      await as.viewer<Nested>(query(true), { after: last.get(five)!.pageInfo.endCursor }),
    );
    expect(end.get(five)).toMatchObject({
      totalCount: 5,
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: true },
    });
  });
});
