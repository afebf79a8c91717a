import { randomUUID } from 'node:crypto';
import type { Tx } from '../../db/operation.js';
import { BadUserInputError, UnauthenticatedError } from '../../errors.js';
import { requirePerson, type GraphQLContext } from '../../graphql/context.js';
import { findMyTenant } from '../tenant/tenant.repository.js';
import { findUserById } from '../user/user.repository.js';
import { toUser } from '../user/user.service.js';
import {
  actionText,
  hashOneTimeToken,
  isOneTimeTokenShape,
  oneTimeToken,
} from './account-email.js';
import type {
  ChangePasswordInput,
  LoginInput,
  ResetPasswordInput,
  SignUpInput,
} from './account.input.js';
import {
  findLogin,
  findRefreshToken,
  insertAccountEmail,
  insertRefreshToken,
  enrollInOpenTenant,
  insertUser,
  insertVerificationToken,
  invalidateTokensBefore,
  lockRefreshFamily,
  markRefreshTokenUsed,
  requestPasswordReset as issuePasswordReset,
  revokeAllRefreshFamilies,
  revokeRefreshFamily,
  spendPasswordResets,
  resetPasswordWithToken,
  spendVerificationToken,
  updatePasswordHash,
} from './account.repository.js';
import type { AuthPayload } from './account.type.js';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;
const EMAIL_MAX_LENGTH = 254;
const NAME_MAX_LENGTH = 200;
// Deliberately loose: the address is proven by whoever reads the mail, not by a regex.
const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

/** The same answer for an unknown email and a wrong password, so accounts cannot be probed. */
const WRONG_CREDENTIALS = 'Wrong email or password.';

export function normaliseEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > EMAIL_MAX_LENGTH || !EMAIL.test(email)) {
    throw new BadUserInputError('email', 'Give a valid email address.');
  }
  return email;
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (name.length < 1 || name.length > NAME_MAX_LENGTH) {
    throw new BadUserInputError('name', `A name is 1–${NAME_MAX_LENGTH} characters.`);
  }
  return name;
}

/** Length counted in code points, so an emoji is one character as a person would count it. */
function checkPasswordLength(password: string, field: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new BadUserInputError(
      field,
      `A password is ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters.`,
    );
  }
}

function checkPassword(password: string, email: string, field = 'password'): void {
  checkPasswordLength(password, field);
  if (password.trim().toLowerCase() === email) {
    throw new BadUserInputError(field, 'The password must not be your email address.');
  }
}

function refreshExpiry(ctx: GraphQLContext): Date {
  return new Date(Date.now() + ctx.tokens.refreshTtlSeconds * 1000);
}

async function payload(
  ctx: GraphQLContext,
  trx: Tx,
  userId: string,
  refreshToken: string,
  tenantId: string | undefined,
  sessionId: string,
): Promise<AuthPayload> {
  const user = await findUserById(trx, userId);
  if (!user) throw new UnauthenticatedError('That account no longer exists.');
  return {
    token: await ctx.tokens.signAccess(userId, tenantId, sessionId),
    refreshToken,
    user: toUser(user),
  };
}

/**
 * Starts a new refresh-token family for a user the operation now acts as, and returns the tokens.
 * The family's first token has the family's id (see sql/0006_refresh_tokens.sql).
 */
export async function startSession(
  ctx: GraphQLContext,
  trx: Tx,
  userId: string,
  tenantId: string | undefined,
): Promise<AuthPayload> {
  const familyId = randomUUID();
  await insertRefreshToken(trx, {
    userId,
    id: familyId,
    familyId,
    expiresAt: refreshExpiry(ctx),
  });
  const refreshToken = await ctx.tokens.signRefresh(userId, familyId, familyId, tenantId);
  return payload(ctx, trx, userId, refreshToken, tenantId, familyId);
}

export async function signUp(ctx: GraphQLContext, input: SignUpInput): Promise<AuthPayload> {
  await ctx.authLimits.signUp(ctx.clientAddress);
  const email = normaliseEmail(input.email);
  const name = checkName(input.name);
  checkPassword(input.password, email);
  const passwordHash = await ctx.passwords.hash(input.password);
  const id = randomUUID();
  const trx = await ctx.db.actAs(id);
  // A duplicate email fails on users_email_key, which the error mapper turns into CONFLICT.
  await insertUser(trx, { id, email, name, passwordHash });
  if (ctx.defaultTenantId) await enrollInOpenTenant(trx, ctx.defaultTenantId);
  if (ctx.config.auth.emailVerification === 'required') {
    await queueVerification(ctx, trx, id, email);
  }
  return startSession(ctx, trx, id, undefined);
}

/** A new verification token for the address, mailed to it; earlier ones stay valid until used. */
async function queueVerification(
  ctx: GraphQLContext,
  trx: Tx,
  userId: string,
  email: string,
): Promise<void> {
  const { auth } = ctx.config;
  const { token, hash } = oneTimeToken();
  const expiresAt = new Date(Date.now() + auth.emailVerificationTtlSeconds * 1000);
  await insertVerificationToken(trx, { hash, userId, email, expiresAt });
  await insertAccountEmail(trx, {
    kind: 'VERIFY_EMAIL',
    recipient: email,
    subject: 'Confirm your email address',
    body:
      `Someone (hopefully you) created a tenantql account with ${email}. To confirm that this ` +
      `address is yours:\n\n` +
      actionText(auth.appUrl, 'verify-email', token, 'mutation { verifyEmail(token: "TOKEN") }') +
      `\nThe link works once and expires ${expiresAt.toISOString()}. If this was not you, ` +
      `ignore this email: until the address is confirmed, nobody can invite or add it anywhere.\n`,
  });
}

/**
 * Marks the address of the token's account verified. Needs no sign-in: the token is the proof,
 * whoever clicks the link.
 */
export async function verifyEmail(ctx: GraphQLContext, token: string): Promise<boolean> {
  const trx = await ctx.db.actAs(undefined);
  const userId = isOneTimeTokenShape(token)
    ? await spendVerificationToken(trx, hashOneTimeToken(token))
    : undefined;
  if (!userId) {
    throw new BadUserInputError(
      'token',
      'This verification link is invalid, already used or expired. Sign in and ask for a new ' +
        'one with resendVerification.',
    );
  }
  return true;
}

/** Mails a new verification link; false when the address is already verified (nothing sent). */
export async function resendVerification(ctx: GraphQLContext): Promise<boolean> {
  const userId = requirePerson(ctx).userId;
  const trx = await ctx.db.transaction();
  const user = await findUserById(trx, userId);
  if (!user) throw new UnauthenticatedError('That account no longer exists.');
  if (user.email_verified_at) return false;
  await ctx.authLimits.accountEmail(user.email, ctx.clientAddress);
  await queueVerification(ctx, trx, userId, user.email);
  return true;
}

/**
 * Every sign-in of the user ends: refresh tokens are revoked and access tokens issued before now
 * are refused from the next operation on, in every API instance (the context statement checks).
 */
async function signOutAll(trx: Tx, userId: string): Promise<void> {
  await revokeAllRefreshFamilies(trx, userId);
  await invalidateTokensBefore(trx, userId, new Date());
}

export async function signOutEverywhere(ctx: GraphQLContext): Promise<boolean> {
  const userId = requirePerson(ctx).userId;
  await signOutAll(await ctx.db.transaction(), userId);
  return true;
}

/**
 * Needs the current password (a stolen access token alone cannot change it), from the account's
 * sign-in budget like a login. Signs out every session, this one included.
 */
export async function changePassword(
  ctx: GraphQLContext,
  input: ChangePasswordInput,
): Promise<boolean> {
  const userId = requirePerson(ctx).userId;
  const trx = await ctx.db.transaction();
  const user = await findUserById(trx, userId);
  if (!user) throw new UnauthenticatedError('That account no longer exists.');
  checkPassword(input.newPassword, user.email, 'newPassword');
  await ctx.authLimits.login(user.email, ctx.clientAddress);
  const found = await findLogin(trx, user.email);
  const current = found && [...input.currentPassword].length <= PASSWORD_MAX_LENGTH;
  const { valid } = current
    ? await ctx.passwords.verify(found.passwordHash, input.currentPassword)
    : { valid: false };
  if (!valid) throw new BadUserInputError('currentPassword', 'The current password is wrong.');
  await ctx.authLimits.loginSucceeded(user.email);
  await updatePasswordHash(trx, userId, await ctx.passwords.hash(input.newPassword));
  await spendPasswordResets(trx);
  await signOutAll(trx, userId);
  return true;
}

/**
 * Mails a reset link when an account has the address. The answer is true either way, and the
 * same work is done before it, so it tells nothing about which addresses have accounts.
 */
export async function requestPasswordReset(
  ctx: GraphQLContext,
  rawEmail: string,
): Promise<boolean> {
  const email = normaliseEmail(rawEmail);
  await ctx.authLimits.accountEmail(email, ctx.clientAddress);
  const { auth } = ctx.config;
  const { token, hash } = oneTimeToken();
  const expiresAt = new Date(Date.now() + auth.passwordResetTtlSeconds * 1000);
  await issuePasswordReset(await ctx.db.actAs(undefined), {
    email,
    hash,
    expiresAt,
    subject: 'Reset your password',
    body:
      `Someone (hopefully you) asked to reset the password of the tenantql account ${email}. ` +
      `To choose a new password:\n\n` +
      actionText(
        auth.appUrl,
        'reset-password',
        token,
        'mutation { resetPassword(input: { token: "TOKEN", newPassword: "…" }) }',
      ) +
      `\nThe link works once and expires ${expiresAt.toISOString()}. If this was not you, ` +
      `ignore this email: your password stays as it is.\n`,
  });
  return true;
}

/**
 * Sets a new password with a mailed token, which works once; every session of the account ends.
 * The new password is checked before the token is spent, and a failure later rolls the spending
 * back, so a mistake never costs the link.
 */
export async function resetPassword(
  ctx: GraphQLContext,
  input: ResetPasswordInput,
): Promise<boolean> {
  checkPasswordLength(input.newPassword, 'newPassword');
  const invalid = new BadUserInputError(
    'token',
    'This reset link is invalid, already used or expired. Ask for a new one with ' +
      'requestPasswordReset.',
  );
  if (!isOneTimeTokenShape(input.token)) throw invalid;
  const passwordHash = await ctx.passwords.hash(input.newPassword);
  const reset = await resetPasswordWithToken(await ctx.db.actAs(undefined), {
    tokenHash: hashOneTimeToken(input.token),
    passwordHash,
    tokensValidAfter: new Date(),
  });
  if (!reset) throw invalid;
  // A refused password fails the operation, which rolls the reset back: the token still works.
  checkPassword(input.newPassword, reset.email, 'newPassword');
  // Signed out everywhere: access tokens by the function above, refresh tokens here.
  await revokeAllRefreshFamilies(await ctx.db.actAs(reset.userId), reset.userId);
  return true;
}

/**
 * Every attempt spends from its address's budget and its account's (by normalised email, whether
 * or not the account exists, so the answer tells nothing), before the password is hashed; the
 * right password clears the account's count. See AuthRateLimiter for why nobody is locked out
 * for longer than one window.
 */
export async function login(ctx: GraphQLContext, input: LoginInput): Promise<AuthPayload> {
  let email: string;
  try {
    email = normaliseEmail(input.email);
  } catch {
    await ctx.authLimits.login(undefined, ctx.clientAddress);
    // No account has a malformed email; answer like any other unknown one.
    await ctx.passwords.verifyNothing(input.password);
    throw new UnauthenticatedError(WRONG_CREDENTIALS);
  }
  await ctx.authLimits.login(email, ctx.clientAddress);
  // As nobody: whatever access token came along, even a signed-out one, plays no part here.
  const found = await findLogin(await ctx.db.actAs(undefined), email);
  if (!found || [...input.password].length > PASSWORD_MAX_LENGTH) {
    await ctx.passwords.verifyNothing(input.password);
    throw new UnauthenticatedError(WRONG_CREDENTIALS);
  }
  const { valid, rehash } = await ctx.passwords.verify(found.passwordHash, input.password);
  if (!valid) throw new UnauthenticatedError(WRONG_CREDENTIALS);
  await ctx.authLimits.loginSucceeded(email);
  const trx = await ctx.db.actAs(found.userId);
  if (rehash) await updatePasswordHash(trx, found.userId, rehash);
  return startSession(ctx, trx, found.userId, undefined);
}

/**
 * Rotates a refresh token: the presented one is marked used and the next one in its family is
 * issued. A used or revoked token means it leaked (or a client retried): the whole family is
 * revoked, and that revocation is committed although the operation reports UNAUTHENTICATED.
 */
export async function refreshSession(ctx: GraphQLContext, token: string): Promise<AuthPayload> {
  await ctx.authLimits.refresh(ctx.clientAddress);
  // persistOnFailure would also keep whatever earlier fields of this operation wrote, which the
  // client is told were undone; so rotation has to come before any write in its operation.
  if (await ctx.db.hasWritten()) {
    throw new BadUserInputError(
      'token',
      'Send refreshToken before any other mutation field of its operation, or on its own.',
    );
  }
  const claims = await ctx.tokens.verifyRefresh(token);
  const trx = await ctx.db.actAs(claims.userId);
  const invalid = new UnauthenticatedError('The refresh token is invalid. Sign in again.');
  if (!(await lockRefreshFamily(trx, claims.userId, claims.familyId))) throw invalid;
  const row = await findRefreshToken(trx, claims.userId, claims.tokenId);
  if (!row || row.family_id !== claims.familyId) throw invalid;
  if (row.used_at || row.revoked_at) {
    await revokeRefreshFamily(trx, claims.userId, claims.familyId);
    ctx.db.persistOnFailure();
    throw new UnauthenticatedError(
      'This refresh token was already used or revoked; every session from that sign-in has ' +
        'been signed out. Sign in again.',
    );
  }
  if (row.expires_at.getTime() <= Date.now()) {
    throw new UnauthenticatedError('The refresh token has expired. Sign in again.');
  }
  await markRefreshTokenUsed(trx, claims.userId, claims.tokenId);
  // The tenant binding survives rotation only while the user may still use that tenant.
  const tenant = claims.tenantId
    ? await findMyTenant(trx, claims.userId, claims.tenantId)
    : undefined;
  const tenantId = tenant?.status === 'active' ? tenant.id : undefined;
  const nextId = randomUUID();
  await insertRefreshToken(trx, {
    userId: claims.userId,
    id: nextId,
    familyId: claims.familyId,
    expiresAt: refreshExpiry(ctx),
  });
  const refreshToken = await ctx.tokens.signRefresh(
    claims.userId,
    nextId,
    claims.familyId,
    tenantId,
  );
  return payload(ctx, trx, claims.userId, refreshToken, tenantId, claims.familyId);
}

/** Revokes the presented token's whole family: that sign-in and everything refreshed from it. */
export async function logout(ctx: GraphQLContext, token: string): Promise<boolean> {
  const claims = await ctx.tokens.verifyRefresh(token);
  const trx = await ctx.db.actAs(claims.userId);
  await lockRefreshFamily(trx, claims.userId, claims.familyId);
  await revokeRefreshFamily(trx, claims.userId, claims.familyId);
  return true;
}
