import { sql } from 'kysely';
import type { Tx } from '../../db/operation.js';
import type { AccountEmail } from './account-email.js';

export interface LoginRow {
  userId: string;
  passwordHash: string;
}

export interface RefreshTokenRow {
  id: string;
  family_id: string;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

/** No RETURNING: the new row is not visible to the caller until app.user_id names it. */
export async function insertUser(
  trx: Tx,
  user: { id: string; email: string; name: string; passwordHash: string },
): Promise<void> {
  await trx
    .insertInto('app.users')
    .values({ id: user.id, email: user.email, name: user.name, password_hash: user.passwordHash })
    .execute();
}

/** The API role cannot read password hashes; app.find_login returns one for an exact email. */
export async function findLogin(trx: Tx, email: string): Promise<LoginRow | undefined> {
  const { rows } = await sql<{
    user_id: string | null;
    password_hash: string | null;
  }>`select user_id, password_hash from app.find_login(${email})`.execute(trx);
  const row = rows[0];
  return row?.user_id && row.password_hash
    ? { userId: row.user_id, passwordHash: row.password_hash }
    : undefined;
}

export async function updatePasswordHash(trx: Tx, userId: string, hash: string): Promise<void> {
  await trx
    .updateTable('app.users')
    .set({ password_hash: hash })
    .where('id', '=', userId)
    .execute();
}

export async function insertRefreshToken(
  trx: Tx,
  token: { userId: string; id: string; familyId: string; expiresAt: Date },
): Promise<void> {
  await trx
    .insertInto('app.refresh_tokens')
    .values({
      user_id: token.userId,
      id: token.id,
      family_id: token.familyId,
      expires_at: token.expiresAt,
    })
    .execute();
}

/**
 * Locks a family's first token (its id is the family id) until the operation ends, so rotations,
 * reuse revocations and logouts of one family run one at a time. False when there is no family.
 */
export async function lockRefreshFamily(
  trx: Tx,
  userId: string,
  familyId: string,
): Promise<boolean> {
  const row = await trx
    .selectFrom('app.refresh_tokens')
    .select('id')
    .where('user_id', '=', userId)
    .where('id', '=', familyId)
    .forUpdate()
    .executeTakeFirst();
  return row !== undefined;
}

export function findRefreshToken(
  trx: Tx,
  userId: string,
  id: string,
): Promise<RefreshTokenRow | undefined> {
  return trx
    .selectFrom('app.refresh_tokens')
    .select(['id', 'family_id', 'expires_at', 'used_at', 'revoked_at'])
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function markRefreshTokenUsed(trx: Tx, userId: string, id: string): Promise<void> {
  await trx
    .updateTable('app.refresh_tokens')
    .set({ used_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .execute();
}

export async function revokeRefreshFamily(
  trx: Tx,
  userId: string,
  familyId: string,
): Promise<void> {
  await trx
    .updateTable('app.refresh_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Joins the signed-in user to a tenant open for enrollment (single-tenant mode); returns the role. */
export async function enrollInOpenTenant(trx: Tx, tenantId: string): Promise<string> {
  const { rows } = await sql<{ role: string }>`
    select app.enroll_in_open_tenant(${tenantId}::uuid) as role`.execute(trx);
  return rows[0]?.role ?? '';
}

/** Every sign-in of the user: refresh tokens stop working, and so do access tokens from them. */
export async function revokeAllRefreshFamilies(trx: Tx, userId: string): Promise<void> {
  await trx
    .updateTable('app.refresh_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Access tokens of the user issued before `at` are refused from the next operation on. */
export async function invalidateTokensBefore(trx: Tx, userId: string, at: Date): Promise<void> {
  await trx
    .updateTable('app.users')
    .set({ tokens_valid_after: at })
    .where('id', '=', userId)
    .execute();
}

/** Queued in the caller's transaction: sent after commit, never when the operation fails. */
export async function insertAccountEmail(trx: Tx, email: AccountEmail): Promise<void> {
  await trx.insertInto('app.account_emails').values(email).execute();
}

export async function insertVerificationToken(
  trx: Tx,
  token: { hash: Buffer; userId: string; email: string; expiresAt: Date },
): Promise<void> {
  await trx
    .insertInto('app.account_tokens')
    .values({
      token_hash: token.hash,
      user_id: token.userId,
      purpose: 'verify_email',
      email: token.email,
      expires_at: token.expiresAt,
    })
    .execute();
}

/** Spends a verification token (app.verify_email); the verified account's id, or undefined. */
export async function spendVerificationToken(trx: Tx, hash: Buffer): Promise<string | undefined> {
  const { rows } = await sql<{ id: string | null }>`
    select app.verify_email(${hash}) as id`.execute(trx);
  return rows[0]?.id ?? undefined;
}

/** Issues a reset token and queues its email if an account has the address; else nothing. */
export async function requestPasswordReset(
  trx: Tx,
  request: { email: string; hash: Buffer; expiresAt: Date; subject: string; body: string },
): Promise<void> {
  await sql`select app.request_password_reset(${request.email}, ${request.hash},
              ${request.expiresAt}::timestamptz, ${request.subject}, ${request.body})`.execute(trx);
}

/**
 * Spends a reset token (and its account's other ones), verifies the address it was mailed to,
 * sets the new password hash and refuses access tokens issued before `tokensValidAfter`, in one
 * definer function (sql/0045: one role writes the users row). The account, or undefined when the
 * token is invalid, spent or expired.
 */
export async function resetPasswordWithToken(
  trx: Tx,
  reset: { tokenHash: Buffer; passwordHash: string; tokensValidAfter: Date },
): Promise<{ userId: string; email: string } | undefined> {
  const { rows } = await sql<{ reset_user_id: string; reset_email: string }>`
    select reset_user_id, reset_email
      from app.reset_password(${reset.tokenHash}, ${reset.passwordHash},
                              ${reset.tokensValidAfter}::timestamptz)`.execute(trx);
  const [row] = rows;
  return row && { userId: row.reset_user_id, email: row.reset_email };
}

/** The current user's unspent reset tokens stop working (after a password change). */
export async function spendPasswordResets(trx: Tx): Promise<void> {
  await sql`select app.spend_password_resets()`.execute(trx);
}
