import { sql } from 'kysely';
import type { Tx } from '../../db/operation.js';
import type { MembershipRoleValue } from '../../db/schema.js';

export interface InvitationRow {
  id: string;
  email: string;
  role: MembershipRoleValue;
  invited_by: string | null;
  created_at: Date;
  expires_at: Date;
  last_sent_at: Date;
  accepted_at: Date | null;
  revoked_at: Date | null;
}

const INVITATION_COLUMNS = [
  'id',
  'email',
  'role',
  'invited_by',
  'created_at',
  'expires_at',
  'last_sent_at',
  'accepted_at',
  'revoked_at',
] as const;

/** What the invitation email says about who invites to what. */
export interface InvitationSender {
  tenantName: string;
  inviterName: string;
}

/** The current tenant's name and the caller's; undefined when either is not visible. */
export async function findInvitationSender(
  trx: Tx,
  tenantId: string,
  userId: string,
): Promise<InvitationSender | undefined> {
  const row = await trx
    .selectFrom('app.tenants as t')
    .innerJoin('app.users as u', (join) => join.on('u.id', '=', userId))
    .select(['t.name as tenantName', 'u.name as inviterName'])
    .where('t.id', '=', tenantId)
    .executeTakeFirst();
  return row;
}

/**
 * Whether a member of the tenant has this address, and whether an open OWNER invitation to it
 * exists. Only the tenant's own members are visible (RLS), so this says nothing about accounts
 * elsewhere, and it costs the same whether or not the address has one.
 */
export async function findInviteeState(
  trx: Tx,
  tenantId: string,
  email: string,
): Promise<{ member: boolean; ownerInvited: boolean }> {
  // The account first, then its membership: on a Citus cluster a join of users (a reference
  // table) with memberships would run on the workers, where the users policy's own look at
  // memberships cannot run; users read alone are read on the coordinator.
  const account = await trx
    .selectFrom('app.users')
    .select('id')
    .where('email', '=', email)
    .executeTakeFirst();
  const { rows } = await sql<{ member: boolean; owner_invited: boolean }>`
    select exists (select 1 from app.memberships m
                    where m.tenant_id = ${tenantId} and m.user_id = ${account?.id ?? null}::uuid)
             as member,
           exists (select 1 from app.invitations i
                    where i.tenant_id = ${tenantId} and i.email = ${email} and i.role = 'owner'
                      and i.accepted_at is null and i.revoked_at is null) as owner_invited`.execute(
    trx,
  );
  return { member: rows[0]?.member ?? false, ownerInvited: rows[0]?.owner_invited ?? false };
}

/**
 * Creates the open invitation of this address, or refreshes it (new token, role and expiry; the
 * invitations_resent trigger makes the caller its inviter; same id): a tenant holds at most one open invitation per address
 * (invitations_open_email_idx), so an older link stops working.
 */
export function upsertInvitation(
  trx: Tx,
  invitation: {
    tenantId: string;
    email: string;
    role: MembershipRoleValue;
    hash: Buffer;
    expiresAt: Date;
  },
): Promise<InvitationRow> {
  return trx
    .insertInto('app.invitations')
    .values({
      tenant_id: invitation.tenantId,
      email: invitation.email,
      role: invitation.role,
      token_hash: invitation.hash,
      expires_at: invitation.expiresAt,
    })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'email'])
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .doUpdateSet({
          role: invitation.role,
          token_hash: invitation.hash,
          expires_at: invitation.expiresAt,
        }),
    )
    .returning(INVITATION_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Open invitations (neither accepted nor revoked, expired ones included), newest first. */
export function findOpenInvitations(trx: Tx, tenantId: string): Promise<InvitationRow[]> {
  return trx
    .selectFrom('app.invitations')
    .select(INVITATION_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
}

export function findInvitation(
  trx: Tx,
  tenantId: string,
  id: string,
): Promise<InvitationRow | undefined> {
  return trx
    .selectFrom('app.invitations')
    .select(INVITATION_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A new link for an open invitation; undefined when it was accepted or revoked meanwhile. */
export function renewInvitation(
  trx: Tx,
  tenantId: string,
  id: string,
  token: { hash: Buffer; expiresAt: Date },
): Promise<InvitationRow | undefined> {
  return trx
    .updateTable('app.invitations')
    .set({ token_hash: token.hash, expires_at: token.expiresAt })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returning(INVITATION_COLUMNS)
    .executeTakeFirst();
}

/** Revokes an open invitation; false when it was accepted or revoked meanwhile. */
export async function revokeInvitation(trx: Tx, tenantId: string, id: string): Promise<boolean> {
  const result = await trx
    .updateTable('app.invitations')
    .set({ revoked_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export type AcceptOutcome =
  | { outcome: 'accepted'; tenantId: string; role: MembershipRoleValue; joinedAt: Date }
  | { outcome: 'suspended' }
  | { outcome: 'quota'; maxMembers: number }
  | { outcome: 'invalid' };

/** Spends an invitation for the signed-in user (app.accept_invitation, sql/0015). */
export async function acceptInvitation(trx: Tx, hash: Buffer): Promise<AcceptOutcome> {
  const { rows } = await sql<{
    tenant_id: string | null;
    role: MembershipRoleValue | null;
    joined_at: Date | null;
    outcome: string;
    max_members: number | null;
  }>`select tenant_id, role, joined_at, outcome, max_members
       from app.accept_invitation(${hash})`.execute(trx);
  const row = rows[0];
  if (row?.outcome === 'accepted' && row.tenant_id && row.role && row.joined_at) {
    return {
      outcome: 'accepted',
      tenantId: row.tenant_id,
      role: row.role,
      joinedAt: row.joined_at,
    };
  }
  if (row?.outcome === 'suspended') return { outcome: 'suspended' };
  if (row?.outcome === 'quota' && row.max_members !== null) {
    return { outcome: 'quota', maxMembers: row.max_members };
  }
  return { outcome: 'invalid' };
}
