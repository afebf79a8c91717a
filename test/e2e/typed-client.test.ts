import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddCommentDocument,
  CreateProjectDocument,
  CreateTaskDocument,
  CreateTenantDocument,
  ProjectDocument,
  ProjectsDocument,
  TaskDocument,
  UpdateTaskDocument,
  CurrentTenantDocument,
  LoginDocument,
  MeDocument,
  MyTenantsDocument,
  ChangePasswordDocument,
  SignOutEverywhereDocument,
  SignUpDocument,
  SwitchTenantDocument,
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

async function errorOf(promise: Promise<unknown>): Promise<TenantqlError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TenantqlError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

describe('the typed client over HTTP, as users call the API', () => {
  it('signs up, creates a tenant, and works in it through the X-Tenant-ID header', async () => {
    const anonymous = new TenantqlClient({ url: api.url });
    const email = `e2e-${randomUUID().slice(0, 8)}@example.test`;
    const { signUp } = await anonymous.request(SignUpDocument, {
      input: { email, password: 'a long enough password', name: 'E2E' },
    });
    expect(signUp.user.email).toBe(email);

    const signedIn = anonymous.with({ token: signUp.token });
    expect((await signedIn.request(MeDocument)).me?.email).toBe(email);

    const slug = `e2e-${randomUUID().slice(0, 8)}`;
    const { createTenant } = await signedIn.request(CreateTenantDocument, {
      input: { name: 'E2E Inc', slug },
    });
    expect(createTenant).toMatchObject({ slug, myRole: 'OWNER', status: 'ACTIVE', plan: 'FREE' });

    const inTenant = signedIn.with({ tenantId: createTenant.id });
    expect((await inTenant.request(CurrentTenantDocument)).currentTenant?.id).toBe(createTenant.id);
    expect((await signedIn.request(MyTenantsDocument)).myTenants.map((t) => t.slug)).toEqual([
      slug,
    ]);

    const { switchTenant } = await signedIn.request(SwitchTenantDocument, {
      tenantId: createTenant.id,
    });
    const bound = signedIn.with({ token: switchTenant.token });
    expect((await bound.request(CurrentTenantDocument)).currentTenant?.slug).toBe(slug);
  });

  it('surfaces the server error codes on TenantqlError', async () => {
    const client = new TenantqlClient({ url: api.url });
    const wrong = await errorOf(
      client.request(LoginDocument, {
        input: { email: 'nobody@example.test', password: 'whatever-123' },
      }),
    );
    expect(wrong.code).toBe('UNAUTHENTICATED');

    const { signUp } = await client.request(SignUpDocument, {
      input: {
        email: `x-${randomUUID().slice(0, 8)}@example.test`,
        password: 'another long password',
        name: 'X',
      },
    });
    const stranger = client.with({ token: signUp.token, tenantId: randomUUID() });
    expect((await errorOf(stranger.request(CurrentTenantDocument))).code).toBe('FORBIDDEN');
  });

  it('runs the project workflow of a tenant and never shows it to another tenant', async () => {
    const client = new TenantqlClient({ url: api.url });
    const owner = async (label: string) => {
      const { signUp } = await client.request(SignUpDocument, {
        input: {
          email: `${label}-${randomUUID().slice(0, 8)}@example.test`,
          password: 'a long enough password',
          name: label,
        },
      });
      const signedIn = client.with({ token: signUp.token });
      const { createTenant } = await signedIn.request(CreateTenantDocument, {
        input: { name: label, slug: `${label}-${randomUUID().slice(0, 8)}` },
      });
      return signedIn.with({ tenantId: createTenant.id });
    };
    const acme = await owner('acme');
    const globex = await owner('globex');

    const { createProject } = await acme.request(CreateProjectDocument, {
      input: { name: 'Website', key: 'WEB', description: 'Relaunch' },
    });
    const { createTask } = await acme.request(CreateTaskDocument, {
      input: {
        projectId: createProject.id,
        title: 'Write copy',
        priority: 'HIGH',
        dueDate: '2027-01-31',
      },
    });
    expect(createTask).toMatchObject({ status: 'TODO', priority: 'HIGH', dueDate: '2027-01-31' });
    await acme.request(UpdateTaskDocument, { id: createTask.id, input: { status: 'IN_PROGRESS' } });
    await acme.request(AddCommentDocument, { input: { taskId: createTask.id, body: 'On it.' } });

    const { project } = await acme.request(ProjectDocument, {
      id: createProject.id,
      tasksFirst: 10,
    });
    expect(project?.tasks.totalCount).toBe(1);
    expect(project?.tasks.edges[0]?.node).toMatchObject({
      title: 'Write copy',
      status: 'IN_PROGRESS',
    });
    const { task } = await acme.request(TaskDocument, { id: createTask.id, commentsFirst: 5 });
    expect(task?.comments.edges.map((e) => e.node.body)).toEqual(['On it.']);
    expect(
      (await acme.request(ProjectsDocument, {})).projects.edges.map((e) => e.node.key),
    ).toEqual(['WEB']);

    // The other tenant sees none of it, by list or by id, and cannot write into it.
    expect((await globex.request(ProjectsDocument, {})).projects.totalCount).toBe(0);
    expect((await globex.request(ProjectDocument, { id: createProject.id })).project).toBeNull();
    expect((await globex.request(TaskDocument, { id: createTask.id })).task).toBeNull();
    const refused = await errorOf(
      globex.request(AddCommentDocument, { input: { taskId: createTask.id, body: 'sneaky' } }),
    );
    expect(['NOT_FOUND', 'BAD_USER_INPUT']).toContain(refused.code);
  });

  it('changes a password and signs out everywhere with the typed operations', async () => {
    const anonymous = new TenantqlClient({ url: api.url });
    const email = `e2e-pw-${randomUUID().slice(0, 8)}@example.test`;
    const { signUp } = await anonymous.request(SignUpDocument, {
      input: { email, password: 'a long enough password', name: 'E2E' },
    });
    const first = anonymous.with({ token: signUp.token });
    const { changePassword } = await first.request(ChangePasswordDocument, {
      input: { currentPassword: 'a long enough password', newPassword: 'another long password' },
    });
    expect(changePassword).toBe(true);
    expect((await errorOf(first.request(MeDocument))).code).toBe('UNAUTHENTICATED');

    const { login } = await anonymous.request(LoginDocument, {
      input: { email, password: 'another long password' },
    });
    const second = anonymous.with({ token: login.token });
    expect((await second.request(SignOutEverywhereDocument)).signOutEverywhere).toBe(true);
    expect((await errorOf(second.request(MeDocument))).code).toBe('UNAUTHENTICATED');
  });
});
