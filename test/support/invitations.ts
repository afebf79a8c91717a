import type { GraphQLResult, TestApp } from './app.js';
import { ownerQuery } from './callers.js';

export const INVITE = `mutation ($input: InviteMemberInput!) {
  inviteMember(input: $input) { id email role status createdAt expiresAt lastSentAt invitedBy { id } } }`;
export const ACCEPT =
  'mutation ($token: String!) { acceptInvitation(token: $token) { role joinedAt user { id email } } }';

/** The token in a mailed one-time link: the mutation text every account email carries. */
export function tokenInMail(body: string): string | undefined {
  return /token: "([A-Za-z0-9_-]{43})"/.exec(body)?.[1];
}

/**
 * The token of the newest account email of `kind` to `recipient` (that mentions `mention`, when
 * given: several tenants may invite one address at once), read from the outbox as the migrator.
 * The API never returns it: only the mail carries it.
 */
export async function mailedToken(
  ownerUrl: string,
  recipient: string,
  kind: 'INVITATION' | 'PASSWORD_RESET' | 'VERIFY_EMAIL' = 'INVITATION',
  mention = '',
): Promise<string> {
  const [mail] = await ownerQuery<{ body: string }>(
    ownerUrl,
    `select body from app.account_emails
      where recipient = $1 and kind = $2 and position($3 in body) > 0
      order by created_at desc, id desc limit 1`,
    [recipient.trim().toLowerCase(), kind, mention],
  );
  const token = mail ? tokenInMail(mail.body) : undefined;
  if (!token) throw new Error(`no ${kind} email with a token to ${recipient}`);
  return token;
}

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
