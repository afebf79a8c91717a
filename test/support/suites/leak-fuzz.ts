import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../../src/auth/api-key.js';
import type { MembershipRoleValue } from '../../../src/db/schema.js';
import type { GraphQLResult, TestApp } from '../app.js';
import { errorCode, ownerQuery, texts } from '../callers.js';
import { createTestDatabase, type TestDatabase } from '../database.js';
import { seedTenant } from '../fixtures.js';
import { mailedToken } from '../accounts.js';
import { ACCEPT } from '../invitations.js';
import type { Route, RoutedApi } from './route.js';

const TENANTS = 10;
const MAX_BATCHES = 15;
/** Operations started together in one batch (each on its own tenant, so the model stays exact). */
const MAX_PARALLEL = 6;
// Fewer than the concurrent requests: connections are reused across tenants constantly.
const SERVER_CONNECTIONS = 2;
const ROLES: MembershipRoleValue[] = ['owner', 'admin', 'member', 'viewer'];
const WRITERS = new Set<MembershipRoleValue>(['owner', 'admin', 'member']);
const ADMINS = new Set<MembershipRoleValue>(['owner', 'admin']);
// Few keys, so CONFLICT happens and a tenant holds at most KEYS.length + 1 projects.
const KEYS = ['ALPHA', 'BETA', 'GAMMA', 'DELTA', 'OMEGA'];
// The free plan's member limit (sql/0008_admin.sql), which the seeded tenants are on.
const MAX_MEMBERS = 25;

interface ProjectModel {
  id: string;
  key: string;
  name: string;
  deleted: boolean;
}
interface TaskModel {
  id: string;
  projectId: string;
  title: string;
  deleted: boolean;
}
interface CommentModel {
  id: string;
  taskId: string;
  body: string;
  deleted: boolean;
}
interface InvitationModel {
  id: string;
  email: string;
  /** The seeded user who has the address; undefined for the fixture's own invitation. */
  userId: string | undefined;
  role: MembershipRoleValue;
  /** The link last mailed, when a run sent it (the fixture's is unknown). */
  token: string | undefined;
  status: 'open' | 'accepted' | 'revoked';
}
interface TenantModel {
  id: string;
  slug: string;
  label: string;
  name: string;
  users: Record<MembershipRoleValue, string>;
  /** One API key per role, each created by the user of that role (so it acts with that role). */
  apiKeys: Record<MembershipRoleValue, string>;
  /** A key of this tenant that was revoked. */
  revokedKey: string;
  members: Map<string, MembershipRoleValue>;
  projects: ProjectModel[];
  tasks: TaskModel[];
  comments: CommentModel[];
  invitations: InvitationModel[];
}

/** Which object an operation aims at: one of some tenant's (deleted ones included), or a fresh id. */
interface Target {
  tenant: number;
  index: number;
}

type TenantOp =
  | { kind: 'createProject'; tenant: number; role: number; key: number }
  | { kind: 'readProject'; tenant: number; role: number; target: Target }
  | { kind: 'list'; tenant: number; role: number }
  // Filters naming rows of any tenant, sorted, read backward: only this tenant's rows come back.
  | { kind: 'filteredList'; tenant: number; role: number; targets: Target[] }
  | { kind: 'updateProject'; tenant: number; role: number; target: Target }
  | { kind: 'deleteProject'; tenant: number; role: number; target: Target }
  | { kind: 'createTask'; tenant: number; role: number; target: Target }
  | { kind: 'comment'; tenant: number; role: number; target: Target }
  | { kind: 'readTask'; tenant: number; role: number; target: Target }
  | {
      kind: 'invite';
      tenant: number;
      role: number;
      from: number;
      fromRole: number;
      /** The invited account accepts at once (else maybe later, through 'accept'). */
      accept: boolean;
    }
  | { kind: 'accept'; tenant: number; index: number }
  | { kind: 'revokeInvitation'; tenant: number; role: number; target: Target; own: boolean }
  | { kind: 'resendInvitation'; tenant: number; role: number; target: Target; own: boolean }
  | { kind: 'listInvitations'; tenant: number; role: number }
  | { kind: 'switchTenant'; tenant: number; from: number; fromRole: number }
  | { kind: 'failingMutation'; tenant: number; role: number; target: Target }
  // An API key of tenant `from` sent with this tenant's X-Tenant-ID (FORBIDDEN unless the same).
  | { kind: 'keyNamingTenant'; tenant: number; from: number; fromRole: number }
  | { kind: 'revokedKey'; tenant: number; role: number }
  // Asks to send another tenant's delivery again: it must look like no delivery at all.
  | { kind: 'redeliverForeign'; tenant: number; role: number; target: Target }
  // Searches for a tenant's label (every text of a tenant starts with it): its own finds all its
  // rows, another's finds nothing.
  | { kind: 'search'; tenant: number; role: number; labelOf: number }
  // Looks up projects, tasks and comments of any tenant by id: only its own come back.
  | { kind: 'nodes'; tenant: number; role: number; targets: NodeTarget[] };
interface NodeTarget {
  type: 'projects' | 'tasks' | 'comments';
  target: Target;
}
/** `viaKey`: the caller sends its role's API key alone (no tenant header) instead of a token. */
type Op = TenantOp & { viaKey: boolean };

const tenantArb = fc.nat(TENANTS - 1);
const roleArb = fc.nat(ROLES.length - 1);
const targetArb = fc.record({ tenant: tenantArb, index: fc.nat(8) });
const tenantOpArb: fc.Arbitrary<TenantOp> = fc.oneof(
  fc.record({
    kind: fc.constant('createProject' as const),
    tenant: tenantArb,
    role: roleArb,
    key: fc.nat(KEYS.length - 1),
  }),
  fc.record({
    kind: fc.constant('readProject' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({ kind: fc.constant('list' as const), tenant: tenantArb, role: roleArb }),
  fc.record({
    kind: fc.constant('filteredList' as const),
    tenant: tenantArb,
    role: roleArb,
    targets: fc.array(targetArb, { minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant('updateProject' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('deleteProject' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('createTask' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('comment' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('readTask' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('invite' as const),
    tenant: tenantArb,
    role: roleArb,
    from: tenantArb,
    fromRole: roleArb,
    accept: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('accept' as const), tenant: tenantArb, index: fc.nat(8) }),
  // `own` aims at the caller's tenant, else at any tenant's invitation (mostly another's).
  fc.record({
    kind: fc.constant('revokeInvitation' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
    own: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('resendInvitation' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
    own: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('listInvitations' as const), tenant: tenantArb, role: roleArb }),
  fc.record({
    kind: fc.constant('switchTenant' as const),
    tenant: tenantArb,
    from: tenantArb,
    fromRole: roleArb,
  }),
  fc.record({
    kind: fc.constant('failingMutation' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('keyNamingTenant' as const),
    tenant: tenantArb,
    from: tenantArb,
    fromRole: roleArb,
  }),
  fc.record({ kind: fc.constant('revokedKey' as const), tenant: tenantArb, role: roleArb }),
  fc.record({
    kind: fc.constant('redeliverForeign' as const),
    tenant: tenantArb,
    role: roleArb,
    target: targetArb,
  }),
  fc.record({
    kind: fc.constant('search' as const),
    tenant: tenantArb,
    role: roleArb,
    labelOf: tenantArb,
  }),
  fc.record({
    kind: fc.constant('nodes' as const),
    tenant: tenantArb,
    role: roleArb,
    targets: fc.array(
      fc.record({
        type: fc.constantFrom('projects' as const, 'tasks' as const, 'comments' as const),
        target: targetArb,
      }),
      { minLength: 1, maxLength: 8 },
    ),
  }),
);
const opArb: fc.Arbitrary<Op> = fc
  .tuple(tenantOpArb, fc.boolean())
  .map(([op, viaKey]) => ({ ...op, viaKey }));
const sequenceArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: MAX_PARALLEL }), {
  minLength: 1,
  maxLength: MAX_BATCHES,
});

/** Tenants of run number `run`, seeded as the migrator. */
async function freshTenants(ownerUrl: string, run: number): Promise<TenantModel[]> {
  return Promise.all(
    Array.from({ length: TENANTS }, async (_, i) => {
      // Lower-case letters and digits (slugs), ended by a space in every text, so that one label
      // is never a prefix of another's texts.
      const label = `fz${run}t${i}`;
      const seed = await seedTenant(ownerUrl, label);
      const keys = await storeApiKeys(ownerUrl, seed.id, seed.users);
      const invitations = await ownerQuery<{ id: string; email: string }>(
        ownerUrl,
        'select id, email from app.invitations where tenant_id = $1',
        [seed.id],
      );
      return {
        id: seed.id,
        slug: seed.slug,
        label,
        name: `Tenant ${label}`,
        invitations: invitations.map((i) => ({
          id: i.id,
          email: i.email,
          userId: undefined,
          role: 'member' as const,
          token: undefined,
          status: 'open' as const,
        })),
        users: seed.users,
        apiKeys: keys.live,
        revokedKey: keys.revoked,
        members: new Map(ROLES.map((role) => [seed.users[role], role] as const)),
        projects: [{ id: seed.projectId, key: 'PRJ', name: `${label} project`, deleted: false }],
        tasks: [
          { id: seed.taskId, projectId: seed.projectId, title: `${label} task`, deleted: false },
        ],
        comments: [
          { id: seed.commentId, taskId: seed.taskId, body: `${label} comment`, deleted: false },
        ],
      };
    }),
  );
}

/** One live key per role (created by that role's user) and one revoked key, as the migrator. */
async function storeApiKeys(
  ownerUrl: string,
  tenantId: string,
  users: Record<MembershipRoleValue, string>,
): Promise<{ live: Record<MembershipRoleValue, string>; revoked: string }> {
  const live = {} as Record<MembershipRoleValue, string>;
  const rows = ROLES.map((role) => {
    const made = newApiKey();
    live[role] = made.key;
    return { ...made, role, revoked: false };
  });
  const revoked = newApiKey();
  rows.push({ ...revoked, role: 'owner', revoked: true });
  await ownerQuery(
    ownerUrl,
    `insert into app.api_keys (tenant_id, name, role, prefix, secret_hash, created_by, revoked_at)
     select $1, 'fuzz ' || k.role, k.role, k.prefix, k.hash, ($2::jsonb ->> k.role)::uuid,
            case when k.revoked then now() end
       from unnest($3::text[], $4::text[], $5::bytea[], $6::boolean[])
            as k (role, prefix, hash, revoked)`,
    [
      tenantId,
      JSON.stringify(users),
      rows.map((r) => r.role),
      rows.map((r) => r.prefix),
      rows.map((r) => r.hash),
      rows.map((r) => r.revoked),
    ],
  );
  return { live, revoked: revoked.key };
}

/** Titles, bodies and project names anywhere in a response (user names may be other tenants'). */
const TENANT_TEXT_KEYS = ['title', 'body', 'projectName'];

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

function pick<T>(list: T[], index: number): T | undefined {
  return list[index % (list.length + 1)];
}

class Runner {
  readonly failures: string[] = [];
  tokens = new Map<string, string>();
  /** Operations started, for the summary line. */
  steps = 0;

  constructor(
    readonly tenants: TenantModel[],
    private readonly api: TestApp,
    private readonly ownerUrl: string,
  ) {}

  async token(userId: string): Promise<string> {
    let token = this.tokens.get(userId);
    if (!token) {
      token = await this.api.app.deps.tokens.signAccess(userId, undefined);
      this.tokens.set(userId, token);
    }
    return token;
  }

  /** `viaKey`: send the role's API key instead of a token (see Op.viaKey). */
  async call<T = Record<string, unknown>>(
    tenant: TenantModel,
    role: MembershipRoleValue,
    query: string,
    variables: Record<string, unknown> = {},
    viaKey = false,
  ): Promise<GraphQLResult<T>> {
    // A key names its own tenant: no header at all.
    const result = viaKey
      ? await this.api.request<T>(query, variables, { token: tenant.apiKeys[role] })
      : await this.api.request<T>(query, variables, {
          token: await this.token(tenant.users[role]),
          headers: { 'x-tenant-id': tenant.id },
        });
    this.ownOnly(tenant, result);
    return result;
  }

  ownOnly(tenant: TenantModel, result: GraphQLResult<unknown>, what = 'response'): void {
    const foreign = texts(result.data, TENANT_TEXT_KEYS).filter(
      (t) => !t.startsWith(`${tenant.label} `),
    );
    if (foreign.length > 0) this.fail(`${tenant.label} ${what} held ${foreign.join(', ')}`);
  }

  fail(message: string): void {
    this.failures.push(message);
  }

  expectCode(result: GraphQLResult<unknown>, codes: string[], what: string): boolean {
    const code = errorCode(result);
    if (typeof code === 'string' && codes.includes(code) && result.data == null) return true;
    this.fail(`${what}: expected ${codes.join('|')}, got ${JSON.stringify(result)}`);
    return false;
  }

  expectOk(result: GraphQLResult<unknown>, what: string): boolean {
    if (result.errors === undefined && result.data) return true;
    this.fail(`${what}: expected success, got ${JSON.stringify(result.errors)}`);
    return false;
  }

  /** One operation; the model changes only when the API says the write happened. */
  async execute(op: Op, n: number): Promise<void> {
    const tenant = this.tenants[op.tenant];
    const role = 'role' in op ? ROLES[op.role] : 'owner';
    const what = `${op.kind} #${n} by ${tenant.label}/${role}${op.viaKey ? ' key' : ''}`;
    const call = <T = Record<string, unknown>>(
      on: TenantModel,
      as: MembershipRoleValue,
      query: string,
      variables: Record<string, unknown> = {},
    ) => this.call<T>(on, as, query, variables, op.viaKey);
    // The id to send, and the model's row when the caller should see it (own tenant, not deleted).
    const targetOf = <T extends { id: string; deleted: boolean }>(
      list: (t: TenantModel) => T[],
      target: Target,
    ) => {
      const owner = this.tenants[target.tenant];
      const item = pick(list(owner), target.index);
      const visible = owner === tenant && item !== undefined && !item.deleted;
      return { id: item?.id ?? UNKNOWN_ID, item: visible ? item : undefined };
    };
    switch (op.kind) {
      case 'createProject': {
        const key = KEYS[op.key];
        const name = `${tenant.label} ${key.toLowerCase()} ${n}`;
        const result = await call<{ createProject: { id: string; projectName: string } }>(
          tenant,
          role,
          `mutation($i: CreateProjectInput!) { createProject(input: $i) { id projectName: name } }`,
          { i: { key, name } },
        );
        if (!WRITERS.has(role)) this.expectCode(result, ['FORBIDDEN'], what);
        else if (tenant.projects.some((p) => p.key === key && !p.deleted)) {
          this.expectCode(result, ['CONFLICT'], what);
        } else if (this.expectOk(result, what) && result.data) {
          tenant.projects.push({ id: result.data.createProject.id, key, name, deleted: false });
        }
        return;
      }
      case 'readProject': {
        const { id, item } = targetOf((t) => t.projects, op.target);
        const result = await call<{
          project: { projectName: string; taskStats: { total: number } } | null;
        }>(
          tenant,
          role,
          `query($id: ID!) { project(id: $id) { projectName: name tasks(first: 50) { totalCount
             edges { node { title comments(first: 50) { edges { node { body } } } } } }
             taskStats { total byAssignee { count user { id } } } } }`,
          { id },
        );
        if (!this.expectOk(result, what)) return;
        const got = result.data?.project?.projectName ?? null;
        if (got !== (item?.name ?? null)) this.fail(`${what}: read ${got}, model ${item?.name}`);
        const total = result.data?.project?.taskStats.total;
        const want = tenant.tasks.filter((t) => t.projectId === item?.id && !t.deleted).length;
        if (item && total !== want) this.fail(`${what}: taskStats.total ${total}, model ${want}`);
        return;
      }
      case 'readTask': {
        const { id, item } = targetOf((t) => t.tasks, op.target);
        const result = await call<{ task: { title: string } | null }>(
          tenant,
          role,
          `query($id: ID!) { task(id: $id) { title project { projectName: name }
             comments(first: 50) { totalCount edges { node { body } } } } }`,
          { id },
        );
        if (!this.expectOk(result, what)) return;
        const got = result.data?.task?.title ?? null;
        if (got !== (item?.title ?? null)) this.fail(`${what}: read ${got}, model ${item?.title}`);
        return;
      }
      case 'list': {
        const result = await call<{
          projects: { totalCount: number; edges: { node: { id: string } }[] };
        }>(
          tenant,
          role,
          `{ projects(first: 50) { totalCount edges { node { id projectName: name
               tasks(first: 20) { edges { node { title comments(first: 10) { edges { node { body } } } } } } } } } }`,
        );
        if (!this.expectOk(result, what)) return;
        const got = (result.data?.projects.edges ?? []).map((e) => e.node.id).sort();
        const want = tenant.projects
          .filter((p) => !p.deleted)
          .map((p) => p.id)
          .sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          this.fail(`${what}: listed ${got.length} projects, model ${want.length}`);
        }
        return;
      }
      case 'filteredList': {
        const ids = op.targets.map(
          (t) => pick(this.tenants[t.tenant].projects, t.index)?.id ?? UNKNOWN_ID,
        );
        const users = op.targets.map((t) => this.tenants[t.tenant].users[ROLES[t.index % 4]]);
        const result = await call<{
          projects: { edges: { node: { id: string } }[] };
          members: { user: { id: string } }[];
        }>(
          tenant,
          role,
          `query($ids: [ID!], $users: [ID!]) {
             projects(last: 50, sort: [{ field: NAME, direction: DESC }],
                      filter: { id: { in: $ids }, not: { name: { eq: "" } } }) { edges { node { id
               projectName: name
               tasks(last: 20, sort: [{ field: PRIORITY, direction: DESC }, { field: DUE_DATE }],
                     filter: { or: [{ title: { contains: " " } }, { assignee: { isNull: true } }] }) {
                 edges { node { title comments(last: 10, filter: { body: { startsWith: "" } }) {
                   edges { node { body } } } } } } } } }
             members(filter: { user: { in: $users } }) { user { id } }
           }`,
          { ids, users },
        );
        if (!this.expectOk(result, what)) return;
        const got = (result.data?.projects.edges ?? []).map((e) => e.node.id).sort();
        const want = tenant.projects
          .filter((p) => !p.deleted && ids.includes(p.id))
          .map((p) => p.id)
          .sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          this.fail(`${what}: filtered ${got.join(',')}, model ${want.join(',')}`);
        }
        const members = (result.data?.members ?? []).map((m) => m.user.id).sort();
        const wantMembers = [...new Set(users)].filter((u) => tenant.members.has(u)).sort();
        if (JSON.stringify(members) !== JSON.stringify(wantMembers)) {
          this.fail(`${what}: members ${members.join(',')}, model ${wantMembers.join(',')}`);
        }
        return;
      }
      case 'updateProject': {
        const { id, item } = targetOf((t) => t.projects, op.target);
        const name = `${tenant.label} renamed ${n}`;
        const result = await call(
          tenant,
          role,
          `mutation($id: ID!, $name: String!) { updateProject(id: $id, input: { name: $name }) { projectName: name } }`,
          { id, name },
        );
        if (!WRITERS.has(role)) this.expectCode(result, ['FORBIDDEN'], what);
        else if (!item) this.expectCode(result, ['NOT_FOUND'], what);
        else if (this.expectOk(result, what)) item.name = name;
        return;
      }
      case 'deleteProject': {
        const { id, item } = targetOf((t) => t.projects, op.target);
        const result = await call(tenant, role, `mutation($id: ID!) { deleteProject(id: $id) }`, {
          id,
        });
        if (!ADMINS.has(role)) this.expectCode(result, ['FORBIDDEN'], what);
        else if (!item) this.expectCode(result, ['NOT_FOUND'], what);
        else if (this.expectOk(result, what)) {
          const project = item;
          project.deleted = true;
          for (const task of tenant.tasks.filter((t) => t.projectId === project.id)) {
            task.deleted = true;
            for (const c of tenant.comments.filter((c) => c.taskId === task.id)) c.deleted = true;
          }
        }
        return;
      }
      case 'createTask': {
        const { id, item } = targetOf((t) => t.projects, op.target);
        const title = `${tenant.label} task ${n}`;
        const result = await call<{ createTask: { id: string } }>(
          tenant,
          role,
          `mutation($p: ID!, $title: String!) { createTask(input: { projectId: $p, title: $title }) { id title project { projectName: name } } }`,
          { p: id, title },
        );
        if (!WRITERS.has(role)) this.expectCode(result, ['FORBIDDEN'], what);
        else if (!item) this.expectCode(result, ['NOT_FOUND', 'BAD_USER_INPUT'], what);
        else if (this.expectOk(result, what) && result.data) {
          tenant.tasks.push({
            id: result.data.createTask.id,
            projectId: id,
            title,
            deleted: false,
          });
        }
        return;
      }
      case 'comment': {
        const { id, item } = targetOf((t) => t.tasks, op.target);
        const body = `${tenant.label} says ${n}`;
        const result = await call<{ addComment: { id: string } }>(
          tenant,
          role,
          `mutation($t: ID!, $body: String!) { addComment(input: { taskId: $t, body: $body }) { id body task { title } } }`,
          { t: id, body },
        );
        if (!WRITERS.has(role)) this.expectCode(result, ['FORBIDDEN'], what);
        else if (!item) this.expectCode(result, ['NOT_FOUND', 'BAD_USER_INPUT'], what);
        else if (this.expectOk(result, what) && result.data) {
          tenant.comments.push({ id: result.data.addComment.id, taskId: id, body, deleted: false });
        }
        return;
      }
      case 'failingMutation': {
        // A write that succeeds, then one that fails at the database: both must be undone.
        const { id } = targetOf((t) => t.projects, op.target);
        const foreign =
          this.tenants[(op.tenant + 1 + (op.target.tenant % (TENANTS - 1))) % TENANTS];
        const result = await call(
          tenant,
          role,
          `mutation($p: ID!, $t: ID!) {
             a: createTask(input: { projectId: $p, title: "${tenant.label} doomed ${n}" }) { id }
             b: addComment(input: { taskId: $t, body: "${tenant.label} doomed ${n}" }) { id }
           }`,
          { p: id, t: foreign.tasks[0]?.id ?? UNKNOWN_ID },
        );
        this.expectCode(result, ['FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT'], what);
        return;
      }
      case 'invite': {
        const from = this.tenants[op.from];
        const userId = from.users[ROLES[op.fromRole]];
        const email = `${ROLES[op.fromRole]}-${from.slug}@example.test`;
        const invited = op.fromRole % 2 === 0 ? 'member' : 'viewer';
        const result = await call<{ inviteMember: { id: string } }>(
          tenant,
          role,
          `mutation($i: InviteMemberInput!) { inviteMember(input: $i) { id email role invitedBy { id } } }`,
          { i: { email, role: invited.toUpperCase() } },
        );
        // Keys never manage members, whatever their role.
        if (!ADMINS.has(role) || op.viaKey) this.expectCode(result, ['FORBIDDEN'], what);
        else if (tenant.members.has(userId)) this.expectCode(result, ['CONFLICT'], what);
        else if (this.expectOk(result, what) && result.data) {
          const id = result.data.inviteMember.id;
          const open = tenant.invitations.find((i) => i.email === email && i.status === 'open');
          if (open && open.id !== id) this.fail(`${what}: refreshed ${open.id} as ${id}`);
          // The tenant's name picks its mail when other tenants invite the same address.
          const token = await mailedToken(this.ownerUrl, email, 'INVITATION', `"${tenant.name}"`);
          if (open) Object.assign(open, { role: invited, token });
          else {
            tenant.invitations.push({ id, email, userId, role: invited, token, status: 'open' });
          }
          const made = tenant.invitations.find((i) => i.id === id);
          if (op.accept && made) await this.accept(tenant, made, `${what} accepted`);
        }
        return;
      }
      case 'accept': {
        const invitation = pick(
          tenant.invitations.filter((i) => i.token),
          op.index,
        );
        if (invitation) await this.accept(tenant, invitation, what);
        return;
      }
      case 'revokeInvitation':
      case 'resendInvitation': {
        // Aims at an invitation of any tenant: another tenant's must look like no invitation.
        const owner = op.own ? tenant : this.tenants[op.target.tenant];
        const invitation = pick(owner.invitations, op.target.index);
        const visible = owner === tenant ? invitation : undefined;
        const revoke = op.kind === 'revokeInvitation';
        const result = await this.call<{ resendInvitation?: { id: string } }>(
          tenant,
          role,
          revoke
            ? `mutation($id: ID!) { revokeInvitation(id: $id) }`
            : `mutation($id: ID!) { resendInvitation(id: $id) { id email status } }`,
          { id: invitation?.id ?? UNKNOWN_ID },
        );
        if (!ADMINS.has(role)) this.expectCode(result, ['FORBIDDEN'], what);
        else if (!visible) this.expectCode(result, ['NOT_FOUND'], what);
        else if (visible.status === 'accepted') this.expectCode(result, ['CONFLICT'], what);
        else if (visible.status === 'revoked' && !revoke) {
          this.expectCode(result, ['CONFLICT'], what);
        } else if (this.expectOk(result, what)) {
          if (revoke) visible.status = 'revoked';
          else {
            visible.token = await mailedToken(
              this.ownerUrl,
              visible.email,
              'INVITATION',
              `"${tenant.name}"`,
            );
          }
        }
        return;
      }
      case 'listInvitations': {
        const result = await this.call<{ invitations: { id: string }[] }>(
          tenant,
          role,
          `{ invitations { id email role status invitedBy { id name } } }`,
        );
        if (!ADMINS.has(role)) {
          this.expectCode(result, ['FORBIDDEN'], what);
          return;
        }
        if (!this.expectOk(result, what)) return;
        const got = (result.data?.invitations ?? []).map((i) => i.id).sort();
        const want = tenant.invitations
          .filter((i) => i.status === 'open')
          .map((i) => i.id)
          .sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          this.fail(`${what}: listed ${got.join(',')}, model ${want.join(',')}`);
        }
        return;
      }
      case 'switchTenant': {
        // A user of tenant `from` asks for a token bound to this tenant, then reads with it.
        const userId = this.tenants[op.from].users[ROLES[op.fromRole]];
        const result = await this.api.request<{ switchTenant: { token: string } }>(
          `mutation($t: ID!) { switchTenant(tenantId: $t) { token } }`,
          { t: tenant.id },
          { token: await this.token(userId) },
        );
        const label = `${what} as ${this.tenants[op.from].label}/${ROLES[op.fromRole]}`;
        if (!tenant.members.has(userId)) {
          this.expectCode(result, ['FORBIDDEN'], label);
          return;
        }
        if (!this.expectOk(result, label) || !result.data) return;
        const read = await this.api.request<{ projects: { totalCount: number } }>(
          `{ projects(first: 50) { totalCount edges { node { projectName: name } } } }`,
          {},
          { token: result.data.switchTenant.token },
        );
        this.ownOnly(tenant, read, label);
        const want = tenant.projects.filter((p) => !p.deleted).length;
        if (read.data?.projects.totalCount !== want) {
          this.fail(`${label}: bound token read ${JSON.stringify(read)}, model ${want} projects`);
        }
        return;
      }
      case 'keyNamingTenant': {
        const from = this.tenants[op.from];
        const result = await this.api.request<{ projects: { totalCount: number } }>(
          `{ projects(first: 50) { totalCount edges { node { projectName: name
               tasks(first: 20) { edges { node { title } } } } } } }`,
          {},
          { token: from.apiKeys[ROLES[op.fromRole]], headers: { 'x-tenant-id': tenant.id } },
        );
        const label = `${what} with a key of ${from.label}/${ROLES[op.fromRole]}`;
        this.ownOnly(from, result, label);
        if (from !== tenant) {
          this.expectCode(result, ['FORBIDDEN'], label);
          return;
        }
        if (!this.expectOk(result, label)) return;
        const want = tenant.projects.filter((p) => !p.deleted).length;
        if (result.data?.projects.totalCount !== want) {
          this.fail(`${label}: read ${result.data?.projects.totalCount}, model ${want} projects`);
        }
        return;
      }
      case 'revokedKey': {
        const result = await this.api.request(
          `{ projects(first: 50) { edges { node { projectName: name } } } }`,
          {},
          op.viaKey
            ? { token: tenant.revokedKey }
            : { token: tenant.revokedKey, headers: { 'x-tenant-id': tenant.id } },
        );
        this.ownOnly(tenant, result, what);
        this.expectCode(result, ['UNAUTHENTICATED'], what);
        return;
      }
      case 'search':
      case 'nodes':
        return this.lookUp(op, tenant, role, what);
      case 'redeliverForeign': {
        const foreign =
          this.tenants[(op.tenant + 1 + (op.target.tenant % (TENANTS - 1))) % TENANTS];
        // Made dead as the migrator, so only the tenant boundary can refuse it.
        const [row] = await ownerQuery<{ id: string; status: string }>(
          this.ownerUrl,
          `update app.notification_deliveries set status = 'dead'
            where (tenant_id, id) in (select tenant_id, id from app.notification_deliveries
                                       where tenant_id = $1 order by created_at, id
                                       offset $2 limit 1)
            returning id, status`,
          [foreign.id, op.target.index],
        );
        const result = await call(
          tenant,
          role,
          `mutation($id: ID!) { redeliverNotification(id: $id) }`,
          {
            id: row?.id ?? UNKNOWN_ID,
          },
        );
        this.expectCode(result, ADMINS.has(role) ? ['NOT_FOUND'] : ['FORBIDDEN'], what);
        if (row) {
          const [after] = await ownerQuery<{ status: string }>(
            this.ownerUrl,
            'select status from app.notification_deliveries where tenant_id = $1 and id = $2',
            [foreign.id, row.id],
          );
          if (after?.status !== 'dead')
            this.fail(`${what}: ${foreign.label}'s delivery was resent`);
        }
        return;
      }
    }
  }

  /** search and nodes(ids:): only the caller's tenant's rows, exactly those of the model. */
  async lookUp(
    op: Extract<Op, { kind: 'search' | 'nodes' }>,
    tenant: TenantModel,
    role: MembershipRoleValue,
    what: string,
  ): Promise<void> {
    const call = <T>(query: string, variables: Record<string, unknown>) =>
      this.call<T>(tenant, role, query, variables, op.viaKey);
    const fields = `__typename ... on Node { id } ... on Project { projectName: name } ... on Task { title }
      ... on Comment { body }`;
    if (op.kind === 'search') {
      const label = this.tenants[op.labelOf].label;
      const result = await call<{
        search: { totalCount: number; edges: { node: { id: string } }[] };
      }>(
        `query($q: String!) { search(query: $q, first: 100) { totalCount edges { node { ${fields} } } } }`,
        { q: label },
      );
      if (!this.expectOk(result, what)) return;
      const got = (result.data?.search.edges ?? []).map((e) => e.node.id).sort();
      const live = <T extends { id: string; deleted: boolean }>(list: T[]) =>
        list.filter((x) => !x.deleted).map((x) => x.id);
      const want =
        this.tenants[op.labelOf] === tenant
          ? [...live(tenant.projects), ...live(tenant.tasks), ...live(tenant.comments)].sort()
          : [];
      if (
        JSON.stringify(got) !== JSON.stringify(want) ||
        result.data?.search.totalCount !== want.length
      ) {
        this.fail(`${what}: searching ${label} found ${got.length} hits, model ${want.length}`);
      }
      return;
    }
    const asked = op.targets.map(({ type, target }) => {
      const owner = this.tenants[target.tenant];
      const item = pick<{ id: string; deleted: boolean }>(owner[type], target.index);
      return {
        id: item?.id ?? UNKNOWN_ID,
        visible: owner === tenant && item !== undefined && !item.deleted,
      };
    });
    const result = await call<{ nodes: ({ id: string } | null)[] }>(
      `query($ids: [ID!]!) { nodes(ids: $ids) { ${fields} } }`,
      { ids: asked.map((a) => a.id) },
    );
    if (!this.expectOk(result, what)) return;
    const got = (result.data?.nodes ?? []).map((n) => n?.id ?? null);
    const want = asked.map((a) => (a.visible ? a.id : null));
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      this.fail(`${what}: nodes ${JSON.stringify(got)}, model ${JSON.stringify(want)}`);
    }
  }

  /** The invited account spends the invitation's last link, open or not: only an open one works. */
  async accept(tenant: TenantModel, invitation: InvitationModel, what: string): Promise<void> {
    const userId = invitation.userId;
    if (!invitation.token || !userId) return;
    const result = await this.api.request<{ acceptInvitation: { role: string } }>(
      ACCEPT,
      { token: invitation.token },
      { token: await this.token(userId) },
    );
    if (invitation.status !== 'open') this.expectCode(result, ['BAD_USER_INPUT'], what);
    else if (tenant.members.size >= MAX_MEMBERS) {
      this.expectCode(result, ['QUOTA_EXCEEDED'], what);
    } else if (this.expectOk(result, what)) {
      const got = result.data?.acceptInvitation.role;
      if (got !== invitation.role.toUpperCase()) this.fail(`${what}: joined as ${got}`);
      invitation.status = 'accepted';
      tenant.members.set(userId, invitation.role);
      // A link works once, whoever replays it.
      const replay = await this.api.request(
        ACCEPT,
        { token: invitation.token },
        { token: await this.token(userId) },
      );
      this.expectCode(replay, ['BAD_USER_INPUT'], `${what} replayed`);
    }
  }

  /** Batches run one after another; the operations of a batch run at once, one per tenant. */
  async runAll(batches: Op[][]): Promise<void> {
    let n = 0;
    for (const batch of batches) {
      const byTenant = new Map<number, Op[]>();
      for (const op of batch) byTenant.set(op.tenant, [...(byTenant.get(op.tenant) ?? []), op]);
      await Promise.all(
        [...byTenant.values()].map(async (ops) => {
          for (const op of ops) await this.execute(op, n++);
        }),
      );
      this.steps += batch.length;
      if (this.failures.length > 0) return;
    }
  }

  /** The database, read past RLS, against the model of every tenant of this run. */
  async compareWithDatabase(): Promise<void> {
    const ids = this.tenants.map((t) => t.id);
    const rows = await ownerQuery<{
      tenant_id: string;
      kind: string;
      id: string;
      text: string;
      parent: string | null;
    }>(
      this.ownerUrl,
      `select tenant_id, 'project' as kind, id::text, name as text, null as parent from app.projects where tenant_id = any($1)
       union all select tenant_id, 'task', id::text, title, project_id::text from app.tasks where tenant_id = any($1)
       union all select tenant_id, 'comment', id::text, body, task_id::text from app.comments where tenant_id = any($1)
       union all select tenant_id, 'member', user_id::text, role::text, null from app.memberships where tenant_id = any($1)
       union all select tenant_id, 'invitation', id::text, email || ' ' || role,
                        case when accepted_at is not null then 'accepted'
                             when revoked_at is not null then 'revoked' else 'open' end
                   from app.invitations where tenant_id = any($1)`,
      [ids],
    );
    for (const tenant of this.tenants) {
      const stored = rows
        .filter((r) => r.tenant_id === tenant.id)
        .map((r) => `${r.kind} ${r.id} ${r.text} ${r.parent ?? ''}`)
        .sort();
      const model = [
        ...tenant.projects.filter((p) => !p.deleted).map((p) => `project ${p.id} ${p.name} `),
        ...tenant.tasks
          .filter((t) => !t.deleted)
          .map((t) => `task ${t.id} ${t.title} ${t.projectId}`),
        ...tenant.comments
          .filter((c) => !c.deleted)
          .map((c) => `comment ${c.id} ${c.body} ${c.taskId}`),
        ...[...tenant.members].map(([user, role]) => `member ${user} ${role} `),
        ...tenant.invitations.map((i) => `invitation ${i.id} ${i.email} ${i.role} ${i.status}`),
      ].sort();
      if (JSON.stringify(stored) !== JSON.stringify(model)) {
        const missing = model.filter((m) => !stored.includes(m));
        const extra = stored.filter((s) => !model.includes(s));
        this.fail(
          `${tenant.label} database differs: missing ${missing.join('; ')} extra ${extra.join('; ')}`,
        );
      }
    }
  }
}

/**
 * Defines the leak-fuzzing test for `route`; call once at the top level of a test file.
 * Property: whatever random users of random tenants do, concurrently, over fewer server connections
 * than the concurrency, every response holds rows of the caller's tenant only, and afterwards the
 * database holds exactly what a model of each tenant says. `defaultRuns` sequences unless
 * FUZZ_RUNS says otherwise (FUZZ_RUNS=500 for a long run); FUZZ_SEED (and FUZZ_PATH, both printed
 * on failure) to replay one.
 */
export function leakFuzzSuite(route: Route, defaultRuns: number): void {
  const runs = Number(process.env.FUZZ_RUNS ?? defaultRuns);
  let db: TestDatabase;
  let routed: RoutedApi;
  let run = 0;
  let steps = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    // One connection per tenant at a time: tenants' operations queue for their turn (FairShare),
    // and a turn handed from one tenant to the next must not carry anything across.
    routed = await route.start(db, SERVER_CONNECTIONS, { DATABASE_TENANT_MAX_CONNECTIONS: '1' });
  });
  afterAll(async () => {
    await routed?.close();
    await db?.drop();
  });

  describe(`leak fuzzing${route.suffix}`, () => {
    it(`random operations of random users across ${TENANTS} tenants leak nothing (${runs} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(sequenceArb, async (batches) => {
          run += 1;
          const runner = new Runner(await freshTenants(db.ownerUrl, run), routed.api, db.ownerUrl);
          await runner.runAll(batches);
          steps += runner.steps;
          if (runner.failures.length === 0) await runner.compareWithDatabase();
          // fast-check prints the shrunk sequence (the counterexample) with these failures.
          expect(runner.failures).toEqual([]);
        }),
        {
          numRuns: runs,
          seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
          path: process.env.FUZZ_PATH,
          endOnFailure: process.env.FUZZ_SHRINK === 'false',
        },
      );
      console.log(
        `leak fuzzing${route.suffix}: ${runs} sequences, ${steps} operations (shrinking included)`,
      );
    }, 600_000);
  });
}
