import type { GraphQLContext } from '../../graphql/context.js';
import {
  orderingOf,
  pageArgs,
  toConnection,
  type Connection,
  type RequestedOrder,
} from '../../graphql/connection.js';
import type { Condition } from '../../db/filter.js';
import { readFilter, rulesFor, type FilterRule } from '../../graphql/filter.js';
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
import type { ProjectTasksArgs, TasksArgs } from './task.args.js';
import type { CreateTaskInput, TaskFilter, UpdateTaskInput } from './task.input.js';
import {
  TASK_FILTER,
  TASK_SORT,
  deleteTaskById,
  findTaskPage,
  findTaskPagesByProjects,
  findTasksByIds,
  insertTask,
  updateTaskById,
  type TaskOrderFieldValue,
  type TaskRow,
} from './task.repository.js';
import type { Task } from './task.type.js';

const TITLE = { min: 1, max: 300 };

/** The fields of TaskFilter: operator inputs by their names, the older plain ones as `eq`. */
const TASK_FILTER_RULES: Readonly<Record<string, FilterRule>> = {
  ...rulesFor(TASK_FILTER),
  status: { field: 'status', column: TASK_FILTER.status, shorthand: true },
  statusIs: { field: 'status', column: TASK_FILTER.status },
  assigneeId: { field: 'assignee', column: TASK_FILTER.assignee, shorthand: true },
};

const OLDEST_FIRST: RequestedOrder<TaskOrderFieldValue> = { field: 'CREATED_AT', direction: 'ASC' };

/** A task filter as conditions, every value checked (BAD_USER_INPUT otherwise). */
export function taskCondition(filter: TaskFilter | null | undefined): Condition | undefined {
  return readFilter(filter, TASK_FILTER_RULES);
}
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
    const order = orderingOf(TASK_SORT, args, OLDEST_FIRST);
    const page = await findTaskPage(
      await ctx.db.transaction(),
      ctx.db.routingTenant(),
      projectId,
      taskCondition(args.filter),
      pageArgs(args, order),
    );
    return toConnection(page, order, toTask);
  });
}

/**
 * Project.tasks, when graphql-js resolves it (the planner answers most reads, see
 * graphql/planner): every project in the operation asking for the same page shares one query,
 * a LATERAL page per project.
 */
export async function projectTasks(
  ctx: GraphQLContext,
  project: Project,
  args: ProjectTasksArgs,
): Promise<Connection<Task>> {
  const order = orderingOf(TASK_SORT, args, OLDEST_FIRST);
  const page = pageArgs(args, order);
  const filter = taskCondition(args.filter);
  // Fields asking for the same page under the same filter share a loader, so one statement.
  const loader = ctx.loaders.get<string, Connection<Task>>(
    `project.tasks:${page.key}:${JSON.stringify(filter ?? null)}`,
    async (projectIds) => {
      const pages = await findTaskPagesByProjects(
        await ctx.db.transaction(),
        ctx.db.routingTenant(),
        projectIds,
        filter,
        page,
      );
      return pages.map((one) => toConnection(one, order, toTask));
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
