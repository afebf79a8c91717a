import { sql } from 'kysely';
import { anyId } from '../../db/any-id.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { TaskStatusValue } from '../../db/schema.js';

// One statement per part for all the projects of an operation, each a range of the
// (tenant_id, project_id, …) index; every statement names its tenant (see project.repository.ts).

function tasksOf(trx: Tx, tenantId: TenantKey, projectIds: readonly string[]) {
  return trx
    .selectFrom('app.tasks')
    .where('tenant_id', '=', tenantId)
    .where('project_id', '=', anyId(projectIds));
}

const COUNT = sql<number>`count(*)::int`.as('count');

export function countTasks(
  trx: Tx,
  tenantId: TenantKey,
  projectIds: readonly string[],
): Promise<{ project_id: string; count: number }[]> {
  return tasksOf(trx, tenantId, projectIds)
    .select(['project_id', COUNT])
    .groupBy('project_id')
    .execute();
}

export function countTasksByStatus(
  trx: Tx,
  tenantId: TenantKey,
  projectIds: readonly string[],
): Promise<{ project_id: string; status: TaskStatusValue; count: number }[]> {
  return tasksOf(trx, tenantId, projectIds)
    .select(['project_id', 'status', COUNT])
    .groupBy(['project_id', 'status'])
    .execute();
}

export function countTasksByAssignee(
  trx: Tx,
  tenantId: TenantKey,
  projectIds: readonly string[],
): Promise<{ project_id: string; assignee_id: string | null; count: number }[]> {
  return tasksOf(trx, tenantId, projectIds)
    .select(['project_id', 'assignee_id', COUNT])
    .groupBy(['project_id', 'assignee_id'])
    .execute();
}

/**
 * Tasks not DONE whose due date is before `asOf` (YYYY-MM-DD), or before today in UTC by the
 * database's clock, so that every API instance agrees.
 */
export function countOverdueTasks(
  trx: Tx,
  tenantId: TenantKey,
  projectIds: readonly string[],
  asOf: string | null,
): Promise<{ project_id: string; count: number }[]> {
  return tasksOf(trx, tenantId, projectIds)
    .where('status', '<>', 'DONE')
    .where('due_date', '<', sql<string>`coalesce(${asOf}::date, (now() at time zone 'UTC')::date)`)
    .select(['project_id', COUNT])
    .groupBy('project_id')
    .execute();
}
