import { sql } from 'kysely';
import { fetchPage, type Page, type PageRequest, type SortKey } from '../../db/keyset.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { DeliveryStatusValue, NotificationChannelValue } from '../../db/schema.js';

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
  tenantId: TenantKey,
  filter: { unreadOnly: boolean },
  page: PageRequest,
): Promise<Page<NotificationRow>> {
  let base = trx.selectFrom('app.notifications').select(COLUMNS).where('tenant_id', '=', tenantId);
  if (filter.unreadOnly) base = base.where('read_at', 'is', null);
  return fetchPage(trx, base, page);
}

/** These notifications, of those RLS shows the caller. */
export function findNotificationsByIds(
  trx: Tx,
  tenantId: TenantKey,
  ids: readonly string[],
): Promise<NotificationRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return trx
    .selectFrom('app.notifications')
    .select(COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('id', 'in', ids)
    .execute();
}

export async function countUnread(trx: Tx, tenantId: TenantKey): Promise<number> {
  const row = await trx
    .selectFrom('app.notifications')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('read_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Marks the given (or, with no ids, all) unread notifications read; returns how many. */
export async function markRead(
  trx: Tx,
  tenantId: TenantKey,
  ids: readonly string[] | undefined,
): Promise<number> {
  let query = trx
    .updateTable('app.notifications')
    .set({ read_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenantId)
    .where('read_at', 'is', null);
  if (ids) query = query.where('id', 'in', ids);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface ChannelRow {
  channel: NotificationChannelValue;
  enabled: boolean;
  kinds: string[];
  url: string | null;
}

export interface ChannelState extends ChannelRow {
  previous_secret_expires_at: Date | null;
}

/** The current tenant's channel rows (RLS shows them to its owners and admins only). */
export function findChannels(trx: Tx, tenantId: TenantKey): Promise<ChannelState[]> {
  return trx
    .selectFrom('app.notification_channels')
    .select(['channel', 'enabled', 'kinds', 'url', 'previous_secret_expires_at'])
    .where('tenant_id', '=', tenantId)
    .execute();
}

/** Creates a channel row in the current tenant; `secret` is write-only (no column grant reads it). */
export async function insertChannel(
  trx: Tx,
  tenantId: string,
  row: ChannelRow & { secret: string | undefined },
): Promise<void> {
  await trx
    .insertInto('app.notification_channels')
    .values({
      tenant_id: tenantId,
      channel: row.channel,
      enabled: row.enabled,
      kinds: row.kinds,
      url: row.url,
      secret: row.secret,
    })
    .execute();
}

export async function updateChannel(
  trx: Tx,
  tenantId: TenantKey,
  channel: NotificationChannelValue,
  changes: {
    enabled?: boolean;
    kinds?: string[];
    url?: string | null;
    secret?: string;
    previous_secret_expires_at?: Date | null;
  },
): Promise<void> {
  await trx
    .updateTable('app.notification_channels')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('channel', '=', channel)
    .execute();
}

export const DELIVERY_SORT: SortKey = {
  expression: sql.ref('created_at'),
  type: 'timestamptz',
};

export interface DeliveryRow {
  id: string;
  notification_id: string | null;
  channel: NotificationChannelValue;
  kind: string;
  status: DeliveryStatusValue;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_error: string | null;
  last_http_status: number | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** The delivery log of the current tenant (RLS: owners and admins), newest first. */
export function findDeliveryPage(
  trx: Tx,
  tenantId: TenantKey,
  filter: {
    status: DeliveryStatusValue | undefined;
    channel: NotificationChannelValue | undefined;
  },
  page: PageRequest,
): Promise<Page<DeliveryRow>> {
  let base = trx
    .selectFrom('app.notification_deliveries')
    .select([
      'id',
      'notification_id',
      'channel',
      'kind',
      'status',
      'attempts',
      'next_attempt_at',
      'last_attempt_at',
      'last_error',
      'last_http_status',
      'delivered_at',
      'created_at',
    ])
    .where('tenant_id', '=', tenantId);
  if (filter.status) base = base.where('status', '=', filter.status);
  if (filter.channel) base = base.where('channel', '=', filter.channel);
  return fetchPage(trx, base, page);
}

/** Sends a failed or dead delivery again (app.redeliver_notification_delivery); false if none. */
export async function redeliverDelivery(trx: Tx, id: string): Promise<boolean> {
  const { rows } = await sql<{ id: string | null }>`
    select app.redeliver_notification_delivery(${id}::uuid) as id`.execute(trx);
  return rows[0]?.id != null;
}
