import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTenantDocument,
  CurrentTenantDocument,
  LoginDocument,
  MeDocument,
  MyTenantsDocument,
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
});
