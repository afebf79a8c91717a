import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActivityDocument,
  AdminAuditLogDocument,
  AdminChangePlanDocument,
  AdminDeleteTenantDocument,
  AdminProvisionTenantDocument,
  AdminReactivateTenantDocument,
  AdminSearchUsersDocument,
  AdminSetTenantLimitsDocument,
  AdminSuspendTenantDocument,
  AdminTenantDocument,
  AdminTenantsDocument,
  CreateProjectDocument,
  CurrentTenantDocument,
  LoginDocument,
  SignUpDocument,
  TenantqlClient,
  TenantqlError,
} from '../../src/client/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

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

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TenantqlError) return error.code ?? 'none';
    throw error;
  }
  throw new Error('expected the request to fail');
}

describe('the typed client for platform operators', () => {
  it('onboards a customer, watches it, suspends, limits and finally deletes it', async () => {
    const client = new TenantqlClient({ url: api.url });
    const suffix = randomUUID().slice(0, 8);
    const { signUp } = await client.request(SignUpDocument, {
      input: { email: `ops-${suffix}@example.test`, password: 'operator password', name: 'Ops' },
    });
    // Granted directly: the command line that does this in production has its own test.
    const superuser = new pg.Client({ connectionString: db.ownerUrl });
    await superuser.connect();
    await superuser.query('update app.users set is_platform_admin = true where id = $1', [
      signUp.user.id,
    ]);
    await superuser.end();
    const operator = client.with({ token: signUp.token });

    const slug = `initech-${suffix}`;
    const ownerEmail = `peter-${suffix}@example.test`;
    const { admin: provisioned } = await operator.request(AdminProvisionTenantDocument, {
      input: {
        slug,
        name: 'Initech',
        plan: 'PRO',
        reason: 'signed contract, ticket OPS-1',
        owner: { email: ownerEmail, name: 'Peter', password: 'initech owner password' },
      },
    });
    const tenant = provisioned.provisionTenant;
    expect(tenant).toMatchObject({ slug, plan: 'PRO', status: 'ACTIVE' });
    expect(tenant.members.map((m) => [m.email, m.role])).toEqual([[ownerEmail, 'OWNER']]);

    // The new owner signs in and works in the tenant; their work shows in its activity log.
    const { login } = await client.request(LoginDocument, {
      input: { email: ownerEmail, password: 'initech owner password' },
    });
    const owner = client.with({ token: login.token, tenantId: tenant.id });
    const { createProject } = await owner.request(CreateProjectDocument, {
      input: { name: 'TPS reports', key: 'TPS' },
    });
    const { activity } = await owner.request(ActivityDocument, {
      first: 10,
      filter: { entityType: 'PROJECT' },
    });
    expect(activity.edges.map((e) => [e.node.action, e.node.entityId, e.node.actor?.id])).toEqual([
      ['CREATED', createProject.id, login.user.id],
    ]);

    const { admin: listed } = await operator.request(AdminTenantsDocument, {
      first: 5,
      filter: { search: slug },
    });
    expect(listed.tenants.totalCount).toBe(1);
    expect(listed.tenants.edges[0]?.node.usage).toMatchObject({ members: 1, projects: 1 });
    const { admin: found } = await operator.request(AdminSearchUsersDocument, { text: ownerEmail });
    expect(found.searchUsers[0]?.memberships).toEqual([
      { tenantId: tenant.id, tenantSlug: slug, role: 'OWNER' },
    ]);

    await operator.request(AdminSuspendTenantDocument, {
      input: { tenantId: tenant.id, reason: 'unpaid invoice' },
    });
    expect(await codeOf(owner.request(CurrentTenantDocument))).toBe('TENANT_SUSPENDED');
    const { admin: back } = await operator.request(AdminReactivateTenantDocument, {
      input: { tenantId: tenant.id, reason: 'paid' },
    });
    expect(back.reactivateTenant.status).toBe('ACTIVE');
    expect((await owner.request(CurrentTenantDocument)).currentTenant?.slug).toBe(slug);

    const { admin: limited } = await operator.request(AdminSetTenantLimitsDocument, {
      input: { tenantId: tenant.id, requestsPerMinute: 120, reason: 'noisy neighbour' },
    });
    expect(limited.setTenantLimits.limits.requestsPerMinute).toBe(120);
    const { admin: replanned } = await operator.request(AdminChangePlanDocument, {
      input: { tenantId: tenant.id, plan: 'ENTERPRISE', reason: 'upgrade' },
    });
    expect(replanned.changePlan.plan).toBe('ENTERPRISE');
    expect(replanned.changePlan.limitOverrides.requestsPerMinute).toBe(120);

    // A customer's owner is no operator.
    expect(await codeOf(owner.request(AdminTenantDocument, { id: tenant.id }))).toBe('FORBIDDEN');

    const { admin: deleted } = await operator.request(AdminDeleteTenantDocument, {
      input: { tenantId: tenant.id, confirmSlug: slug, reason: 'contract ended' },
    });
    expect(deleted.deleteTenant.removed).toMatchObject({ members: 1, projects: 1 });
    const { admin: gone } = await operator.request(AdminTenantDocument, { id: tenant.id });
    expect(gone.tenant).toBeNull();

    const { admin: audit } = await operator.request(AdminAuditLogDocument, {
      first: 50,
      filter: { tenantId: tenant.id },
    });
    expect(audit.auditLog.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining([
        'tenant.provision',
        'tenant.suspend',
        'tenant.reactivate',
        'tenant.set_limits',
        'tenant.change_plan',
        'tenant.delete',
      ]),
    );
  });
});
