import { sql } from 'kysely';
import {
  fetchPage,
  fetchPages,
  type Page,
  type PageRequest,
  type SortKey,
} from '../../db/keyset.js';
import { filterExpression, type Condition, type FilterColumn } from '../../db/filter.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { TaskPriorityValue, TaskStatusValue } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { anyId } from '../../db/any-id.js';

export type TaskOrderFieldValue = 'CREATED_AT' | 'UPDATED_AT' | 'TITLE' | 'DUE_DATE' | 'PRIORITY';

/** Priorities from lowest to highest, as they sort and compare. */
export const TASK_PRIORITIES: readonly TaskPriorityValue[] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];

export const TASK_SORT: Record<TaskOrderFieldValue, SortKey> = {
  CREATED_AT: { expression: sql.ref('created_at'), type: 'timestamptz' },
  UPDATED_AT: { expression: sql.ref('updated_at'), type: 'timestamptz' },
  TITLE: { expression: sql.ref('title'), type: 'text' },
  // NOTE: keyset comparison needs a total order, so a missing due date sorts as 'infinity':
  // last going up, first going down, where PostgreSQL puts nulls by default.
  DUE_DATE: { expression: sql`coalesce(due_date, 'infinity'::date)`, type: 'date' },
  PRIORITY: {
    expression: sql`array_position(array['LOW', 'MEDIUM', 'HIGH', 'URGENT'], priority)`,
    type: 'integer',
  },
};

/** What a task filter's fields compare (filter names, see task.service.ts). */
export const TASK_FILTER = {
  id: { column: 'id', type: 'uuid' },
  status: { column: 'status', type: 'text' },
  priority: { column: 'priority', type: 'text', ranks: TASK_PRIORITIES },
  title: { column: 'title', type: 'text' },
  description: { column: 'description', type: 'text' },
  assignee: { column: 'assignee_id', type: 'uuid', nullable: true },
  dueDate: { column: 'due_date', type: 'date', nullable: true },
  createdAt: { column: 'created_at', type: 'timestamptz' },
  updatedAt: { column: 'updated_at', type: 'timestamptz' },
} as const satisfies Record<string, FilterColumn>;

export const TASK_COLUMNS = [
  'id',
  'project_id',
  'title',
  'description',
  'status',
  'priority',
  'assignee_id',
  'due_date',
  'created_at',
  'updated_at',
] as const;

export interface TaskRow {
  id: string;
  project_id: string;
  title: string;
  description: string;
  status: TaskStatusValue;
  priority: TaskPriorityValue;
  assignee_id: string | null;
  due_date: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface TaskValues {
  project_id: string;
  title: string;
  description: string;
  status?: TaskStatusValue;
  priority?: TaskPriorityValue;
  assignee_id: string | null;
  due_date: string | null;
}

export type TaskChanges = Partial<Omit<TaskValues, 'project_id'>>;

// Every statement names its tenant: see project.repository.ts.

export function findTasksByIds(
  trx: Tx,
  tenantId: TenantKey,
  ids: readonly string[],
): Promise<TaskRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return allTasks(trx, tenantId).where('id', '=', anyId(ids)).execute();
}

export function findTaskById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<TaskRow | undefined> {
  return allTasks(trx, tenantId).where('id', '=', id).executeTakeFirst();
}

export async function getTaskById(trx: Tx, tenantId: TenantKey, id: string): Promise<TaskRow> {
  const row = await findTaskById(trx, tenantId, id);
  if (!row) throw new NotFoundError('Task', id);
  return row;
}

/** One page of a project's tasks. */
export function findTaskPage(
  trx: Tx,
  tenantId: TenantKey,
  projectId: string,
  filter: Condition | undefined,
  page: PageRequest,
): Promise<Page<TaskRow>> {
  const base = filteredTasks(trx, tenantId, filter).where('project_id', '=', projectId);
  return fetchPage(trx, base, page);
}

function allTasks(trx: Tx, tenantId: TenantKey) {
  return trx.selectFrom('app.tasks').select(TASK_COLUMNS).where('tenant_id', '=', tenantId);
}

function filteredTasks(trx: Tx, tenantId: TenantKey, filter: Condition | undefined) {
  const base = allTasks(trx, tenantId);
  return filter ? base.where((eb) => filterExpression(eb, filter, TASK_FILTER)) : base;
}

/** The same page of tasks for each of several projects, in one query (Project.tasks). */
export function findTaskPagesByProjects(
  trx: Tx,
  tenantId: TenantKey,
  projectIds: readonly string[],
  filter: Condition | undefined,
  page: PageRequest,
): Promise<Page<TaskRow>[]> {
  const parents = { column: 'project_id', ids: projectIds };
  return fetchPages(trx, filteredTasks(trx, tenantId, filter), page, parents);
}

export function insertTask(trx: Tx, tenantId: string, values: TaskValues): Promise<TaskRow> {
  return trx
    .insertInto('app.tasks')
    .values({ ...values, tenant_id: tenantId })
    .returning(TASK_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Undefined when no such task is visible and writable here. */
export function updateTaskById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
  changes: TaskChanges,
): Promise<TaskRow | undefined> {
  if (Object.keys(changes).length === 0) return findTaskById(trx, tenantId, id);
  return trx
    .updateTable('app.tasks')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returning(TASK_COLUMNS)
    .executeTakeFirst();
}

/** Its comments go with it (foreign key cascades). False when nothing was deleted. */
export async function deleteTaskById(trx: Tx, tenantId: TenantKey, id: string): Promise<boolean> {
  const result = await trx
    .deleteFrom('app.tasks')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
