import type { TenantContext } from '../../db/operation.js';
import type { MembershipRoleValue } from '../../db/schema.js';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { loadUser } from '../user/user.service.js';
import type { User } from '../user/user.type.js';
import { readFilter, rulesFor } from '../../graphql/filter.js';
import type { MemberFilter } from './member.input.js';
import {
  MEMBER_FILTER,
  deleteMembership,
  findMembership,
  findMemberships,
  lockOwners,
  updateMembershipRole,
  type MembershipRow,
} from './member.repository.js';
import type { Member } from './member.type.js';
import { requireId } from '../../graphql/validate.js';
import { refuseApiKey } from '../../tenancy/permissions.js';

const ROLES: readonly MembershipRoleValue[] = ['owner', 'admin', 'member', 'viewer'];

export class LastOwnerError extends ConflictError {
  constructor() {
    super('A tenant always keeps at least one owner. Make someone else an owner first.', 'userId');
  }
}

function toMember(row: MembershipRow): Member {
  return { userId: row.user_id, role: row.role, joinedAt: row.created_at };
}

function isManager(role: MembershipRoleValue): boolean {
  return role === 'owner' || role === 'admin';
}

function checkRole(role: string, field: string): MembershipRoleValue {
  const known = ROLES.find((r) => r === role);
  if (!known) throw new BadUserInputError(field, 'Unknown role.');
  return known;
}

/**
 * Owners and admins manage members; only owners touch the OWNER role, whether granting it or
 * changing or removing someone who holds it.
 */
function assertMayManage(
  actor: TenantContext,
  targetRole: MembershipRoleValue | undefined,
  newRole: MembershipRoleValue | undefined,
): void {
  refuseApiKey(actor);
  if (!isManager(actor.role)) {
    throw new ForbiddenError('Only owners and admins manage members.');
  }
  if ((targetRole === 'owner' || newRole === 'owner') && actor.role !== 'owner') {
    throw new ForbiddenError('Only owners grant or revoke the OWNER role.');
  }
}

/**
 * The target's membership. When the caller is an owner the target may be an owner too, so every
 * owner row is locked first (in a fixed order), then the target's; `otherOwners` tells whether
 * anyone else would still own the tenant. Two owners demoting or removing each other at once
 * therefore serialise on those row locks, and the second sees the first one's change and is
 * refused. Admins never touch owners, so they need no lock: the update and delete policies
 * re-check the target's role at write time.
 */
async function findTarget(
  ctx: GraphQLContext,
  actor: TenantContext,
  userId: string,
): Promise<{ target: MembershipRow; otherOwners: number }> {
  const trx = await ctx.db.transaction();
  const owners = actor.role === 'owner' ? await lockOwners(trx, actor.tenantId) : [];
  // The role was read when the operation began; an owner demoted since then is one no longer.
  if (actor.role === 'owner' && !owners.includes(actor.userId)) {
    throw new ForbiddenError('Only owners grant or revoke the OWNER role.');
  }
  const target = await findMembership(trx, actor.tenantId, userId, {
    lock: actor.role === 'owner',
  });
  if (!target) throw new NotFoundError('Member', userId);
  return { target, otherOwners: owners.filter((id) => id !== userId).length };
}

const MEMBER_FILTER_RULES = rulesFor(MEMBER_FILTER);

export async function listMembers(
  ctx: GraphQLContext,
  filter: MemberFilter | null | undefined,
): Promise<Member[]> {
  const tenant = await ctx.db.tenant();
  const condition = readFilter(filter, MEMBER_FILTER_RULES);
  const rows = await findMemberships(await ctx.db.transaction(), tenant.tenantId, condition);
  return rows.map(toMember);
}

export async function memberUser(ctx: GraphQLContext, member: Member): Promise<User> {
  if (member.placeholder) return member.placeholder;
  const user = await loadUser(ctx, member.userId);
  if (!user) throw new NotFoundError('User', member.userId);
  return user;
}

export async function changeMemberRole(
  ctx: GraphQLContext,
  rawUserId: string,
  rawRole: string,
): Promise<Member> {
  const actor = await ctx.db.tenant();
  const userId = requireId('userId', rawUserId);
  const role = checkRole(rawRole, 'role');
  assertMayManage(actor, undefined, role);
  const { target, otherOwners } = await findTarget(ctx, actor, userId);
  assertMayManage(actor, target.role, role);
  if (target.role === 'owner' && role !== 'owner' && otherOwners === 0) {
    throw new LastOwnerError();
  }
  if (target.role === role) return toMember(target);
  const updated = await updateMembershipRole(
    await ctx.db.transaction(),
    actor.tenantId,
    userId,
    role,
  );
  if (!updated) throw new NotFoundError('Member', userId);
  return toMember(updated);
}

/** Removes a member; anyone may remove themselves (leave), except the last owner. */
export async function removeMember(ctx: GraphQLContext, rawUserId: string): Promise<boolean> {
  const actor = await ctx.db.tenant();
  refuseApiKey(actor);
  const userId = requireId('userId', rawUserId);
  const leaving = userId === actor.userId.toLowerCase();
  if (!leaving) assertMayManage(actor, undefined, undefined);
  if (leaving && !isManager(actor.role)) {
    // Members and viewers are never owners: nothing to guard but the delete itself.
    return deleteMembership(await ctx.db.transaction(), actor.tenantId, userId);
  }
  const { target, otherOwners } = await findTarget(ctx, actor, userId);
  if (!leaving) assertMayManage(actor, target.role, undefined);
  if (target.role === 'owner' && otherOwners === 0) throw new LastOwnerError();
  if (!(await deleteMembership(await ctx.db.transaction(), actor.tenantId, userId))) {
    throw new NotFoundError('Member', userId);
  }
  return true;
}
