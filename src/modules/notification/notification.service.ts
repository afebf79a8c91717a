import type { GraphQLContext } from '../../graphql/context.js';
import { pageArgs, toConnection, type Connection } from '../../graphql/connection.js';
import { requireId } from '../../graphql/validate.js';
import { BadUserInputError } from '../../errors.js';
import { requireMember } from '../../tenancy/permissions.js';
import type { NotificationsArgs } from './notification.args.js';
import {
  NOTIFICATION_SORT,
  countUnread,
  findNotificationPage,
  findNotificationsByIds,
  markRead,
  type NotificationRow,
} from './notification.repository.js';
import type { Notification, NotificationKind } from './notification.type.js';

const ORDER = 'NEWEST';
const MAX_IDS = 500;

function text(payload: Record<string, unknown>, key: string): string {
  const value = payload[key];
  return typeof value === 'string' ? value : '';
}

function message(kind: NotificationKind, payload: Record<string, unknown>): string {
  switch (kind) {
    case 'TASK_ASSIGNED':
      return `You were assigned "${text(payload, 'title')}".`;
    case 'TASK_COMMENTED':
      return `New comment on "${text(payload, 'title')}".`;
    case 'PROJECT_STATUS_CHANGED':
      return `"${text(payload, 'name')}" moved from ${text(payload, 'from')} to ${text(payload, 'to')}.`;
    case 'MEMBER_ADDED':
      return `You were added to this tenant as ${text(payload, 'role')}.`;
  }
}

function toNotification(row: NotificationRow): Notification {
  const kind = row.kind as NotificationKind;
  return {
    id: row.id,
    kind,
    message: message(kind, row.payload),
    read: row.read_at !== null,
    createdAt: row.created_at,
    actorId: row.actor_id,
    projectId: row.project_id,
    taskId: row.task_id,
  };
}

export async function listNotifications(
  ctx: GraphQLContext,
  args: NotificationsArgs,
): Promise<Connection<Notification>> {
  await requireMember(ctx.db);
  const { first, after } = pageArgs(args, ORDER, NOTIFICATION_SORT.type);
  const rows = await findNotificationPage(
    await ctx.db.transaction(),
    { unreadOnly: args.unreadOnly },
    { sort: NOTIFICATION_SORT, direction: 'DESC', first, after },
  );
  return toConnection(rows, first, ORDER, toNotification);
}

/** The caller's own notifications among these ids (RLS hides everyone else's), for live updates. */
export async function notificationsByIds(
  ctx: GraphQLContext,
  ids: readonly string[],
): Promise<Notification[]> {
  await requireMember(ctx.db);
  const rows = await findNotificationsByIds(await ctx.db.transaction(), ids);
  return rows.map(toNotification);
}

export async function unreadNotificationCount(ctx: GraphQLContext): Promise<number> {
  await requireMember(ctx.db);
  return countUnread(await ctx.db.transaction());
}

/** Viewers may mark their own notifications read: reading is not writing tenant data. */
export async function markNotificationsRead(
  ctx: GraphQLContext,
  ids: readonly string[] | null | undefined,
): Promise<number> {
  await requireMember(ctx.db);
  if (ids && ids.length > MAX_IDS) {
    throw new BadUserInputError('ids', `Mark at most ${MAX_IDS} notifications at a time.`);
  }
  const checked = ids?.map((id) => requireId('ids', id));
  return markRead(await ctx.db.transaction(), checked);
}
