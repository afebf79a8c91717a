import type { GraphQLContext } from '../../graphql/context.js';
import { groupByKey } from '../../graphql/loaders.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import { loadUser } from '../user/user.service.js';
import type { User } from '../user/user.type.js';
import { TaskStatus } from '../task/task.type.js';
import {
  countOverdueTasks,
  countTasks,
  countTasksByAssignee,
  countTasksByStatus,
} from './task-stats.repository.js';
import type { TaskAssigneeCount, TaskStats, TaskStatusCount } from './task-stats.type.js';

const STATUSES = Object.values(TaskStatus);

/**
 * Rows of one part for every project of the operation that selects it, in one statement (a
 * DataLoader per part): `projects(first: 50) { taskStats { total } }` is two statements, not 51.
 */
function perProject<R extends { project_id: string }>(
  ctx: GraphQLContext,
  part: string,
  fetch: (trx: Tx, tenantId: TenantKey, projectIds: readonly string[]) => Promise<R[]>,
  projectId: string,
): Promise<R[]> {
  const loader = ctx.loaders.get<string, R[]>(`taskStats.${part}`, async (projectIds) => {
    const rows = await fetch(await ctx.db.transaction(), ctx.db.routingTenant(), projectIds);
    return groupByKey(projectIds, rows, (row) => row.project_id);
  });
  return loader.load(projectId);
}

export async function totalTasks(ctx: GraphQLContext, stats: TaskStats): Promise<number> {
  const [row] = await perProject(ctx, 'total', countTasks, stats.projectId);
  return row?.count ?? 0;
}

/** Every status, in the enum's order, zero counts included: a chart needs no gaps filled. */
export async function tasksByStatus(
  ctx: GraphQLContext,
  stats: TaskStats,
): Promise<TaskStatusCount[]> {
  const rows = await perProject(ctx, 'byStatus', countTasksByStatus, stats.projectId);
  const counts = new Map(rows.map((row) => [row.status, row.count]));
  return STATUSES.map((status) => ({ status, count: counts.get(status) ?? 0 }));
}

/** Members with tasks, most tasks first (then by id); the unassigned tasks as user null. */
export async function tasksByAssignee(
  ctx: GraphQLContext,
  stats: TaskStats,
): Promise<TaskAssigneeCount[]> {
  const rows = await perProject(ctx, 'byAssignee', countTasksByAssignee, stats.projectId);
  return rows
    .map((row) => ({ userId: row.assignee_id, count: row.count }))
    .sort((x, y) => y.count - x.count || (x.userId ?? '').localeCompare(y.userId ?? ''));
}

export async function overdueTasks(
  ctx: GraphQLContext,
  stats: TaskStats,
  asOf: string | null,
): Promise<number> {
  const [row] = await perProject(
    ctx,
    `overdue:${asOf ?? ''}`,
    (trx, tenantId, projectIds) => countOverdueTasks(trx, tenantId, projectIds, asOf),
    stats.projectId,
  );
  return row?.count ?? 0;
}

export async function assigneeUser(
  ctx: GraphQLContext,
  count: TaskAssigneeCount,
): Promise<User | null> {
  return count.userId ? ((await loadUser(ctx, count.userId)) ?? null) : null;
}
