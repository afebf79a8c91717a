import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH_FIELDS,
  codeOf,
  mailedToken,
  signUpAccount,
  tokenInMail,
  type Account,
} from '../support/accounts.js';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testDeliveryConfig, testWorker } from '../support/delivery.js';
import { ACCEPT, INVITE, joinTeam } from '../support/invitations.js';
import { startSmtpInbox, type SmtpInbox } from '../support/smtp.js';

let db: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

type Role = 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER';

interface InvitationResult {
  id: string;
  email: string;
  role: Role;
  status: string;
  createdAt: string;
  expiresAt: string;
  lastSentAt: string;
  invitedBy: { id: string } | null;
}

interface Team {
  tenantId: string;
  name: string;
  owner: Account;
  admin: Account;
  member: Account;
  viewer: Account;
}

const ADD = `mutation ($input: AddMemberInput!) {
  addMember(input: $input) { role joinedAt user { id email name emailVerified } } }`;
const LIST = '{ invitations { id email role status invitedBy { id } } }';
const RESEND =
  'mutation ($id: ID!) { resendInvitation(id: $id) { id status expiresAt lastSentAt } }';
const REVOKE = 'mutation ($id: ID!) { revokeInvitation(id: $id) }';
const PROJECTS = '{ projects(first: 10) { totalCount edges { node { name } } } }';
const ME = '{ me { id email emailVerified } }';

/** A fresh tenant with one account per role, every one of them joined by invitation. */
async function team(label: string): Promise<Team> {
  const owner = await signUpAccount(api, `${label}-owner`);
  const name = `Team ${label}`;
  const created = await api.request<{ createTenant: { id: string } }>(
    'mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }',
    { input: { name, slug: `${label}-${randomUUID().slice(0, 8)}` } },
    { token: owner.token },
  );
  const tenantId = created.data?.createTenant.id ?? '';
  await as(
    owner,
    tenantId,
    'mutation { createProject(input: {name: "Secret plans", key: "SEC"}) { id } }',
  );
  return {
    tenantId,
    name,
    owner,
    ...(await joinTeam(api, db.ownerUrl, { ownerToken: owner.token, tenantId, label })),
  };
}

function as<T = Record<string, unknown>>(
  account: Account | string,
  tenantId: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResult<T>> {
  return api.request<T>(query, variables, {
    token: typeof account === 'string' ? account : account.token,
    headers: tenantId ? { 'x-tenant-id': tenantId } : {},
  });
}

async function invite(
  actor: Account,
  tenantId: string,
  email: string,
  role: Role,
): Promise<InvitationResult> {
  const result = await as<{ inviteMember: InvitationResult }>(actor, tenantId, INVITE, {
    input: { email, role },
  });
  if (!result.data) throw new Error(`inviteMember failed: ${JSON.stringify(result.errors)}`);
  return result.data.inviteMember;
}

function accept(account: Account | string, token: string) {
  return as<{ acceptInvitation: { role: Role; user: { id: string } } }>(
    account,
    undefined,
    ACCEPT,
    { token },
  );
}

async function rolesOf(t: Team): Promise<Record<string, Role>> {
  const result = await as<{ members: { role: Role; user: { id: string } }[] }>(
    t.owner,
    t.tenantId,
    '{ members { role user { id } } }',
  );
  return Object.fromEntries((result.data?.members ?? []).map((m) => [m.user.id, m.role]));
}

async function verifiedAccount(label: string): Promise<Account> {
  const account = await signUpAccount(api, label);
  const token = await mailedToken(db.ownerUrl, account.email, 'VERIFY_EMAIL');
  const verified = await api.request('mutation ($t: String!) { verifyEmail(token: $t) }', {
    t: token,
  });
  expect(verified.errors).toBeUndefined();
  return account;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

describe('the squatting attack', () => {
  it('gives a stranger who signed up with the address nothing, and the real owner still joins', async () => {
    const victim = await team('victim');
    const ceo = `ceo-${randomUUID().slice(0, 8)}@victim.test`;
    // 1. A stranger signs up with the victim's address (unverified) and waits.
    const stranger = await api.request<{ signUp: { token: string; user: { id: string } } }>(
      `mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`,
      { input: { email: ceo, password: 'stranger danger 12345', name: 'Not the CEO' } },
    );
    const strangerToken = stranger.data?.signUp.token ?? '';
    const strangerId = stranger.data?.signUp.user.id ?? '';
    expect(strangerToken).not.toBe('');

    // 2. An admin of the victim's tenant adds the address, the old way and the new way.
    const added = await as<{ addMember: { role: Role; user: { id: string } } }>(
      victim.admin,
      victim.tenantId,
      ADD,
      { input: { email: ceo, role: 'ADMIN' } },
    );
    expect(added.errors).toBeUndefined();
    expect(added.data?.addMember.user.id).not.toBe(strangerId);
    await invite(victim.admin, victim.tenantId, ceo, 'ADMIN');

    // 3. The stranger's token with the victim's tenant reads nothing.
    for (const query of [PROJECTS, '{ members { role } }', LIST]) {
      const read = await as(strangerToken, victim.tenantId, query);
      expect(codeOf(read)).toBe('FORBIDDEN');
      expect(read.data ?? null).toBeNull();
    }
    const mine = await as<{ myTenants: { id: string }[] }>(
      strangerToken,
      undefined,
      '{ myTenants { id } }',
    );
    expect(mine.data?.myTenants.map((t) => t.id)).not.toContain(victim.tenantId);
    expect((await rolesOf(victim))[strangerId]).toBeUndefined();
    // Guessing a link gets the stranger nowhere either.
    expect(codeOf(await accept(strangerToken, 'A'.repeat(43)))).toBe('BAD_USER_INPUT');

    // The real owner of the address reclaims the account with a password reset (which proves
    // the address and signs the stranger out), then accepts with the link from their mail.
    await api.request('mutation ($e: String!) { requestPasswordReset(email: $e) }', { e: ceo });
    const resetToken = await mailedToken(db.ownerUrl, ceo, 'PASSWORD_RESET');
    const reset = await api.request(
      'mutation ($input: ResetPasswordInput!) { resetPassword(input: $input) }',
      { input: { token: resetToken, newPassword: 'the real ceo 2024!' } },
    );
    expect(reset.errors).toBeUndefined();
    expect(codeOf(await as(strangerToken, undefined, ME))).toBe('UNAUTHENTICATED');
    const login = await api.request<{ login: { token: string } }>(
      'mutation ($input: LoginInput!) { login(input: $input) { token } }',
      { input: { email: ceo, password: 'the real ceo 2024!' } },
    );
    const ceoToken = login.data?.login.token ?? '';
    const joined = await accept(ceoToken, await mailedToken(db.ownerUrl, ceo));
    expect(joined.errors).toBeUndefined();
    expect(joined.data?.acceptInvitation.role).toBe('ADMIN');
    const projects = await as<{ projects: { totalCount: number } }>(
      ceoToken,
      victim.tenantId,
      PROJECTS,
    );
    expect(projects.data?.projects.totalCount).toBe(1);
    // The stranger's sessions stay dead: the victim's data is only the CEO's to read.
    expect(codeOf(await as(strangerToken, victim.tenantId, PROJECTS))).toBe('UNAUTHENTICATED');
  });
});

describe('inviteMember and addMember say nothing about accounts', () => {
  // Twice the 50 calls per kind asked for: medians of 50 calls swing by more than 10 % on a
  // loaded 2-core machine, which would make a 20 % bound flaky without saying anything.
  const ROUNDS = 100;

  /** Everything but what differs by design: ids, times and the address itself. */
  function shape(result: GraphQLResult<unknown>, email: string): string {
    return JSON.stringify({ ...result, status: result.status }, (key, value: unknown) => {
      if (['id', 'createdAt', 'expiresAt', 'lastSentAt', 'joinedAt'].includes(key)) return 'X';
      return value === email ? 'EMAIL' : value;
    });
  }

  async function compare(query: string, label: string) {
    const t = await team(`timing-${label}`);
    const verified = await verifiedAccount(`${label}-verified`);
    const unverified = await signUpAccount(api, `${label}-unverified`);
    const kinds = {
      unknown: `nobody-${randomUUID().slice(0, 8)}@example.test`,
      unverified: unverified.email,
      verified: verified.email,
    };
    const entries = Object.entries(kinds) as [keyof typeof kinds, string][];
    const times: Record<keyof typeof kinds, number[]> = {
      unknown: [],
      unverified: [],
      verified: [],
    };
    const shapes = new Set<string>();
    const send = async (email: string) => {
      const started = performance.now();
      const result = await as(t.admin, t.tenantId, query, { input: { email, role: 'MEMBER' } });
      return { elapsed: performance.now() - started, result };
    };
    // Warm up every path (plans, connections) before measuring.
    for (let i = 0; i < 5; i += 1) for (const [, email] of entries) await send(email);
    for (let round = 0; round < ROUNDS; round += 1) {
      // Interleaved, in a new order each round, so load on the machine hits every kind alike.
      for (const [kind, email] of shuffled(entries)) {
        const { elapsed, result } = await send(email);
        expect(result.errors).toBeUndefined();
        times[kind].push(elapsed);
        shapes.add(shape(result, email));
      }
    }
    expect([...shapes]).toHaveLength(1);
    // The kinds are compared call by call within a round (paired differences, then their
    // median): load on a shared machine comes and goes for all three alike, and is subtracted.
    const medians = entries.map(([kind]) => median(times[kind]));
    const typical = median(entries.flatMap(([kind]) => times[kind]));
    const differences = entries.flatMap(([a], i) =>
      entries.slice(i + 1).map(([b]) => ({
        pair: `${a}/${b}`,
        share:
          Math.abs(median(times[a].map((ms, round) => ms - (times[b][round] ?? ms)))) / typical,
      })),
    );
    console.log(
      `${label}: median ms ${entries.map(([kind], i) => `${kind} ${medians[i]?.toFixed(2)}`).join(', ')}; ` +
        `median paired difference ${differences.map((d) => `${d.pair} ${(d.share * 100).toFixed(1)} %`).join(', ')}`,
    );
    for (const { pair, share } of differences) expect(share, pair).toBeLessThan(0.2);
    // Nobody joined: every one of them is still only invited.
    const roles = await rolesOf(t);
    expect(roles[verified.id]).toBeUndefined();
    expect(roles[unverified.id]).toBeUndefined();
  }

  it('inviteMember: the same answer, in shape and time, for unknown, unverified and verified addresses', async () => {
    await compare(INVITE, 'invite');
  }, 120_000);

  it('addMember (deprecated): the same, and it adds nobody', async () => {
    await compare(ADD, 'add');
  }, 120_000);

  it('answers addMember with the pending invitation, shaped as a Member', async () => {
    const t = await team('compat');
    const account = await verifiedAccount('compat-target');
    const added = await as<{
      addMember: {
        role: Role;
        user: { id: string; email: string; name: string; emailVerified: boolean };
      };
    }>(t.admin, t.tenantId, ADD, { input: { email: account.email.toUpperCase(), role: 'VIEWER' } });
    const pending = await as<{ invitations: InvitationResult[] }>(t.admin, t.tenantId, LIST);
    const invitation = pending.data?.invitations.find((i) => i.email === account.email);
    expect(added.data?.addMember).toEqual({
      role: 'VIEWER',
      joinedAt: expect.any(String) as string,
      user: { id: invitation?.id, email: account.email, name: account.email, emailVerified: false },
    });
    expect((await rolesOf(t))[account.id]).toBeUndefined();
    const joined = await accept(account, await mailedToken(db.ownerUrl, account.email));
    expect(joined.data?.acceptInvitation.role).toBe('VIEWER');
  });
});

describe('accepting', () => {
  let t: Team;
  let invalidMessage: string | undefined;
  beforeAll(async () => {
    t = await team('accepting');
  });

  function expectRefused(result: GraphQLResult<unknown>) {
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'token',
    });
    expect(result.data ?? null).toBeNull();
    invalidMessage ??= result.errors?.[0]?.message;
    // One message for every link that does not work: nothing to probe.
    expect(result.errors?.[0]?.message).toBe(invalidMessage);
  }

  it('works once, verifies the invited address, and opens the tenant to the new member', async () => {
    const newcomer = await signUpAccount(api, 'newcomer');
    const sent = await invite(t.admin, t.tenantId, newcomer.email, 'MEMBER');
    expect(sent).toMatchObject({ email: newcomer.email, role: 'MEMBER', status: 'PENDING' });
    expect(sent.invitedBy?.id).toBe(t.admin.id);
    const token = await mailedToken(db.ownerUrl, newcomer.email);
    expect(codeOf(await as(newcomer, t.tenantId, PROJECTS))).toBe('FORBIDDEN');
    const me = await as<{ me: { emailVerified: boolean } }>(newcomer, undefined, ME);
    expect(me.data?.me.emailVerified).toBe(false);

    const joined = await accept(newcomer, token);
    expect(joined.data?.acceptInvitation).toMatchObject({
      role: 'MEMBER',
      user: { id: newcomer.id },
    });
    const after = await as<{ me: { emailVerified: boolean } }>(newcomer, undefined, ME);
    expect(after.data?.me.emailVerified).toBe(true);
    const read = await as<{ projects: { totalCount: number } }>(newcomer, t.tenantId, PROJECTS);
    expect(read.data?.projects.totalCount).toBe(1);
    const created = await as(
      newcomer,
      t.tenantId,
      'mutation { createProject(input: {name: "Mine", key: "MNE"}) { id } }',
    );
    expect(created.errors).toBeUndefined();
    // The inviter added them, as far as the tenant's notifications and log are concerned.
    const inbox = await as<{
      notifications: { edges: { node: { kind: string; actor: { id: string } | null } }[] };
    }>(
      newcomer,
      t.tenantId,
      '{ notifications(first: 5) { edges { node { kind actor { id } } } } }',
    );
    expect(inbox.data?.notifications.edges.map((e) => e.node)).toEqual([
      { kind: 'MEMBER_ADDED', actor: { id: t.admin.id } },
    ]);

    expectRefused(await accept(newcomer, token));
    const other = await signUpAccount(api, 'latecomer');
    expectRefused(await accept(other, token));
    const listed = await as<{ invitations: InvitationResult[] }>(t.admin, t.tenantId, LIST);
    expect(listed.data?.invitations.map((i) => i.id)).not.toContain(sent.id);
  });

  it('goes to the signed-in account, whatever its address, and verifies only a matching one', async () => {
    const invited = `elsewhere-${randomUUID().slice(0, 8)}@example.test`;
    await invite(t.owner, t.tenantId, invited, 'VIEWER');
    const account = await signUpAccount(api, 'other-address');
    const joined = await accept(account, await mailedToken(db.ownerUrl, invited));
    expect(joined.data?.acceptInvitation).toMatchObject({
      role: 'VIEWER',
      user: { id: account.id, email: account.email },
    });
    const me = await as<{ me: { emailVerified: boolean } }>(account, undefined, ME);
    expect(me.data?.me.emailVerified).toBe(false);
  });

  it('refuses expired, revoked, replaced and made-up links alike, and anonymous callers', async () => {
    const expiring = await signUpAccount(api, 'expiring');
    const expired = await invite(t.admin, t.tenantId, expiring.email, 'MEMBER');
    const expiredToken = await mailedToken(db.ownerUrl, expiring.email);
    await ownerQuery(
      db.ownerUrl,
      `update app.invitations set expires_at = now() - interval '1 second' where id = $1`,
      [expired.id],
    );
    expectRefused(await accept(expiring, expiredToken));
    const listed = await as<{ invitations: InvitationResult[] }>(t.admin, t.tenantId, LIST);
    expect(listed.data?.invitations.find((i) => i.id === expired.id)?.status).toBe('EXPIRED');

    // Resending mails a new link with a new expiry; the old one stops working.
    const resent = await as<{ resendInvitation: InvitationResult }>(t.admin, t.tenantId, RESEND, {
      id: expired.id,
    });
    expect(resent.data?.resendInvitation).toMatchObject({ id: expired.id, status: 'PENDING' });
    const freshToken = await mailedToken(db.ownerUrl, expiring.email);
    expect(freshToken).not.toBe(expiredToken);
    expectRefused(await accept(expiring, expiredToken));

    // Inviting the address again refreshes the same invitation: one open link at a time.
    const again = await invite(t.owner, t.tenantId, expiring.email, 'ADMIN');
    expect(again.id).toBe(expired.id);
    expectRefused(await accept(expiring, freshToken));
    const latest = await mailedToken(db.ownerUrl, expiring.email);

    const revoked = await as<{ revokeInvitation: boolean }>(t.admin, t.tenantId, REVOKE, {
      id: expired.id,
    });
    expect(revoked.data?.revokeInvitation).toBe(true);
    expectRefused(await accept(expiring, latest));
    expect(codeOf(await as(t.admin, t.tenantId, RESEND, { id: expired.id }))).toBe('CONFLICT');

    expectRefused(await accept(expiring, 'not-a-token'));
    expectRefused(await accept(expiring, 'B'.repeat(43)));
    const anonymous = await api.request(ACCEPT, { token: latest });
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    expect((await rolesOf(t))[expiring.id]).toBeUndefined();
  });

  it('never downgrades an existing member, and upgrades when the invitation grants more', async () => {
    const lower = `second-${randomUUID().slice(0, 8)}@example.test`;
    await invite(t.owner, t.tenantId, lower, 'VIEWER');
    const kept = await accept(t.member, await mailedToken(db.ownerUrl, lower));
    expect(kept.data?.acceptInvitation.role).toBe('MEMBER');
    const higher = `third-${randomUUID().slice(0, 8)}@example.test`;
    await invite(t.owner, t.tenantId, higher, 'ADMIN');
    const upgraded = await accept(t.viewer, await mailedToken(db.ownerUrl, higher));
    expect(upgraded.data?.acceptInvitation.role).toBe('ADMIN');
    const roles = await rolesOf(t);
    expect(roles[t.member.id]).toBe('MEMBER');
    expect(roles[t.viewer.id]).toBe('ADMIN');
  });

  it('refuses a link whose inviter may no longer add members', async () => {
    const u = await team('demoted');
    const invitee = await signUpAccount(api, 'orphan');
    await invite(u.admin, u.tenantId, invitee.email, 'MEMBER');
    const demoted = await as(
      u.owner,
      u.tenantId,
      'mutation ($u: ID!) { changeMemberRole(userId: $u, role: MEMBER) { role } }',
      {
        u: u.admin.id,
      },
    );
    expect(demoted.errors).toBeUndefined();
    expectRefused(await accept(invitee, await mailedToken(db.ownerUrl, invitee.email)));
    // Still open: an owner or admin who sends it again vouches for it from then on.
    const listed = await as<{ invitations: InvitationResult[] }>(u.owner, u.tenantId, LIST);
    const open = listed.data?.invitations.find((i) => i.email === invitee.email);
    expect(open?.status).toBe('PENDING');
    await as(u.owner, u.tenantId, RESEND, { id: open?.id });
    const joined = await accept(invitee, await mailedToken(db.ownerUrl, invitee.email));
    expect(joined.data?.acceptInvitation.role).toBe('MEMBER');
  });
});

describe('who may manage invitations', () => {
  let t: Team;
  let pendingId: string;
  beforeAll(async () => {
    t = await team('managers');
    pendingId = (
      await invite(
        t.admin,
        t.tenantId,
        `pending-${randomUUID().slice(0, 8)}@example.test`,
        'MEMBER',
      )
    ).id;
  });

  it('is owners and admins only: members and viewers get FORBIDDEN for every field', async () => {
    for (const actor of [t.member, t.viewer]) {
      for (const [query, variables] of [
        [INVITE, { input: { email: 'someone@example.test', role: 'VIEWER' } }],
        [ADD, { input: { email: 'someone@example.test', role: 'VIEWER' } }],
        [LIST, {}],
        [RESEND, { id: pendingId }],
        [REVOKE, { id: pendingId }],
      ] as const) {
        const result = await as(actor, t.tenantId, query, variables);
        expect(codeOf(result), query).toBe('FORBIDDEN');
        expect(result.data ?? null).toBeNull();
      }
    }
    const listed = await as<{ invitations: InvitationResult[] }>(t.admin, t.tenantId, LIST);
    expect(listed.data?.invitations.map((i) => i.id)).toContain(pendingId);
  });

  it('lets only owners invite OWNERs, and resend or revoke such invitations', async () => {
    const email = `co-owner-${randomUUID().slice(0, 8)}@example.test`;
    const refused = await as(t.admin, t.tenantId, INVITE, { input: { email, role: 'OWNER' } });
    expect(codeOf(refused)).toBe('FORBIDDEN');
    const sent = await invite(t.owner, t.tenantId, email, 'OWNER');
    expect(codeOf(await as(t.admin, t.tenantId, RESEND, { id: sent.id }))).toBe('FORBIDDEN');
    expect(codeOf(await as(t.admin, t.tenantId, REVOKE, { id: sent.id }))).toBe('FORBIDDEN');
    // Nor may an admin turn it into a lesser invitation by inviting the address again.
    expect(
      codeOf(await as(t.admin, t.tenantId, INVITE, { input: { email, role: 'MEMBER' } })),
    ).toBe('FORBIDDEN');
    const coOwner = await signUpAccount(api, 'co-owner');
    const joined = await accept(coOwner, await mailedToken(db.ownerUrl, email));
    expect(joined.data?.acceptInvitation.role).toBe('OWNER');
  });

  it("refuses a current member's address (CONFLICT) and validates input", async () => {
    const conflict = await as(t.admin, t.tenantId, INVITE, {
      input: { email: t.viewer.email, role: 'ADMIN' },
    });
    expect(conflict.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'email' });
    const bad = await as(t.admin, t.tenantId, INVITE, {
      input: { email: 'not an address', role: 'ADMIN' },
    });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
    const badId = await as(t.admin, t.tenantId, REVOKE, { id: 'nope' });
    expect(badId.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(codeOf(await as(t.admin, t.tenantId, REVOKE, { id: randomUUID() }))).toBe('NOT_FOUND');
    expect(codeOf(await api.request(LIST, {}, { token: t.admin.token }))).toBe('TENANT_REQUIRED');
  });

  it("keeps one tenant's invitations invisible to another tenant's admins", async () => {
    const other = await team('others');
    const theirs = await as<{ invitations: InvitationResult[] }>(other.admin, other.tenantId, LIST);
    expect(theirs.data?.invitations.map((i) => i.id)).not.toContain(pendingId);
    for (const query of [RESEND, REVOKE]) {
      const result = await as(other.admin, other.tenantId, query, { id: pendingId });
      expect(codeOf(result), query).toBe('NOT_FOUND');
    }
    // Naming the first tenant does not help someone who is not in it.
    expect(codeOf(await as(other.admin, t.tenantId, LIST))).toBe('FORBIDDEN');
    expect(codeOf(await as(other.admin, t.tenantId, REVOKE, { id: pendingId }))).toBe('FORBIDDEN');
    const ours = await as<{ invitations: InvitationResult[] }>(t.admin, t.tenantId, LIST);
    expect(ours.data?.invitations.find((i) => i.id === pendingId)?.status).toBe('PENDING');
  });

  it('rate-limits the emails: per recipient, across inviting and resending', async () => {
    const limited = await startTestApp(db, { ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS: '2' });
    try {
      const email = `popular-${randomUUID().slice(0, 8)}@example.test`;
      const call = (query: string, variables: Record<string, unknown>) =>
        limited.request<{ inviteMember?: { id: string } }>(query, variables, {
          token: t.admin.token,
          headers: { 'x-tenant-id': t.tenantId },
        });
      const first = await call(INVITE, { input: { email, role: 'MEMBER' } });
      expect(first.errors).toBeUndefined();
      const id = first.data?.inviteMember?.id;
      expect((await call(RESEND, { id })).errors).toBeUndefined();
      const third = await call(RESEND, { id });
      expect(codeOf(third)).toBe('RATE_LIMITED');
      expect(codeOf(await call(INVITE, { input: { email, role: 'MEMBER' } }))).toBe('RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });
});

describe('the invitation email, through a real SMTP server', () => {
  let smtp: SmtpInbox;

  beforeAll(async () => {
    smtp = await startSmtpInbox();
  });
  afterAll(async () => {
    await smtp.close();
  });

  it('mails the link to the address, naming tenant, inviter and role; the link in it joins', async () => {
    const t = await team('mailed');
    const invitee = await signUpAccount(api, 'mailed-invitee');
    await invite(t.admin, t.tenantId, invitee.email, 'VIEWER');
    // The other tests' mails are not this test's business: the worker sends only this one.
    await ownerQuery(
      db.ownerUrl,
      `update app.account_emails set status = 'dead', body = '' where recipient <> $1`,
      [invitee.email],
    );
    const worker = testWorker(db, testDeliveryConfig({ SMTP_URL: smtp.url }));
    worker.start();
    let text: string;
    try {
      ({ text } = await smtp.waitForMail(invitee.email, /invited/));
    } finally {
      await worker.stop();
    }
    expect(text).toContain(`"${t.name}"`);
    expect(text).toContain('Test mailed-admin');
    expect(text).toContain('as a viewer');
    const token = tokenInMail(text);
    expect(token).toBeDefined();
    // Delivered, the outbox keeps no copy of the link.
    const [stored] = await ownerQuery<{ body: string; status: string }>(
      db.ownerUrl,
      `select body, status from app.account_emails where recipient = $1 and kind = 'INVITATION'`,
      [invitee.email],
    );
    expect(stored).toEqual({ body: '', status: 'delivered' });
    const joined = await accept(invitee, token ?? '');
    expect(joined.data?.acceptInvitation.role).toBe('VIEWER');
  });
});
