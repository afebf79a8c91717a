import { sql } from 'kysely';
import { fetchPages, type Page, type PageRequest, type SortKey } from '../../db/keyset.js';
import { filterExpression, type Condition, type FilterColumn } from '../../db/filter.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import { NotFoundError } from '../../errors.js';
import { anyId } from '../../db/any-id.js';

export type CommentOrderFieldValue = 'CREATED_AT' | 'UPDATED_AT';

export const COMMENT_SORT: Record<CommentOrderFieldValue, SortKey> = {
  CREATED_AT: { expression: sql.ref('created_at'), type: 'timestamptz' },
  UPDATED_AT: { expression: sql.ref('updated_at'), type: 'timestamptz' },
};

/** What a comment filter's fields compare (CommentFilter's field names). */
export const COMMENT_FILTER = {
  id: { column: 'id', type: 'uuid' },
  author: { column: 'author_id', type: 'uuid', nullable: true },
  body: { column: 'body', type: 'text' },
  createdAt: { column: 'created_at', type: 'timestamptz' },
  updatedAt: { column: 'updated_at', type: 'timestamptz' },
} as const satisfies Record<string, FilterColumn>;

export const COMMENT_COLUMNS = [
  'id',
  'task_id',
  'author_id',
  'body',
  'created_at',
  'updated_at',
] as const;

export interface CommentRow {
  id: string;
  task_id: string;
  author_id: string | null;
  body: string;
  created_at: Date;
  updated_at: Date;
}

// Every statement names its tenant: see project.repository.ts.

export function findCommentsByIds(
  trx: Tx,
  tenantId: TenantKey,
  ids: readonly string[],
): Promise<CommentRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return allComments(trx, tenantId).where('id', '=', anyId(ids)).execute();
}

export function findCommentById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<CommentRow | undefined> {
  return allComments(trx, tenantId).where('id', '=', id).executeTakeFirst();
}

export async function getCommentById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<CommentRow> {
  const row = await findCommentById(trx, tenantId, id);
  if (!row) throw new NotFoundError('Comment', id);
  return row;
}

function allComments(trx: Tx, tenantId: TenantKey) {
  return trx.selectFrom('app.comments').select(COMMENT_COLUMNS).where('tenant_id', '=', tenantId);
}

/** The same page of comments for each of several tasks, in one query (Task.comments). */
export function findCommentPagesByTasks(
  trx: Tx,
  tenantId: TenantKey,
  taskIds: readonly string[],
  filter: Condition | undefined,
  page: PageRequest,
): Promise<Page<CommentRow>[]> {
  const base = allComments(trx, tenantId);
  return fetchPages(
    trx,
    filter ? base.where((eb) => filterExpression(eb, filter, COMMENT_FILTER)) : base,
    page,
    { column: 'task_id', ids: taskIds },
  );
}

/** The author is always the caller: author_id defaults to app.current_user_id(). */
export function insertComment(
  trx: Tx,
  tenantId: string,
  values: { task_id: string; body: string },
): Promise<CommentRow> {
  return trx
    .insertInto('app.comments')
    .values({ ...values, tenant_id: tenantId })
    .returning(COMMENT_COLUMNS)
    .executeTakeFirstOrThrow();
}

export function updateCommentById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
  body: string,
): Promise<CommentRow | undefined> {
  return trx
    .updateTable('app.comments')
    .set({ body })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returning(COMMENT_COLUMNS)
    .executeTakeFirst();
}

export async function deleteCommentById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<boolean> {
  const result = await trx
    .deleteFrom('app.comments')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
