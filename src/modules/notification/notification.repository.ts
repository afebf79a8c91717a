import { sql } from 'kysely';
import { fetchPage, type PageMeta, type PageRequest, type SortKey } from '../../db/keyset.js';
import type { Tx } from '../../db/operation.js';

export const NOTIFICATION_SORT: SortKey = {
  expression: sql.ref('created_at'),
  type: 'timestamptz',
};

export interface NotificationRow {
  id: string;
  kind: string;
  actor_id: string | null;
  project_id: string | null;
  task_id: string | null;
  payload: Record<string, unknown>;
  read_at: Date | null;
  created_at: Date;
}

const COLUMNS = [
  'id',
  'kind',
  'actor_id',
  'project_id',
  'task_id',
  'payload',
  'read_at',
  'created_at',
] as const;

/** The caller's notifications (RLS shows a recipient only their own), newest first. */
export function findNotificationPage(
  trx: Tx,
  filter: { unreadOnly: boolean },
  page: PageRequest,
): Promise<(NotificationRow & PageMeta)[]> {
  let base = trx.selectFrom('app.notifications').select(COLUMNS);
  if (filter.unreadOnly) base = base.where('read_at', 'is', null);
  return fetchPage(trx, base, page);
}

/** These notifications, of those RLS shows the caller. */
export function findNotificationsByIds(
  trx: Tx,
  ids: readonly string[],
): Promise<NotificationRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return trx.selectFrom('app.notifications').select(COLUMNS).where('id', 'in', ids).execute();
}

export async function countUnread(trx: Tx): Promise<number> {
  const row = await trx
    .selectFrom('app.notifications')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('read_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Marks the given (or, with no ids, all) unread notifications read; returns how many. */
export async function markRead(trx: Tx, ids: readonly string[] | undefined): Promise<number> {
  let query = trx
    .updateTable('app.notifications')
    .set({ read_at: sql<Date>`now()` })
    .where('read_at', 'is', null);
  if (ids) query = query.where('id', 'in', ids);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
