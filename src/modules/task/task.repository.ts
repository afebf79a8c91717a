import { sql } from 'kysely';
import {
  countsPerParent,
  fetchPage,
  fetchPages,
  type Embed,
  type Embedding,
  type Page,
  type PageRequest,
  type SortKey,
} from '../../db/keyset.js';
import type { Tx } from '../../db/operation.js';
import type { TaskPriorityValue, TaskStatusValue } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { anyId } from '../../db/any-id.js';

export type TaskOrderFieldValue = 'CREATED_AT' | 'TITLE' | 'DUE_DATE';

export const TASK_SORT: Record<TaskOrderFieldValue, SortKey> = {
  CREATED_AT: { expression: sql.ref('created_at'), type: 'timestamptz' },
  TITLE: { expression: sql.ref('title'), type: 'text' },
  // NOTE: keyset comparison needs a total order, so a missing due date sorts as 'infinity'.
  DUE_DATE: { expression: sql`coalesce(due_date, 'infinity'::date)`, type: 'date' },
};

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

export interface TaskListFilter {
  status?: TaskStatusValue | undefined;
  assigneeId?: string | undefined;
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

export function findTasksByIds(trx: Tx, ids: readonly string[]): Promise<TaskRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return trx.selectFrom('app.tasks').select(TASK_COLUMNS).where('id', '=', anyId(ids)).execute();
}

export function findTaskById(trx: Tx, id: string): Promise<TaskRow | undefined> {
  return trx.selectFrom('app.tasks').select(TASK_COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function getTaskById(trx: Tx, id: string): Promise<TaskRow> {
  const row = await findTaskById(trx, id);
  if (!row) throw new NotFoundError('Task', id);
  return row;
}

/** One page of a project's tasks, with the embeds' pages (comments) inside each task. */
export function findTaskPage(
  trx: Tx,
  projectId: string,
  filter: TaskListFilter,
  page: PageRequest,
  embeds: readonly Embed[],
): Promise<Page<TaskRow & Embedding>> {
  let base = trx.selectFrom('app.tasks').select(TASK_COLUMNS).where('project_id', '=', projectId);
  if (filter.status) base = base.where('status', '=', filter.status);
  if (filter.assigneeId) base = base.where('assignee_id', '=', filter.assigneeId);
  return fetchPage(trx, base, page, { embeds });
}

function allTasks(trx: Tx) {
  return trx.selectFrom('app.tasks').select(TASK_COLUMNS);
}

/** The same page of tasks for each of several projects, in one query (Project.tasks). */
export function findTaskPagesByProjects(
  trx: Tx,
  projectIds: readonly string[],
  page: PageRequest,
  embeds: readonly Embed[],
): Promise<Page<TaskRow & Embedding>[]> {
  return fetchPages(trx, allTasks(trx), page, { column: 'project_id', ids: projectIds }, embeds);
}

/** A page of each project's tasks (with their own embeds) inside the statement reading projects. */
export function taskPageEmbed(
  trx: Tx,
  page: PageRequest,
  embeds: readonly Embed[],
  columns: readonly string[] = TASK_COLUMNS,
): Embed {
  return {
    name: 'tasks',
    base: allTasks(trx),
    column: 'project_id',
    columns,
    page,
    embeds,
  };
}

/** The total tasks of each project, counted for all of them in one statement on first call. */
export function taskCounts(trx: Tx, projectIds: readonly string[]) {
  return countsPerParent(trx, allTasks(trx), 'project_id', projectIds);
}

export function insertTask(trx: Tx, values: TaskValues): Promise<TaskRow> {
  return trx
    .insertInto('app.tasks')
    .values(values)
    .returning(TASK_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Undefined when no such task is visible and writable here. */
export function updateTaskById(
  trx: Tx,
  id: string,
  changes: TaskChanges,
): Promise<TaskRow | undefined> {
  if (Object.keys(changes).length === 0) return findTaskById(trx, id);
  return trx
    .updateTable('app.tasks')
    .set(changes)
    .where('id', '=', id)
    .returning(TASK_COLUMNS)
    .executeTakeFirst();
}

/** Its comments go with it (foreign key cascades). False when nothing was deleted. */
export async function deleteTaskById(trx: Tx, id: string): Promise<boolean> {
  const result = await trx.deleteFrom('app.tasks').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
