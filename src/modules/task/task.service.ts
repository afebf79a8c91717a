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
import { NotFoundError } from '../../errors.js';
import { enforceQuota } from '../../tenancy/quota.js';
import { memberRead, requireWriter } from '../../tenancy/permissions.js';
import { loadProject } from '../project/project.service.js';
import type { Project } from '../project/project.type.js';
import { loadUser } from '../user/user.service.js';
import type { User } from '../user/user.type.js';
import type { TasksArgs } from './task.args.js';
import type { CreateTaskInput, UpdateTaskInput } from './task.input.js';
import {
  TASK_SORT,
  deleteTaskById,
  findTaskPage,
  findTaskPagesByProjects,
  findTasksByIds,
  insertTask,
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

/** A project's tasks; a hidden or missing project simply has none. */
export async function listTasks(ctx: GraphQLContext, args: TasksArgs): Promise<Connection<Task>> {
  return memberRead(ctx.db, async () => {
    const projectId = requireId('projectId', args.projectId);
    const order = args.orderBy?.field ?? 'CREATED_AT';
    const sort = TASK_SORT[order];
    const { first, after } = pageArgs(args, order, sort.type);
    const filter = {
      status: args.filter?.status ?? undefined,
      assigneeId: optionalId('assigneeId', args.filter?.assigneeId) ?? undefined,
    };
    const page = await findTaskPage(
      await ctx.db.transaction(),
      ctx.db.routingTenant(),
      projectId,
      filter,
      { sort, direction: args.orderBy?.direction ?? 'ASC', first, after },
    );
    return toConnection(page, order, toTask);
  });
}

/** Which page of a project's tasks a Project.tasks field asks for. */
const projectTaskPageOf = (args: { first?: number | null; after?: string | null }) =>
  pageArgs(args, 'CREATED_AT', TASK_SORT.CREATED_AT.type);

/**
 * Project.tasks, when graphql-js resolves it (the planner answers most reads, see
 * graphql/planner): every project in the operation asking for the same page shares one query,
 * a LATERAL page per project.
 */
export async function projectTasks(
  ctx: GraphQLContext,
  project: Project,
  args: ConnectionArgs,
): Promise<Connection<Task>> {
  const { first, after, key } = projectTaskPageOf(args);
  const loader = ctx.loaders.get<string, Connection<Task>>(
    `project.tasks:${key}`,
    async (projectIds) => {
      const pages = await findTaskPagesByProjects(
        await ctx.db.transaction(),
        ctx.db.routingTenant(),
        projectIds,
        { sort: TASK_SORT.CREATED_AT, direction: 'ASC', first, after },
      );
      return pages.map((page) => toConnection(page, 'CREATED_AT', toTask));
    },
  );
  return loader.load(project.id);
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
