import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUpAccount, type Account } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { mailedToken } from '../support/accounts.js';
import { INVITE, joinTeam } from '../support/invitations.js';

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

interface MemberResult {
  role: Role;
  user: { id: string; email: string };
}

const MEMBERS = '{ members { role joinedAt user { id email } } }';
const ADD = `mutation ($input: AddMemberInput!) { addMember(input: $input) { role user { id email } } }`;
const CHANGE = `mutation ($userId: ID!, $role: MembershipRole!) {
  changeMemberRole(userId: $userId, role: $role) { role user { id } } }`;
const REMOVE = 'mutation ($userId: ID!) { removeMember(userId: $userId) }';

interface Team {
  tenantId: string;
  owner: Account;
  admin: Account;
  member: Account;
  viewer: Account;
}

/** A fresh tenant with one signed-up account per role, built through the API. */
async function team(label: string): Promise<Team> {
  const owner = await signUpAccount(api, `${label}-owner`);
  const created = await api.request<{ createTenant: { id: string } }>(
    'mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }',
    { input: { name: label, slug: `${label}-${randomUUID().slice(0, 8)}` } },
    { token: owner.token },
  );
  const tenantId = created.data?.createTenant.id ?? '';
  return {
    tenantId,
    owner,
    ...(await joinTeam(api, db.ownerUrl, { ownerToken: owner.token, tenantId, label })),
  };
}

function as<T = Record<string, unknown>>(
  account: Account,
  tenantId: string,
  query: string,
  variables?: Record<string, unknown>,
) {
  return api.request<T>(query, variables, {
    token: account.token,
    headers: { 'x-tenant-id': tenantId },
  });
}

async function rolesOf(t: Team): Promise<Record<string, Role>> {
  const result = await as<{ members: MemberResult[] }>(t.owner, t.tenantId, MEMBERS);
  return Object.fromEntries((result.data?.members ?? []).map((m) => [m.user.id, m.role]));
}

describe('members', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team('crew');
  });

  it('lists every member with role and user, for any role', async () => {
    const result = await as<{ members: MemberResult[] }>(t.viewer, t.tenantId, MEMBERS);
    expect(result.errors).toBeUndefined();
    const byId = Object.fromEntries((result.data?.members ?? []).map((m) => [m.user.id, m]));
    expect(byId[t.owner.id]).toMatchObject({ role: 'OWNER', user: { email: t.owner.email } });
    expect(byId[t.admin.id]?.role).toBe('ADMIN');
    expect(byId[t.member.id]?.role).toBe('MEMBER');
    expect(byId[t.viewer.id]?.role).toBe('VIEWER');
    expect(Object.keys(byId)).toHaveLength(4);
  });

  it('is FORBIDDEN to a non-member, and TENANT_REQUIRED-free callers need a tenant', async () => {
    const outsider = await signUpAccount(api, 'outsider');
    expect(codeOf(await as(outsider, t.tenantId, MEMBERS))).toBe('FORBIDDEN');
    expect(codeOf(await api.request(MEMBERS, undefined, { token: t.owner.token }))).toBe(
      'TENANT_REQUIRED',
    );
  });
});

describe('adding members (invitations)', () => {
  let t: Team;
  beforeAll(async () => {
    t = await team('adds');
  });

  it('lets an admin invite by email, normalised; the account joins by accepting', async () => {
    const newcomer = await signUpAccount(api, 'newcomer');
    const invited = await as<{ inviteMember: { email: string; role: Role } }>(
      t.admin,
      t.tenantId,
      INVITE,
      { input: { email: ` ${newcomer.email.toUpperCase()} `, role: 'MEMBER' } },
    );
    expect(invited.data?.inviteMember).toMatchObject({ email: newcomer.email, role: 'MEMBER' });
    expect((await rolesOf(t))[newcomer.id]).toBeUndefined();
    const token = await mailedToken(db.ownerUrl, newcomer.email);
    const accepted = await api.request<{ acceptInvitation: MemberResult }>(
      'mutation ($token: String!) { acceptInvitation(token: $token) { role user { id email } } }',
      { token },
      { token: newcomer.token },
    );
    expect(accepted.data?.acceptInvitation).toMatchObject({
      role: 'MEMBER',
      user: { id: newcomer.id },
    });
    expect((await rolesOf(t))[newcomer.id]).toBe('MEMBER');
    const again = await as(t.admin, t.tenantId, INVITE, {
      input: { email: newcomer.email, role: 'VIEWER' },
    });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'email' });
  });

  it('keeps addMember for old clients: it invites, adds nobody, and says nothing about accounts', async () => {
    const existing = await signUpAccount(api, 'existing');
    const unknown = `nobody-${randomUUID().slice(0, 8)}@example.test`;
    for (const email of [existing.email, unknown]) {
      const result = await as<{ addMember: MemberResult }>(t.owner, t.tenantId, ADD, {
        input: { email, role: 'MEMBER' },
      });
      expect(result.errors).toBeUndefined();
      expect(result.data?.addMember).toMatchObject({ role: 'MEMBER', user: { email } });
    }
    expect((await rolesOf(t))[existing.id]).toBeUndefined();
  });

  it('refuses viewers and members (FORBIDDEN), and admins granting OWNER', async () => {
    const candidate = await signUpAccount(api, 'candidate');
    for (const actor of [t.viewer, t.member]) {
      for (const query of [ADD, INVITE]) {
        const result = await as(actor, t.tenantId, query, {
          input: { email: candidate.email, role: 'VIEWER' },
        });
        expect(codeOf(result)).toBe('FORBIDDEN');
        expect(result.data ?? null).toBeNull();
      }
    }
    for (const query of [ADD, INVITE]) {
      const owner = await as(t.admin, t.tenantId, query, {
        input: { email: candidate.email, role: 'OWNER' },
      });
      expect(codeOf(owner)).toBe('FORBIDDEN');
    }
    expect((await rolesOf(t))[candidate.id]).toBeUndefined();
  });
});

describe('changeMemberRole and removeMember', () => {
  it('lets admins manage non-owners but not touch owners', async () => {
    const t = await team('admins');
    const changed = await as<{ changeMemberRole: MemberResult }>(t.admin, t.tenantId, CHANGE, {
      userId: t.member.id,
      role: 'VIEWER',
    });
    expect(changed.data?.changeMemberRole.role).toBe('VIEWER');
    for (const [query, variables] of [
      [CHANGE, { userId: t.owner.id, role: 'ADMIN' }],
      [CHANGE, { userId: t.member.id, role: 'OWNER' }],
      [REMOVE, { userId: t.owner.id }],
    ] as const) {
      expect(codeOf(await as(t.admin, t.tenantId, query, variables))).toBe('FORBIDDEN');
    }
    expect(
      codeOf(await as(t.viewer, t.tenantId, CHANGE, { userId: t.member.id, role: 'ADMIN' })),
    ).toBe('FORBIDDEN');
    expect(codeOf(await as(t.member, t.tenantId, REMOVE, { userId: t.viewer.id }))).toBe(
      'FORBIDDEN',
    );
    const removed = await as<{ removeMember: boolean }>(t.admin, t.tenantId, REMOVE, {
      userId: t.viewer.id,
    });
    expect(removed.data?.removeMember).toBe(true);
    expect(codeOf(await as(t.viewer, t.tenantId, MEMBERS))).toBe('FORBIDDEN');
    expect(codeOf(await as(t.admin, t.tenantId, REMOVE, { userId: randomUUID() }))).toBe(
      'NOT_FOUND',
    );
  });

  it('never lets the last owner be demoted or removed', async () => {
    const t = await team('lastowner');
    const demote = await as(t.owner, t.tenantId, CHANGE, { userId: t.owner.id, role: 'ADMIN' });
    expect(codeOf(demote)).toBe('CONFLICT');
    const leave = await as(t.owner, t.tenantId, REMOVE, { userId: t.owner.id });
    expect(codeOf(leave)).toBe('CONFLICT');
    expect((await rolesOf(t))[t.owner.id]).toBe('OWNER');

    // With a second owner, the first may step down.
    const promoted = await as<{ changeMemberRole: MemberResult }>(t.owner, t.tenantId, CHANGE, {
      userId: t.admin.id,
      role: 'OWNER',
    });
    expect(promoted.data?.changeMemberRole.role).toBe('OWNER');
    const stepDown = await as(t.owner, t.tenantId, CHANGE, { userId: t.owner.id, role: 'MEMBER' });
    expect(stepDown.errors).toBeUndefined();
    // Now the former admin is the only owner again.
    expect(codeOf(await as(t.admin, t.tenantId, REMOVE, { userId: t.admin.id }))).toBe('CONFLICT');
  });

  it('keeps one owner when two owners demote each other at the same time', async () => {
    for (let round = 0; round < 3; round += 1) await raceOnce();
  });

  async function raceOnce() {
    const t = await team('race');
    await as(t.owner, t.tenantId, CHANGE, { userId: t.admin.id, role: 'OWNER' });
    const [a, b] = await Promise.all([
      as(t.owner, t.tenantId, CHANGE, { userId: t.admin.id, role: 'MEMBER' }),
      as(t.admin, t.tenantId, CHANGE, { userId: t.owner.id, role: 'MEMBER' }),
    ]);
    // One wins. The other sees the first one's change once it gets the owner row locks: either
    // the target is the last owner now (CONFLICT) or the caller is no longer one (FORBIDDEN).
    const failures = [a, b].filter((r) => r.errors);
    expect(failures).toHaveLength(1);
    expect(codeOf(failures[0] ?? {})).toMatch(/^(CONFLICT|FORBIDDEN)$/);
    const owners = Object.values(await rolesOf(t)).filter((r) => r === 'OWNER');
    expect(owners).toHaveLength(1);
  }

  it('lets a viewer leave on their own', async () => {
    const t = await team('leaver');
    const left = await as<{ removeMember: boolean }>(t.viewer, t.tenantId, REMOVE, {
      userId: t.viewer.id,
    });
    expect(left.data?.removeMember).toBe(true);
    expect((await rolesOf(t))[t.viewer.id]).toBeUndefined();
  });

  it('validates ids', async () => {
    const t = await team('ids');
    const result = await as(t.owner, t.tenantId, REMOVE, { userId: 'not-a-uuid' });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'userId',
    });
  });
});
