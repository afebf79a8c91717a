import type { GraphQLResolveInfo } from 'graphql';
import type { Embedding } from '../../db/keyset.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { GraphQLContext } from '../../graphql/context.js';
import {
  pageArgs,
  toConnection,
  type Connection,
  type ConnectionArgs,
} from '../../graphql/connection.js';
import { byKey } from '../../graphql/loaders.js';
import {
  definedOnly,
  optionalId,
  requireId,
  requireText,
  updatedText,
  updatedValue,
} from '../../graphql/validate.js';
import type { TextRule } from '../../graphql/validate.js';
import { pageAhead, type PageAhead, type Projection } from '../../graphql/ahead.js';
import { NotFoundError } from '../../errors.js';
import { enforceQuota } from '../../tenancy/quota.js';
import { memberRead, requireWriter } from '../../tenancy/permissions.js';
import { commentsAhead } from '../comment/comment.service.js';
import { loadProject } from '../project/project.service.js';
import type { Project } from '../project/project.type.js';
import { loadUser } from '../user/user.service.js';
import type { User } from '../user/user.type.js';
import type { TasksArgs } from './task.args.js';
import type { CreateTaskInput, UpdateTaskInput } from './task.input.js';
import {
  TASK_COLUMNS,
  TASK_SORT,
  deleteTaskById,
  findTaskPage,
  findTaskPagesByProjects,
  findTasksByIds,
  insertTask,
  taskCounts,
  taskPageEmbed,
  updateTaskById,
  type TaskRow,
} from './task.repository.js';
import type { Task } from './task.type.js';

const TITLE = { min: 1, max: 300 };
const DESCRIPTION: TextRule = { min: 0, max: 20_000, keepWhitespace: true };

export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    projectId: row.project_id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    assigneeId: row.assignee_id,
    dueDate: row.due_date,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Batched task lookup in the operation's transaction; hidden and missing look the same. */
export async function loadTask(ctx: GraphQLContext, id: string): Promise<Task | undefined> {
  const loader = ctx.loaders.get<string, Task | undefined>('task', async (ids) => {
    const trx = await ctx.db.transaction();
    const rows = await findTasksByIds(trx, ctx.db.routingTenant(), ids);
    return byKey(ids, rows.map(toTask), (t) => t.id);
  });
  return loader.load(id);
}

export async function findTask(ctx: GraphQLContext, id: string): Promise<Task | null> {
  return memberRead(ctx.db, async () => (await loadTask(ctx, requireId('id', id))) ?? null);
}

/**
 * Tasks as nodes of a connection, each holding the comments page fetched ahead with it (if any):
 * the embedded pages are counted together, so all rows are handed over at once.
 */
function tasksOf(
  trx: Tx,
  tenantId: TenantKey,
  rows: readonly (TaskRow & Embedding)[],
  ahead: PageAhead<Task> | undefined,
) {
  const tasks = new Map(rows.map((row) => [row, toTask(row)]));
  ahead?.attach(
    trx,
    tenantId,
    rows.map((row) => ({ parent: tasks.get(row)!, row })),
  );
  return (row: TaskRow & Embedding) => tasks.get(row) ?? toTask(row);
}

/** A project's tasks; a hidden or missing project simply has none. */
export async function listTasks(
  ctx: GraphQLContext,
  args: TasksArgs,
  info: GraphQLResolveInfo,
): Promise<Connection<Task>> {
  return memberRead(ctx.db, async () => {
    const projectId = requireId('projectId', args.projectId);
    const order = args.orderBy?.field ?? 'CREATED_AT';
    const sort = TASK_SORT[order];
    const { first, after } = pageArgs(args, order, sort.type);
    const filter = {
      status: args.filter?.status ?? undefined,
      assigneeId: optionalId('assigneeId', args.filter?.assigneeId) ?? undefined,
    };
    const ahead = commentsAhead(info, ['edges', 'node']);
    const trx = await ctx.db.transaction();
    const tenantId = ctx.db.routingTenant();
    const page = await findTaskPage(
      trx,
      tenantId,
      projectId,
      filter,
      { sort, direction: args.orderBy?.direction ?? 'ASC', first, after },
      ahead ? [ahead.embed(trx, tenantId)] : [],
    );
    return toConnection(page, order, tasksOf(trx, tenantId, page.rows, ahead));
  });
}

/** The task columns each Task field reads (test/graphql/projection.test.ts checks all are here). */
export const TASK_PROJECTION: Projection = {
  all: TASK_COLUMNS,
  byField: {
    __typename: [],
    id: ['id'],
    title: ['title'],
    description: ['description'],
    status: ['status'],
    priority: ['priority'],
    dueDate: ['due_date'],
    createdAt: ['created_at'],
    updatedAt: ['updated_at'],
    project: ['project_id'],
    assignee: ['assignee_id'],
    comments: ['id'],
  },
  timestamps: ['created_at', 'updated_at'],
};

/** Which page of a project's tasks a Project.tasks field asks for. */
const projectTaskPageOf = (args: { first?: number | null; after?: string | null }) =>
  pageArgs(args, 'CREATED_AT', TASK_SORT.CREATED_AT.type);

/**
 * Project.tasks: a page fetched ahead with the project (see tasksAhead) when there is one for
 * these arguments; otherwise every project in the operation asking for the same page shares one
 * query (a LATERAL page per project), with the tasks' comments when they are asked for.
 */
export async function projectTasks(
  ctx: GraphQLContext,
  project: Project,
  args: ConnectionArgs,
  info: GraphQLResolveInfo,
): Promise<Connection<Task>> {
  const { first, after, key } = projectTaskPageOf(args);
  const fetched = project.taskPages?.get(key);
  if (fetched) return fetched;
  const comments = commentsAhead(info, ['edges', 'node']);
  const loader = ctx.loaders.get<string, Connection<Task>>(
    `project.tasks:${key}:${comments?.key ?? ''}`,
    async (projectIds) => {
      const trx = await ctx.db.transaction();
      const tenantId = ctx.db.routingTenant();
      const pages = await findTaskPagesByProjects(
        trx,
        tenantId,
        projectIds,
        { sort: TASK_SORT.CREATED_AT, direction: 'ASC', first, after },
        comments ? [comments.embed(trx, tenantId)] : [],
      );
      const toNode = tasksOf(
        trx,
        tenantId,
        pages.flatMap((page) => page.rows),
        comments,
      );
      return pages.map((page) => toConnection(page, 'CREATED_AT', toNode));
    },
  );
  return loader.load(project.id);
}

/**
 * The page of tasks, and of their comments, the projects being resolved will be asked for
 * (`path` leads from the field being resolved to a Project), fetched in the projects' own
 * statement; see pageAhead.
 */
export function tasksAhead(
  info: GraphQLResolveInfo,
  path: readonly string[],
): PageAhead<Project> | undefined {
  const comments = commentsAhead(info, [...path, 'tasks', 'edges', 'node']);
  return pageAhead<Project, TaskRow, Task>(info, path, {
    field: 'tasks',
    pageOf: projectTaskPageOf,
    order: 'CREATED_AT',
    sort: TASK_SORT.CREATED_AT,
    embed: (trx, tenantId, page, columns) =>
      taskPageEmbed(trx, tenantId, page, comments ? [comments.embed(trx, tenantId)] : [], columns),
    projection: TASK_PROJECTION,
    count: taskCounts,
    nodes: (trx, tenantId, rows) => tasksOf(trx, tenantId, rows, comments),
    keep: (project, key, connection) => {
      project.taskPages ??= new Map();
      project.taskPages.set(key, connection);
    },
    nestedKey: comments?.key,
  });
}

export async function taskProject(ctx: GraphQLContext, task: Task): Promise<Project> {
  const project = await loadProject(ctx, task.projectId);
  // The composite foreign key keeps a task inside its project's tenant, so this means a bug.
  if (!project) throw new NotFoundError('Project', task.projectId);
  return project;
}

export async function taskAssignee(ctx: GraphQLContext, task: Task): Promise<User | null> {
  return task.assigneeId ? ((await loadUser(ctx, task.assigneeId)) ?? null) : null;
}

export async function createTask(ctx: GraphQLContext, input: CreateTaskInput): Promise<Task> {
  const { tenantId } = await requireWriter(ctx.db);
  const values = {
    project_id: requireId('projectId', input.projectId),
    title: requireText('title', input.title, TITLE),
    description: requireText('description', input.description ?? '', DESCRIPTION),
    assignee_id: optionalId('assigneeId', input.assigneeId),
    due_date: input.dueDate ?? null,
    ...definedOnly({
      status: input.status ?? undefined,
      priority: input.priority ?? undefined,
    }),
  };
  await enforceQuota(ctx.db, 'tasks');
  // A project or assignee of another tenant fails the composite foreign keys: BAD_USER_INPUT.
  return toTask(await insertTask(await ctx.db.transaction(), tenantId, values));
}

export async function updateTask(
  ctx: GraphQLContext,
  id: string,
  input: UpdateTaskInput,
): Promise<Task> {
  const { tenantId } = await requireWriter(ctx.db);
  const taskId = requireId('id', id);
  const changes = definedOnly({
    title: updatedText('title', input.title, TITLE),
    description: updatedText('description', input.description, DESCRIPTION),
    status: updatedValue('status', input.status),
    priority: updatedValue('priority', input.priority),
    assignee_id:
      input.assigneeId === undefined ? undefined : optionalId('assigneeId', input.assigneeId),
    due_date: input.dueDate,
  });
  const row = await updateTaskById(await ctx.db.transaction(), tenantId, taskId, changes);
  if (!row) throw new NotFoundError('Task', taskId);
  return toTask(row);
}

export async function deleteTask(ctx: GraphQLContext, id: string): Promise<boolean> {
  const { tenantId } = await requireWriter(ctx.db);
  const taskId = requireId('id', id);
  if (!(await deleteTaskById(await ctx.db.transaction(), tenantId, taskId))) {
    throw new NotFoundError('Task', taskId);
  }
  return true;
}
