import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/auth/password.js';
import { createKysely, createPool } from '../../src/db/pool.js';
import { seedDemo } from '../../src/db/seed.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { installed, PROGRAMS } from '../support/programs.js';

const ARTIFACTS = path.resolve('test-artifacts');

let db: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  const seeder = createKysely(
    createPool({ connectionString: db.apiUrl, max: 2, statementTimeoutMs: 0 }),
  );
  try {
    await seedDemo(seeder, new PasswordHasher());
  } finally {
    await seeder.destroy();
  }
  api = await startTestApp(db, { PLAYGROUND_ENABLED: 'true' });
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function getPage(url: string, accept = 'text/html,application/xhtml+xml') {
  // The preflight header satisfies Apollo's CSRF check for GET operations.
  return fetch(url, { headers: { accept, 'apollo-require-preflight': 'true' } });
}

describe('playground over HTTP', () => {
  it('serves a page that loads only its own two files, under a same-origin CSP', async () => {
    const response = await getPage(api.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await response.text();
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(references.sort()).toEqual(
      ['/playground/playground.css', '/playground/playground.js', 'data:,'].sort(),
    );

    const script = await fetch(new URL('/playground/playground.js', api.url));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(script.headers.get('content-encoding')).toBe('gzip');
    expect((await script.text()).length).toBeGreaterThan(100_000);
    const style = await fetch(new URL('/playground/playground.css', api.url));
    expect(await style.text()).toContain('.graphiql-container');
  });

  it('leaves GraphQL clients alone: a GET query with Accept JSON still executes', async () => {
    const response = await getPage(
      `${api.url}?query=${encodeURIComponent('{ __typename }')}`,
      'application/json',
    );
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('is off in production unless PLAYGROUND_ENABLED=true', async () => {
    const off = await startTestApp(db, { NODE_ENV: 'production' });
    const on = await startTestApp(db, { NODE_ENV: 'production', PLAYGROUND_ENABLED: 'true' });
    try {
      const offPage = await getPage(off.url);
      expect(offPage.headers.get('content-type')).not.toContain('text/html');
      expect((await fetch(new URL('/playground/playground.js', off.url))).status).toBe(404);
      expect((await getPage(on.url)).headers.get('content-type')).toContain('text/html');
    } finally {
      await off.close();
      await on.close();
    }
  });
});

const browserAvailable = installed('chromium', 'the playground browser test');

describe.skipIf(!browserAvailable)('playground in headless Chromium', () => {
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const foreignRequests: string[] = [];
  /** The servers under test: anything else the page asks for is a foreign request. */
  const ownHosts = new Set<string>();
  /** Errors and warnings the pages logged, uncaught exceptions (a worker refused by the CSP …). */
  const pageProblems: string[] = [];
  const workersLoaded: string[] = [];

  beforeAll(async () => {
    profile = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: PROGRAMS.chromium.path,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    ownHosts.add(new URL(api.url).host);
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol === 'data:' || url.protocol === 'blob:') return;
      if (!ownHosts.has(url.host)) foreignRequests.push(request.url());
      else if (url.pathname.endsWith('.worker.js')) workersLoaded.push(path.basename(url.pathname));
    });
    context.on('console', (message) => {
      if (['error', 'warning'].includes(message.type())) pageProblems.push(message.text());
    });
    context.on('weberror', (error) => pageProblems.push(String(error.error())));
    page = context.pages()[0] ?? (await context.newPage());
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await fs.rm(profile, { recursive: true, force: true });
  });

  /**
   * Runs the open tab's query and returns the answer the page got. Read from the network: the
   * result pane (Monaco) renders only the lines in view.
   */
  async function runAndRead(): Promise<string> {
    const answered = page.waitForResponse(
      (r) =>
        r.request().method() === 'POST' && /ProjectsWithTasks/.test(r.request().postData() ?? ''),
    );
    await page.locator('.graphiql-execute-button').click();
    const body = JSON.stringify(await (await answered).json());
    await expect
      .poll(async () => page.locator('.result-window').innerText(), { timeout: 15_000 })
      .toMatch(/"(data|errors)"/);
    return body;
  }

  it('signs in, shows one tenant, switches, shows the other, and calls no other host', async () => {
    await page.goto(api.url);
    await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });

    await page.fill('input[name=email]', 'bob@acme.test');
    await page.fill('input[name=password]', 'bob-demo-pass');
    await page.click('button[type=submit]');
    await expect
      .poll(async () => page.getByTestId('signed-in').count(), { timeout: 15_000 })
      .toBe(1);

    const tenant = page.locator('select[name=tenant]');
    await tenant.selectOption({ label: 'Acme Corp (acme, member)' });
    const acme = await runAndRead();
    expect(acme).toContain('Website relaunch');
    expect(acme).not.toContain('Doomsday device');

    await tenant.selectOption({ label: 'Globex (globex, viewer)' });
    const globex = await runAndRead();
    expect(globex).toContain('Doomsday device');
    expect(globex).not.toContain('Website relaunch');

    // The explorer plugin lists the schema's root fields once it is open.
    await page.getByRole('button', { name: 'Show GraphiQL Explorer' }).click();
    await expect
      .poll(async () => page.locator('.graphiql-plugin').innerText(), { timeout: 15_000 })
      .toContain('myTenants');

    // Monaco's workers run from the server's own files: none refused, none inlined instead.
    expect(workersLoaded).toEqual(
      expect.arrayContaining(['editor.worker.js', 'graphql.worker.js', 'json.worker.js']),
    );
    expect(pageProblems).toEqual([]);
    await fs.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground.png') });
    expect(foreignRequests).toEqual([]);
  }, 90_000);

  it('runs a subscription over a same-origin WebSocket and shows its events', async () => {
    // Continues signed in as bob from the test above; acme is where bob is a member.
    await page.locator('select[name=tenant]').selectOption({ label: 'Acme Corp (acme, member)' });
    // What the WebSocket delivers (the result pane renders only the lines in view).
    const frames: string[] = [];
    page.on('websocket', (socket) => {
      socket.on('framereceived', (frame) => frames.push(String(frame.payload)));
    });
    await page.locator('.graphiql-tab', { hasText: 'NotificationAdded' }).click();
    await expect
      .poll(async () => page.locator('.graphiql-query-editor').innerText())
      .toContain('notificationAdded');
    await page.locator('.graphiql-execute-button').click();
    // On failure this shows what the result pane says instead.
    await expect
      .poll(
        async () =>
          api.app.live.hub.subscriberCount || (await page.locator('.result-window').innerText()),
        { timeout: 15_000 },
      )
      .toBe(1);

    const login = await api.request<{ login: { token: string } }>(
      'mutation { login(input: {email: "alice@acme.test", password: "alice-demo-pass"}) { token } }',
    );
    const token = login.data!.login.token;
    const tenants = await api.request<{ myTenants: { id: string; slug: string }[] }>(
      '{ myTenants { id slug } }',
      undefined,
      { token },
    );
    const acme = tenants.data!.myTenants.find((t) => t.slug === 'acme')!.id;
    const call = <T>(query: string) =>
      api.request<T>(query, undefined, { token, headers: { 'x-tenant-id': acme } });
    const found = await call<{
      members: { user: { id: string; email: string } }[];
      projects: { edges: { node: { id: string } }[] };
    }>('{ members { user { id email } } projects(first: 1) { edges { node { id } } } }');
    const bob = found.data!.members.find((m) => m.user.email === 'bob@acme.test')!;
    const projectId = found.data!.projects.edges[0].node.id;
    // As the tab's hint says, your own actions notify nobody: bob assigning himself a task (over
    // HTTP with his own sign-in) shows nothing, alice assigning him one does. Events arrive in
    // commit order, so bob's would be shown before alice's.
    const bobLogin = await api.request<{ login: { token: string } }>(
      'mutation { login(input: {email: "bob@acme.test", password: "bob-demo-pass"}) { token } }',
    );
    const own = await api.request(
      `mutation { createTask(input: { projectId: "${projectId}", title: "Bob's own action",
         assigneeId: "${bob.user.id}" }) { id } }`,
      undefined,
      { token: bobLogin.data!.login.token, headers: { 'x-tenant-id': acme } },
    );
    expect(own.errors).toBeUndefined();
    const created = await call(
      `mutation { createTask(input: { projectId: "${projectId}",
         title: "Live from the playground", assigneeId: "${bob.user.id}" }) { id } }`,
    );
    expect(created.errors).toBeUndefined();
    await expect
      .poll(() => frames.join('\n'), { timeout: 15_000 })
      .toContain('Live from the playground');
    expect(frames.join('\n')).toContain('TASK_ASSIGNED');
    expect(frames.join('\n')).not.toContain("Bob's own action");
    expect(pageProblems).toEqual([]);
    await expect
      .poll(async () => page.locator('.result-window').innerText(), { timeout: 15_000 })
      .toContain('notificationAdded');
    expect(foreignRequests).toEqual([]);
  }, 90_000);

  describe('against a server issuing 4-second access tokens', () => {
    let shortLived: TestApp;
    let tab: Page;
    beforeAll(async () => {
      shortLived = await startTestApp(db, {
        PLAYGROUND_ENABLED: 'true',
        JWT_ACCESS_TTL_SECONDS: '4',
      });
      ownHosts.add(new URL(shortLived.url).host);
      tab = await context.newPage();
    });
    afterAll(async () => {
      await tab?.close();
      await shortLived?.close();
    });

    /** The tab's stored sign-in, as a reload finds it. */
    async function stored(): Promise<{ token: string; refreshToken: string; tenantId: string }> {
      const text = await tab.evaluate(() => sessionStorage.getItem('tenantql-playground-session'));
      return JSON.parse(text ?? 'null') as {
        token: string;
        refreshToken: string;
        tenantId: string;
      };
    }

    /** Runs the open tab's operation; the HTTP answer the page got and the token it sent. */
    async function run() {
      const answered = tab.waitForResponse(
        (r) =>
          r.request().method() === 'POST' && /ProjectsWithTasks/.test(r.request().postData() ?? ''),
      );
      await tab.locator('.graphiql-execute-button').click();
      const response = await answered;
      return {
        body: JSON.stringify(await response.json()),
        token: response
          .request()
          .headers()
          .authorization?.replace(/^Bearer /, ''),
      };
    }

    it('refreshes the token before it expires, so runs keep working', async () => {
      await tab.goto(shortLived.url);
      await tab.locator('.graphiql-container').waitFor({ timeout: 20_000 });
      await tab.fill('input[name=email]', 'bob@acme.test');
      await tab.fill('input[name=password]', 'bob-demo-pass');
      await tab.click('button[type=submit]');
      await tab.getByTestId('signed-in').waitFor({ timeout: 15_000 });
      await tab.locator('select[name=tenant]').selectOption({ label: 'Acme Corp (acme, member)' });
      const first = await stored();

      // Past the first token's expiry, without any run in between: the refresh is timed.
      const expiry = JSON.parse(atob(first.token.split('.')[1])) as { exp: number };
      await tab.waitForTimeout(expiry.exp * 1000 - Date.now() + 1000);
      const later = await stored();
      expect(later.token).not.toBe(first.token);
      expect(later.refreshToken).not.toBe(first.refreshToken);
      expect(await tab.getByTestId('headers').innerText()).toContain(later.token.slice(-6));

      const { body, token } = await run();
      expect(body).toContain('Website relaunch');
      expect(token).not.toBe(first.token);
      expect(await tab.getByTestId('signed-in').count()).toBe(1);
    }, 60_000);

    it('keeps the sign-in across a reload in sessionStorage only, never in localStorage', async () => {
      const before = await stored();
      const local = await tab.evaluate(() => JSON.stringify({ ...localStorage }));
      expect(local).not.toContain(before.refreshToken);
      expect(local).not.toContain(before.token);

      await tab.reload();
      await tab.locator('.graphiql-container').waitFor({ timeout: 20_000 });
      expect(await tab.getByTestId('signed-in').innerText()).toContain('bob@acme.test');
      expect(await tab.locator('select[name=tenant]').inputValue()).toBe(before.tenantId);
      const { body } = await run();
      expect(body).toContain('Website relaunch');

      // sessionStorage belongs to the tab: a new one starts signed out.
      const other = await context.newPage();
      try {
        await other.goto(shortLived.url);
        await other.locator('input[name=email]').waitFor({ timeout: 20_000 });
        expect(await other.getByTestId('signed-in').count()).toBe(0);
      } finally {
        await other.close();
      }
      expect(foreignRequests).toEqual([]);
    }, 60_000);
  });
});
