import type { GraphQLResult, TestApp } from './app.js';
import { mailedToken, signUpAccount, type Account } from './accounts.js';

export const INVITE = `mutation ($input: InviteMemberInput!) {
  inviteMember(input: $input) { id email role status createdAt expiresAt lastSentAt invitedBy { id } } }`;
export const ACCEPT =
  'mutation ($token: String!) { acceptInvitation(token: $token) { role joinedAt user { id email } } }';

function fail(what: string, result: GraphQLResult<unknown>): never {
  throw new Error(`${what} failed: ${JSON.stringify(result.errors)}`);
}

/**
 * Makes an account a member the way people do now: an admin (`inviterToken`) invites its address
 * in `tenantId`, and the account (`accepterToken`) accepts with the token from the mail.
 */
export async function inviteAndAccept(
  api: TestApp,
  ownerUrl: string,
  invitation: {
    inviterToken: string;
    tenantId: string;
    email: string;
    role: string;
    accepterToken: string;
  },
): Promise<{ role: string; user: { id: string; email: string } }> {
  const invited = await api.request(
    INVITE,
    { input: { email: invitation.email, role: invitation.role } },
    { token: invitation.inviterToken, headers: { 'x-tenant-id': invitation.tenantId } },
  );
  if (invited.errors) fail('inviteMember', invited);
  const token = await mailedToken(ownerUrl, invitation.email);
  const accepted = await api.request<{
    acceptInvitation: { role: string; user: { id: string; email: string } };
  }>(ACCEPT, { token }, { token: invitation.accepterToken });
  if (accepted.errors || !accepted.data) fail('acceptInvitation', accepted);
  return accepted.data.acceptInvitation;
}

/**
 * An admin, a member and a viewer for the owner's tenant: each signs up (`<label>-<role>`) and
 * joins by accepting the owner's invitation.
 */
export async function joinTeam(
  api: TestApp,
  ownerUrl: string,
  team: { ownerToken: string; tenantId: string; label: string },
): Promise<Record<'admin' | 'member' | 'viewer', Account>> {
  const joined = {} as Record<'admin' | 'member' | 'viewer', Account>;
  for (const role of ['admin', 'member', 'viewer'] as const) {
    const account = await signUpAccount(api, `${team.label}-${role}`);
    await inviteAndAccept(api, ownerUrl, {
      inviterToken: team.ownerToken,
      tenantId: team.tenantId,
      email: account.email,
      role: role.toUpperCase(),
      accepterToken: account.token,
    });
    joined[role] = account;
  }
  return joined;
}
