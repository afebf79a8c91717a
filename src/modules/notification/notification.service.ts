import type { Config } from '../../config.js';
import type { Tx } from '../../db/operation.js';
import type { DeliveryStatusValue } from '../../db/schema.js';
import { generateWebhookSecret } from '../../delivery/signature.js';
import { MAX_WEBHOOK_URL_LENGTH, webhookUrlProblem } from '../../delivery/url-policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import {
  pageArgs,
  toConnection,
  type Connection,
  type Ordering,
} from '../../graphql/connection.js';
import { requireId, requireText, updatedValue } from '../../graphql/validate.js';
import { BadUserInputError, NotFoundError } from '../../errors.js';
import { memberRead, requireMember, requireTenantAdmin } from '../../tenancy/permissions.js';
import type { NotificationDeliveriesArgs, NotificationsArgs } from './notification.args.js';
import type { UpdateNotificationSettingsInput } from './notification.input.js';
import {
  DELIVERY_SORT,
  NOTIFICATION_SORT,
  countUnread,
  findChannels,
  findDeliveryPage,
  findNotificationPage,
  insertChannel,
  findNotificationsByIds,
  markRead,
  redeliverDelivery,
  updateChannel,
  type ChannelState,
  type DeliveryRow,
  type NotificationRow,
} from './notification.repository.js';
import {
  NotificationKind,
  type Notification,
  type NotificationDelivery,
  type NotificationDeliveryStatus,
  type NotificationSettings,
  type RotateWebhookSecretPayload,
  type UpdateNotificationSettingsPayload,
} from './notification.type.js';

const ORDER: Ordering = { tag: 'NEWEST', keys: [{ sort: NOTIFICATION_SORT, direction: 'DESC' }] };
const MAX_IDS = 500;

function text(payload: Record<string, unknown>, key: string): string {
  const value = payload[key];
  return typeof value === 'string' ? value : '';
}

/** The sentence shown for a notification: in the app, in webhook bodies and as email subject. */
export function notificationMessage(
  kind: NotificationKind,
  payload: Record<string, unknown>,
): string {
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
    message: notificationMessage(kind, row.payload),
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
  const page = await memberRead(ctx.db, async () => {
    return findNotificationPage(
      await ctx.db.transaction(),
      ctx.db.routingTenant(),
      { unreadOnly: args.unreadOnly },
      pageArgs(args, ORDER),
    );
  });
  return toConnection(page, ORDER, toNotification);
}

/** The caller's own notifications among these ids (RLS hides everyone else's), for live updates. */
export async function notificationsByIds(
  ctx: GraphQLContext,
  ids: readonly string[],
): Promise<Notification[]> {
  const rows = await memberRead(ctx.db, async () =>
    findNotificationsByIds(await ctx.db.transaction(), ctx.db.routingTenant(), ids),
  );
  return rows.map(toNotification);
}

export async function unreadNotificationCount(ctx: GraphQLContext): Promise<number> {
  return memberRead(ctx.db, async () =>
    countUnread(await ctx.db.transaction(), ctx.db.routingTenant()),
  );
}

/** Viewers may mark their own notifications read: reading is not writing tenant data. */
export async function markNotificationsRead(
  ctx: GraphQLContext,
  ids: readonly string[] | null | undefined,
): Promise<number> {
  const { tenantId } = await requireMember(ctx.db);
  if (ids && ids.length > MAX_IDS) {
    throw new BadUserInputError('ids', `Mark at most ${MAX_IDS} notifications at a time.`);
  }
  const checked = ids?.map((id) => requireId('ids', id));
  return markRead(await ctx.db.transaction(), tenantId, checked);
}

const ALL_KINDS = Object.values(NotificationKind);
const DELIVERY_ORDER: Ordering = {
  tag: 'NEWEST',
  keys: [{ sort: DELIVERY_SORT, direction: 'DESC' }],
};

function toSettings(rows: ChannelState[], config: Config): NotificationSettings {
  const webhook = rows.find((r) => r.channel === 'WEBHOOK');
  const email = rows.find((r) => r.channel === 'EMAIL');
  return {
    inApp: true,
    // A webhook row is created with its secret, so one exists exactly when the row does.
    webhook: {
      enabled: webhook?.enabled ?? false,
      url: webhook?.url ?? null,
      kinds: (webhook?.kinds ?? ALL_KINDS) as NotificationKind[],
      secretSet: webhook !== undefined,
      previousSecretExpiresAt:
        webhook?.previous_secret_expires_at && webhook.previous_secret_expires_at > new Date()
          ? webhook.previous_secret_expires_at
          : null,
    },
    email: {
      enabled: email?.enabled ?? false,
      kinds: (email?.kinds ?? ALL_KINDS) as NotificationKind[],
      smtpConfigured: config.delivery.smtpUrl !== undefined,
    },
  };
}

function checkedKinds(
  field: string,
  kinds: readonly NotificationKind[] | null | undefined,
): string[] | undefined {
  const given = updatedValue(field, kinds);
  if (given === undefined) return undefined;
  if (given.length === 0) {
    throw new BadUserInputError(
      field,
      `${field} needs at least one kind; disable the channel instead.`,
    );
  }
  return [...new Set(given)];
}

function checkedUrl(field: string, url: string | null | undefined, config: Config) {
  if (url === undefined || url === null) return url;
  // requireText refuses NUL, which new URL() accepts but Postgres text cannot hold.
  const trimmed = requireText(field, url, { min: 0, max: MAX_WEBHOOK_URL_LENGTH });
  const problem = webhookUrlProblem(trimmed, config.delivery);
  if (problem) throw new BadUserInputError(field, `${field} ${problem}.`);
  return trimmed;
}

async function readSettings(
  ctx: GraphQLContext,
  trx: Tx,
  tenantId: string,
): Promise<NotificationSettings> {
  return toSettings(await findChannels(trx, tenantId), ctx.config);
}

/** Channel settings of the current tenant: owners and admins only. */
export async function getNotificationSettings(ctx: GraphQLContext): Promise<NotificationSettings> {
  const { tenantId } = await requireTenantAdmin(ctx.db);
  return readSettings(ctx, await ctx.db.transaction(), tenantId);
}

/**
 * Changes the given settings. Configuring the webhook for the first time creates its signing
 * secret and returns it, once.
 */
export async function updateNotificationSettings(
  ctx: GraphQLContext,
  input: UpdateNotificationSettingsInput,
): Promise<UpdateNotificationSettingsPayload> {
  const { tenantId } = await requireTenantAdmin(ctx.db);
  const webhookInput = updatedValue('webhook', input.webhook);
  const emailInput = updatedValue('email', input.email);
  const webhook = webhookInput && {
    enabled: updatedValue('webhook.enabled', webhookInput.enabled),
    url: checkedUrl('webhook.url', webhookInput.url, ctx.config),
    kinds: checkedKinds('webhook.kinds', webhookInput.kinds),
  };
  const email = emailInput && {
    enabled: updatedValue('email.enabled', emailInput.enabled),
    kinds: checkedKinds('email.kinds', emailInput.kinds),
  };
  const trx = await ctx.db.transaction();
  const current = await findChannels(trx, tenantId);
  let webhookSecret: string | null = null;
  if (webhook) {
    const existing = current.find((r) => r.channel === 'WEBHOOK');
    const enabled = webhook.enabled ?? existing?.enabled ?? false;
    const url = webhook.url === undefined ? (existing?.url ?? null) : webhook.url;
    if (enabled && !url) {
      throw new BadUserInputError('webhook.url', 'webhook.url is required to enable the webhook.');
    }
    if (existing) {
      await updateChannel(trx, tenantId, 'WEBHOOK', {
        enabled,
        url,
        kinds: webhook.kinds ?? existing.kinds,
      });
    } else {
      webhookSecret = generateWebhookSecret();
      await insertChannel(trx, tenantId, {
        channel: 'WEBHOOK',
        enabled,
        url,
        kinds: webhook.kinds ?? ALL_KINDS,
        secret: webhookSecret,
      });
    }
  }
  if (email) {
    const existing = current.find((r) => r.channel === 'EMAIL');
    const enabled = email.enabled ?? existing?.enabled ?? false;
    if (existing) {
      await updateChannel(trx, tenantId, 'EMAIL', {
        enabled,
        kinds: email.kinds ?? existing.kinds,
      });
    } else {
      await insertChannel(trx, tenantId, {
        channel: 'EMAIL',
        enabled,
        url: null,
        kinds: email.kinds ?? ALL_KINDS,
        secret: undefined,
      });
    }
  }
  return { settings: await readSettings(ctx, trx, tenantId), webhookSecret };
}

const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 60 * 60;

/**
 * A new webhook signing secret, returned only now; creates the (disabled) webhook if need be.
 * The replaced secret keeps signing too for `overlapSeconds` (WEBHOOK_SECRET_OVERLAP_SECONDS
 * unless given; 0 ends it at once), so receivers can switch without missing a delivery.
 */
export async function rotateWebhookSecret(
  ctx: GraphQLContext,
  overlapSeconds: number | null | undefined,
): Promise<RotateWebhookSecretPayload> {
  const { tenantId } = await requireTenantAdmin(ctx.db);
  const overlap = overlapSeconds ?? ctx.config.delivery.webhookSecretOverlapSeconds;
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_SECRET_OVERLAP_SECONDS) {
    throw new BadUserInputError(
      'overlapSeconds',
      `The overlap is 0–${MAX_SECRET_OVERLAP_SECONDS} seconds (7 days).`,
    );
  }
  const trx = await ctx.db.transaction();
  const webhookSecret = generateWebhookSecret();
  const exists = (await findChannels(trx, tenantId)).some((r) => r.channel === 'WEBHOOK');
  if (exists) {
    await updateChannel(trx, tenantId, 'WEBHOOK', {
      secret: webhookSecret,
      previous_secret_expires_at: new Date(Date.now() + overlap * 1000),
    });
  } else {
    await insertChannel(trx, tenantId, {
      channel: 'WEBHOOK',
      enabled: false,
      url: null,
      kinds: ALL_KINDS,
      secret: webhookSecret,
    });
  }
  return { settings: await readSettings(ctx, trx, tenantId), webhookSecret };
}

/**
 * Sends a failed or dead delivery again from its first attempt (after its endpoint was fixed).
 * NOT_FOUND for another tenant's, an unknown or a delivered one, and one being sent right now.
 */
export async function redeliverNotification(ctx: GraphQLContext, rawId: string): Promise<boolean> {
  await requireTenantAdmin(ctx.db);
  const id = requireId('id', rawId);
  if (!(await redeliverDelivery(await ctx.db.transaction(), id))) {
    throw new NotFoundError('Failed or dead delivery', id);
  }
  return true;
}

const STATUS_OF: Record<DeliveryStatusValue, NotificationDeliveryStatus> = {
  pending: 'PENDING',
  delivered: 'DELIVERED',
  dead: 'DEAD',
};

function toDelivery(row: DeliveryRow): NotificationDelivery {
  return {
    id: row.id,
    channel: row.channel,
    kind: row.kind as NotificationKind,
    status: STATUS_OF[row.status],
    attempts: row.attempts,
    lastError: row.last_error,
    lastHttpStatus: row.last_http_status,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    lastAttemptAt: row.last_attempt_at,
    deliveredAt: row.delivered_at,
    createdAt: row.created_at,
    notificationId: row.notification_id,
  };
}

/** The delivery log of the current tenant, newest first: owners and admins only. */
export async function listNotificationDeliveries(
  ctx: GraphQLContext,
  args: NotificationDeliveriesArgs,
): Promise<Connection<NotificationDelivery>> {
  const { tenantId } = await requireTenantAdmin(ctx.db);
  const page = pageArgs(args, DELIVERY_ORDER);
  const status = updatedValue('status', args.status);
  const found = await findDeliveryPage(
    await ctx.db.transaction(),
    tenantId,
    {
      status: status && (status.toLowerCase() as DeliveryStatusValue),
      channel: updatedValue('channel', args.channel),
    },
    page,
  );
  return toConnection(found, DELIVERY_ORDER, toDelivery);
}
