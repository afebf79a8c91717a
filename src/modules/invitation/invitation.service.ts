import type { TenantContext, Tx } from '../../db/operation.js';
import type { MembershipRoleValue } from '../../db/schema.js';
import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  QuotaExceededError,
  TenantSuspendedError,
} from '../../errors.js';
import { requirePerson, type GraphQLContext } from '../../graphql/context.js';
import { requireId } from '../../graphql/validate.js';
import { requireMemberManager } from '../../tenancy/permissions.js';
import {
  actionText,
  hashOneTimeToken,
  isOneTimeTokenShape,
  oneTimeToken,
} from '../account/account-email.js';
import { insertAccountEmail } from '../account/account.repository.js';
import { normaliseEmail } from '../account/account.service.js';
import type { Member } from '../member/member.type.js';
import { loadUser } from '../user/user.service.js';
import type { User } from '../user/user.type.js';
import type { InviteMemberInput } from './invitation.input.js';
import {
  acceptInvitation as spendInvitation,
  findInvitation,
  findInvitationSender,
  findInviteeState,
  findOpenInvitations,
  renewInvitation,
  revokeInvitation as closeInvitation,
  upsertInvitation,
  type InvitationRow,
} from './invitation.repository.js';
import type { Invitation, InvitationStatus } from './invitation.type.js';

const ROLES: readonly MembershipRoleValue[] = ['owner', 'admin', 'member', 'viewer'];

/** One answer for every token that does not work, so a token's state cannot be probed. */
const INVALID_TOKEN =
  'This invitation link is invalid, already used, revoked or expired. Ask an owner or admin of ' +
  'the tenant to send it again (resendInvitation) or to invite you again.';

function statusOf(row: InvitationRow, now = Date.now()): InvitationStatus {
  if (row.accepted_at) return 'ACCEPTED';
  if (row.revoked_at) return 'REVOKED';
  return row.expires_at.getTime() <= now ? 'EXPIRED' : 'PENDING';
}

function toInvitation(row: InvitationRow): Invitation {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    status: statusOf(row),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastSentAt: row.last_sent_at,
    invitedById: row.invited_by,
  };
}

function checkRole(role: string): MembershipRoleValue {
  const known = ROLES.find((r) => r === role);
  if (!known) throw new BadUserInputError('role', 'Unknown role.');
  return known;
}

/** Only owners invite OWNERs, or resend or revoke such an invitation (as with memberships). */
function assertMayGrant(actor: TenantContext, role: MembershipRoleValue): void {
  if (role === 'owner' && actor.role !== 'owner') {
    throw new ForbiddenError('Only owners invite OWNERs, or resend or revoke such invitations.');
  }
}

function article(role: MembershipRoleValue): string {
  return role === 'owner' || role === 'admin' ? 'an' : 'a';
}

/** Queues the email carrying a fresh link to the invitation; the token is not kept anywhere. */
async function mailInvitation(
  ctx: GraphQLContext,
  trx: Tx,
  actor: TenantContext,
  invitation: { email: string; role: MembershipRoleValue; token: string; expiresAt: Date },
): Promise<void> {
  const sender = await findInvitationSender(trx, actor.tenantId, actor.userId);
  if (!sender) throw new ForbiddenError('You are not a member of this tenant.');
  const { email, role, token, expiresAt } = invitation;
  await insertAccountEmail(trx, {
    kind: 'INVITATION',
    recipient: email,
    subject: `${sender.inviterName} invited you to ${sender.tenantName} on tenantql`,
    body:
      `${sender.inviterName} invited ${email} to join the tenant "${sender.tenantName}" on ` +
      `tenantql as ${article(role)} ${role}. To accept, sign in (or sign up: with this ` +
      `address or any other, the membership goes to the account you are signed in with), then:\n\n` +
      actionText(
        ctx.config.auth.appUrl,
        'accept-invitation',
        token,
        'mutation { acceptInvitation(token: "TOKEN") { role } }',
      ) +
      `\nThe link works once and expires ${expiresAt.toISOString()}. If you did not expect ` +
      `this invitation, ignore this email: nobody joins without the link.\n`,
  });
}

function newLink(ctx: GraphQLContext): { token: string; hash: Buffer; expiresAt: Date } {
  const { token, hash } = oneTimeToken();
  return {
    token,
    hash,
    expiresAt: new Date(Date.now() + ctx.config.auth.invitationTtlSeconds * 1000),
  };
}

/**
 * Mails an invitation to the address. Looks up no account, so the answer (and the work done
 * before it) is the same whether or not the address has an account, verified or not. An address
 * of a current member is refused (admins see their members anyway); inviting an address with an
 * open invitation refreshes that one (new link, role and expiry; the old link stops working).
 */
export async function inviteMember(
  ctx: GraphQLContext,
  input: InviteMemberInput,
): Promise<Invitation> {
  const actor = await requireMemberManager(ctx.db);
  const role = checkRole(input.role);
  assertMayGrant(actor, role);
  const email = normaliseEmail(input.email);
  await ctx.authLimits.accountEmail(email, ctx.clientAddress);
  const trx = await ctx.db.transaction();
  const invitee = await findInviteeState(trx, actor.tenantId, email);
  if (invitee.member) {
    throw new ConflictError('That address belongs to a member of this tenant already.', 'email');
  }
  // Refreshing an open OWNER invitation changes it: an owner's business.
  if (invitee.ownerInvited) assertMayGrant(actor, 'owner');
  const link = newLink(ctx);
  const row = await upsertInvitation(trx, {
    tenantId: actor.tenantId,
    email,
    role,
    hash: link.hash,
    expiresAt: link.expiresAt,
  });
  await mailInvitation(ctx, trx, actor, { email, role, ...link });
  return toInvitation(row);
}

/**
 * What the deprecated addMember answers: the invitation it sent, shaped as a Member so that old
 * clients keep working. `user` is a placeholder carrying the invited address, whose id (like
 * the Member's) is the invitation's; joinedAt is when it was sent.
 */
export async function inviteAsMember(
  ctx: GraphQLContext,
  input: InviteMemberInput,
): Promise<Member> {
  const invitation = await inviteMember(ctx, input);
  const placeholder: User = {
    id: invitation.id,
    email: invitation.email,
    name: invitation.email,
    createdAt: invitation.createdAt,
    emailVerified: false,
  };
  return {
    userId: invitation.id,
    role: invitation.role,
    joinedAt: invitation.createdAt,
    placeholder,
  };
}

/** Open invitations of the current tenant (pending and expired), for owners and admins. */
export async function listInvitations(ctx: GraphQLContext): Promise<Invitation[]> {
  const actor = await requireMemberManager(ctx.db);
  const rows = await findOpenInvitations(await ctx.db.transaction(), actor.tenantId);
  return rows.map(toInvitation);
}

async function openInvitation(
  ctx: GraphQLContext,
  actor: TenantContext,
  id: string,
): Promise<InvitationRow> {
  const row = await findInvitation(await ctx.db.transaction(), actor.tenantId, id);
  if (!row) throw new NotFoundError('Invitation', id);
  assertMayGrant(actor, row.role);
  return row;
}

function closedError(row: Pick<InvitationRow, 'accepted_at'>): ConflictError {
  return new ConflictError(
    row.accepted_at
      ? 'This invitation was accepted already; the person is a member now.'
      : 'This invitation was revoked. Invite the address again with inviteMember.',
    'id',
  );
}

/** A new link (and a new expiry) for an open invitation, mailed again; the old link stops working. */
export async function resendInvitation(ctx: GraphQLContext, rawId: string): Promise<Invitation> {
  const actor = await requireMemberManager(ctx.db);
  const id = requireId('id', rawId);
  const row = await openInvitation(ctx, actor, id);
  if (row.accepted_at || row.revoked_at) throw closedError(row);
  await ctx.authLimits.accountEmail(row.email, ctx.clientAddress);
  const link = newLink(ctx);
  const trx = await ctx.db.transaction();
  const renewed = await renewInvitation(trx, actor.tenantId, id, link);
  if (!renewed) throw closedError((await findInvitation(trx, actor.tenantId, id)) ?? row);
  await mailInvitation(ctx, trx, actor, { email: renewed.email, role: renewed.role, ...link });
  return toInvitation(renewed);
}

/** Withdraws an open invitation: its link stops working. True for one revoked before too. */
export async function revokeInvitation(ctx: GraphQLContext, rawId: string): Promise<boolean> {
  const actor = await requireMemberManager(ctx.db);
  const id = requireId('id', rawId);
  const row = await openInvitation(ctx, actor, id);
  if (row.revoked_at) return true;
  if (row.accepted_at) throw closedError(row);
  const trx = await ctx.db.transaction();
  if (!(await closeInvitation(trx, actor.tenantId, id))) {
    const now = await findInvitation(trx, actor.tenantId, id);
    if (now?.revoked_at) return true;
    throw closedError(now ?? row);
  }
  return true;
}

/**
 * Joins the tenant of the invitation as the signed-in account: the token proves the invited
 * address is read by whoever holds it. Accepting verifies the account's own address when it is
 * the invited one. Every token that does not work gets the same answer.
 */
export async function acceptInvitation(ctx: GraphQLContext, token: string): Promise<Member> {
  const userId = requirePerson(ctx).userId;
  const invalid = new BadUserInputError('token', INVALID_TOKEN);
  if (!isOneTimeTokenShape(token)) throw invalid;
  const result = await spendInvitation(await ctx.db.transaction(), hashOneTimeToken(token));
  switch (result.outcome) {
    case 'accepted':
      return { userId, role: result.role, joinedAt: result.joinedAt };
    case 'suspended':
      throw new TenantSuspendedError();
    case 'quota':
      throw new QuotaExceededError('members', result.maxMembers);
    case 'invalid':
      throw invalid;
  }
}

export async function invitationInviter(
  ctx: GraphQLContext,
  invitation: Invitation,
): Promise<User | null> {
  if (!invitation.invitedById) return null;
  return (await loadUser(ctx, invitation.invitedById)) ?? null;
}
