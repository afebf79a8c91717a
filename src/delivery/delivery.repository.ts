import { sql, type Kysely } from 'kysely';
import type { DeliveryConfig } from '../config.js';
import type { Database, NotificationChannelValue } from '../db/schema.js';

/** What app.claim_notification_deliveries_fair returns for one claimed row: what delivery needs. */
export interface ClaimedDelivery {
  tenant_id: string;
  id: string;
  lease_token: string;
  channel: NotificationChannelValue;
  kind: string;
  /** This attempt's number, 1 for the first. */
  attempt: number;
  payload: Record<string, unknown>;
  /** False when the channel was switched off after the notification was queued. */
  channel_enabled: boolean;
  url: string | null;
  secret: string | null;
  /** The recipient's address (EMAIL), null once they left the tenant. */
  email: string | null;
}

export interface AttemptOutcome {
  delivered: boolean;
  httpStatus: number | null;
  error: string | null;
  /** Null: no further attempt (delivered, or dead). */
  retryAfterMs: number | null;
}

/**
 * Claims due deliveries of every tenant, round-robin: each tenant's oldest due row first, then each
 * one's second, never more than `perTenantLimit` in flight per tenant across all workers (sql/0018).
 * NOTE: the worker role may run only the claim and record functions; it has no table privileges,
 * so `db` is a tenantql_worker connection.
 */
export async function claimDeliveries(
  db: Kysely<Database>,
  limits: { limit: number; leaseSeconds: number; maxAttempts: number; perTenantLimit: number },
): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedDelivery>`
    select * from app.claim_notification_deliveries_fair(${limits.limit}::int,
      ${limits.leaseSeconds}::int, ${limits.maxAttempts}::int, ${limits.perTenantLimit}::int)`.execute(
    db,
  );
  return rows;
}

/** Records an attempt; false when the lease was lost (another worker has the row now). */
export async function recordAttempt(
  db: Kysely<Database>,
  claim: Pick<ClaimedDelivery, 'tenant_id' | 'id' | 'lease_token'>,
  outcome: AttemptOutcome,
): Promise<boolean> {
  const { rows } = await sql<{ recorded: boolean | null }>`
    select app.record_notification_delivery(
      ${claim.tenant_id}::uuid, ${claim.id}::uuid, ${claim.lease_token}::uuid,
      ${outcome.delivered}, ${outcome.httpStatus}::int, ${outcome.error}::text,
      ${outcome.retryAfterMs === null ? null : Math.round(outcome.retryAfterMs)}::int
    ) as recorded`.execute(db);
  return rows[0]?.recorded === true;
}

/** What app.claim_account_emails returns for one claimed account email. */
export interface ClaimedAccountEmail {
  id: string;
  lease_token: string;
  kind: string;
  attempt: number;
  recipient: string;
  subject: string;
  body: string;
}

export async function claimAccountEmails(
  db: Kysely<Database>,
  limit: number,
  leaseSeconds: number,
  maxAttempts: number,
): Promise<ClaimedAccountEmail[]> {
  const { rows } = await sql<ClaimedAccountEmail>`
    select * from app.claim_account_emails(${limit}::int, ${leaseSeconds}::int,
                                           ${maxAttempts}::int)`.execute(db);
  return rows;
}

/** Records a send; error null means sent. False when the lease was lost. */
export async function recordAccountEmail(
  db: Kysely<Database>,
  claim: Pick<ClaimedAccountEmail, 'id' | 'lease_token'>,
  error: string | null,
  retryAfterMs: number | null,
): Promise<boolean> {
  const { rows } = await sql<{ recorded: boolean | null }>`
    select app.record_account_email(${claim.id}::uuid, ${claim.lease_token}::uuid,
      ${error === null}, ${error}::text, ${retryAfterMs}::int) as recorded`.execute(db);
  return rows[0]?.recorded === true;
}

/** The tenant's webhook secrets that sign now: the current one, and one rotated out recently. */
export async function webhookSigningSecrets(
  db: Kysely<Database>,
  tenantId: string,
): Promise<string[]> {
  const { rows } = await sql<{ secrets: string[] | null }>`
    select app.webhook_secrets(${tenantId}::uuid) as secrets`.execute(db);
  return rows[0]?.secrets ?? [];
}

/** One purge round (app.purge_expired): rows deleted per kind. */
export async function purgeExpired(
  db: Kysely<Database>,
  ages: Pick<
    DeliveryConfig,
    | 'retentionDeliveryDays'
    | 'retentionNotificationDays'
    | 'retentionActivityDays'
    | 'retentionRefreshTokenDays'
  >,
  batch: number,
): Promise<{ kind: string; deleted: number }[]> {
  const { rows } = await sql<{ kind: string; deleted: string }>`
    select kind, deleted from app.purge_expired(${ages.retentionDeliveryDays}::int,
      ${ages.retentionNotificationDays}::int, ${ages.retentionActivityDays}::int,
      ${ages.retentionRefreshTokenDays}::int, ${batch}::int)`.execute(db);
  return rows.map((r) => ({ kind: r.kind, deleted: Number(r.deleted) }));
}
