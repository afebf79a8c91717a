import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  AddCommentDocument,
  CreateProjectDocument,
  CreateTaskDocument,
  CreateTenantDocument,
  ProjectDocument,
  ProjectsDocument,
  TaskDocument,
  TasksDocument,
  UpdateTaskDocument,
  CurrentTenantDocument,
  LoginDocument,
  MeDocument,
  MyTenantsDocument,
  ChangePasswordDocument,
  SignOutEverywhereDocument,
  SignUpDocument,
  SwitchTenantDocument,
  TaskChangedDocument,
  TenantqlClient,
  TenantqlError,
  tokenExpiry,
  type TaskChangedSubscription,
  type TokenPair,
} from '../../src/client/index.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
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
    // Filtered, sorted and read from the end, with the generated input types.
    await acme.request(CreateTaskDocument, {
      input: { projectId: createProject.id, title: 'Check links', priority: 'LOW' },
    });
    const { tasks } = await acme.request(TasksDocument, {
      projectId: createProject.id,
      filter: { priority: { gte: 'MEDIUM' }, assignee: { isNull: true } },
      sort: [{ field: 'PRIORITY', direction: 'DESC' }, { field: 'DUE_DATE' }],
      last: 5,
    });
    expect(tasks.edges.map((e) => e.node.title)).toEqual(['Write copy']);
    expect(tasks.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: false });

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

/** A new account owning a new tenant: its token pair and the tenant's id. */
async function owner(url: string, label: string) {
  const client = new TenantqlClient({ url });
  const { signUp } = await client.request(SignUpDocument, {
    input: {
      email: `${label}-${randomUUID().slice(0, 8)}@example.test`,
      password: 'a long enough password',
      name: label,
    },
  });
  const { createTenant } = await client
    .with({ token: signUp.token })
    .request(CreateTenantDocument, {
      input: { name: label, slug: `${label}-${randomUUID().slice(0, 8)}` },
    });
  return {
    pair: { token: signUp.token, refreshToken: signUp.refreshToken },
    tenantId: createTenant.id,
  };
}

describe('token refresh, against a server issuing 3-second access tokens', () => {
  let shortLived: TestApp;
  beforeAll(async () => {
    shortLived = await startTestApp(db, { JWT_ACCESS_TTL_SECONDS: '3' });
  });
  afterAll(async () => {
    await shortLived?.close();
  });

  async function pastExpiry(token: string): Promise<void> {
    const expiry = tokenExpiry(token)!;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry - Date.now() + 1100)));
  }

  it('refreshes an expiring token once for concurrent requests, shared by with() copies', async () => {
    const { pair, tenantId } = await owner(shortLived.url, 'refresh');
    const seen: TokenPair[] = [];
    const client = new TenantqlClient({
      url: shortLived.url,
      ...pair,
      tenantId,
      onTokens: (tokens) => seen.push(tokens),
    });
    expect((await client.request(MeDocument)).me?.name).toBe('refresh');
    expect(seen).toHaveLength(0);
    // The default margin (30 s) is capped at half the lifetime. The server writes iat to the
    // millisecond and exp in whole seconds (jose), so that lifetime is 2–3 s: the token is due
    // between 1.5 and 1 s before its expiry, and surely 0.9 s before it.
    await new Promise((resolve) =>
      setTimeout(resolve, tokenExpiry(pair.token)! - Date.now() - 900),
    );
    const other = client.with({ tenantId: undefined });
    const answers = await Promise.all([
      ...Array.from({ length: 4 }, () => client.request(CurrentTenantDocument)),
      other.request(MeDocument),
    ]);
    expect(
      answers.slice(0, 4).map((a) => (a as { currentTenant: { id: string } }).currentTenant.id),
    ).toEqual(Array(4).fill(tenantId));
    // One exchange: a second use of the same refresh token would have signed everything out.
    expect(seen).toHaveLength(1);
    expect(client.token).toBe(seen[0].token);
    expect(other.refreshToken).toBe(seen[0].refreshToken);
    expect(client.token).not.toBe(pair.token);
    expect((await client.request(MeDocument)).me?.name).toBe('refresh');
  });

  it('refreshes and retries once when the server refuses the token as expired', async () => {
    const { pair } = await owner(shortLived.url, 'expired');
    const seen: TokenPair[] = [];
    // A client whose clock runs a minute behind: it believes the token valid; the server does not.
    const client = new TenantqlClient({
      url: shortLived.url,
      ...pair,
      refreshMarginSeconds: -60,
      onTokens: (tokens) => seen.push(tokens),
    });
    await pastExpiry(pair.token);
    const [a, b] = await Promise.all([client.request(MeDocument), client.request(MeDocument)]);
    expect([a.me?.name, b.me?.name]).toEqual(['expired', 'expired']);
    expect(seen).toHaveLength(1);

    // Without a refresh token the refusal is the caller's to handle.
    const bare = new TenantqlClient({ url: shortLived.url, token: pair.token });
    const refused = await errorOf(bare.request(MeDocument));
    expect([refused.code, refused.status]).toEqual(['UNAUTHENTICATED', 401]);
  }, 15_000);

  it('keeps a subscription delivering past its token expiry (graphql-ws, renewed connection)', async () => {
    const { pair, tenantId } = await owner(shortLived.url, 'live');
    const seen: TokenPair[] = [];
    const client = new TenantqlClient({
      url: shortLived.url,
      ...pair,
      tenantId,
      refreshMarginSeconds: 1,
      onTokens: (tokens) => seen.push(tokens),
      webSocketImpl: WebSocket,
    });
    try {
      const { createProject } = await client.request(CreateProjectDocument, {
        input: { name: 'Live', key: 'LIVE' },
      });
      const events = client.subscribe(TaskChangedDocument, { projectId: createProject.id });
      const received: TaskChangedSubscription['taskChanged'][] = [];
      const reading = (async () => {
        for await (const event of events) received.push(event.taskChanged);
      })();
      await waitFor(
        'the subscription to start',
        () => shortLived.app.live.hub.subscriberCount === 1,
      );
      const { createTask } = await client.request(CreateTaskDocument, {
        input: { projectId: createProject.id, title: 'before expiry' },
      });
      await waitFor('the CREATED event', () => received.length === 1);
      expect(received[0]).toMatchObject({ kind: 'CREATED', task: { title: 'before expiry' } });

      // Past the first token's expiry, with the connection renewed on a refreshed token: the
      // server checks the token at every event, so the old connection would fail here.
      await pastExpiry(pair.token);
      expect(seen.length).toBeGreaterThanOrEqual(1);
      // Changes made while the connection is being renewed may be missed; one after it is not.
      let n = 0;
      await waitFor(
        'an event after expiry',
        async () => {
          await client.request(UpdateTaskDocument, {
            id: createTask.id,
            input: { title: `after expiry ${++n}` },
          });
          await new Promise((resolve) => setTimeout(resolve, 150));
          return received.some((e) => e.task?.title?.startsWith('after expiry'));
        },
        10_000,
      );
      expect(received.at(-1)).toMatchObject({ kind: 'UPDATED', taskId: createTask.id });
      await events.return?.();
      await reading;
    } finally {
      await client.close();
    }
  }, 30_000);
});

describe('configuration the server was given', () => {
  it('sends the tenant in the header named by TENANT_HEADER', async () => {
    const custom = await startTestApp(db, { TENANT_HEADER: 'X-Workspace' });
    try {
      const { pair, tenantId } = await owner(custom.url, 'header');
      const inTenant = new TenantqlClient({
        url: custom.url,
        token: pair.token,
        tenantId,
        tenantHeader: 'X-Workspace',
      });
      expect((await inTenant.request(CurrentTenantDocument)).currentTenant?.id).toBe(tenantId);
      // The copies keep the header name.
      const copy = inTenant.with({ token: pair.token });
      expect((await copy.request(CurrentTenantDocument)).currentTenant?.id).toBe(tenantId);
      // X-Tenant-ID means nothing to this server: no tenant is chosen.
      const defaults = new TenantqlClient({ url: custom.url, token: pair.token, tenantId });
      expect((await defaults.request(CurrentTenantDocument)).currentTenant).toBeNull();
    } finally {
      await custom.close();
    }
  });
});

describe('answers that are not GraphQL', () => {
  it("turns a proxy's HTML 502 page into UNEXPECTED_RESPONSE with the status", async () => {
    const proxy = http.createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(
        '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>',
      );
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const client = new TenantqlClient({ url: `http://127.0.0.1:${port}/graphql` });
      const error = await errorOf(client.request(MeDocument));
      expect([error.code, error.status]).toEqual(['UNEXPECTED_RESPONSE', 502]);
      expect(error.message).toContain('text/html');
      expect(error.message).toContain('502 Bad Gateway');
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('turns a refused connection into NETWORK_ERROR', async () => {
    const client = new TenantqlClient({ url: `http://127.0.0.1:${await freePort()}/graphql` });
    const error = await errorOf(client.request(MeDocument));
    expect([error.code, error.status]).toEqual(['NETWORK_ERROR', 0]);
  });
});

describe('the package export tenantql/client', () => {
  it('is built to dist/client with types and works from another project', async () => {
    // The step of `npm run build` that writes dist/client (bin/build.js).
    await promisify(execFile)(process.execPath, [
      '--input-type=module',
      '--eval',
      "const { buildClient } = await import('./bin/build.js'); await buildClient();",
    ]);
    const consumer = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-consumer-'));
    try {
      // Installed the way `npm install <path>` links a local package.
      await fs.mkdir(path.join(consumer, 'node_modules'));
      await fs.symlink(process.cwd(), path.join(consumer, 'node_modules', 'tenantql'), 'dir');
      await fs.writeFile(
        path.join(consumer, 'package.json'),
        JSON.stringify({ name: 'consumer', type: 'module', private: true }),
      );
      await fs.writeFile(
        path.join(consumer, 'main.ts'),
        `import { LoginDocument, MeDocument, SignUpDocument, TenantqlClient, TenantqlError } from 'tenantql/client';
const client = new TenantqlClient({ url: process.argv[2] });
const { signUp } = await client.request(SignUpDocument, {
  input: { email: process.argv[3], password: 'a long enough password', name: 'Consumer' },
});
const me = await client.with({ token: signUp.token }).request(MeDocument);
const email: string | undefined = me.me?.email;
// @ts-expect-error -- the data is typed, not any
const notANumber: number = me.me?.email;
// @ts-expect-error -- the variables are typed: an unknown field is refused
await client.request(SignUpDocument, { input: { email: 'x@y.z', password: 'p', name: 'n', age: 1 } }).catch(() => 0);
const error = await client
  .request(LoginDocument, { input: { email: process.argv[3], password: 'not the password' } })
  .then(() => undefined, (e: unknown) => e);
console.log(JSON.stringify({ email, notANumber, wrongPassword: error instanceof TenantqlError ? error.code : String(error) }));
`,
      );
      const tsc = path.resolve('node_modules/.bin/tsc');
      await promisify(execFile)(
        tsc,
        [
          '--strict',
          '--module',
          'nodenext',
          '--target',
          'es2022',
          '--types',
          'node',
          '--typeRoots',
          path.resolve('node_modules/@types'),
          '--outDir',
          '.',
          'main.ts',
        ],
        { cwd: consumer },
      ).catch((error: { stdout?: string }) => {
        throw new Error(`the consumer does not type-check:\n${error.stdout}`);
      });
      const email = `consumer-${randomUUID().slice(0, 8)}@example.test`;
      const { stdout } = await promisify(execFile)(process.execPath, ['main.js', api.url, email], {
        cwd: consumer,
      });
      expect(JSON.parse(stdout)).toEqual({
        email,
        notANumber: email,
        wrongPassword: 'UNAUTHENTICATED',
      });
    } finally {
      await fs.rm(consumer, { recursive: true, force: true });
    }
  }, 60_000);
});
