import { existsSync } from 'node:fs';
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

const CHROMIUM = '/usr/bin/chromium';
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

// Skipped only on a developer machine without Chromium; under CI a missing browser is a failure.
const browserAvailable = existsSync(CHROMIUM) || Boolean(process.env.CI);

describe.skipIf(!browserAvailable)('playground in headless Chromium', () => {
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    profile = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
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
    const serverHost = new URL(api.url).host;
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol === 'data:' || url.protocol === 'blob:') return;
      if (url.host !== serverHost) foreignRequests.push(request.url());
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await fs.rm(profile, { recursive: true, force: true });
  });

  async function runAndRead(): Promise<string> {
    const before = await page.locator('.result-window').innerText();
    await page.locator('.graphiql-execute-button').click();
    await expect
      .poll(async () => page.locator('.result-window').innerText(), { timeout: 15_000 })
      .not.toBe(before);
    await expect
      .poll(async () => page.locator('.result-window').innerText(), { timeout: 15_000 })
      .toMatch(/"(data|errors)"/);
    return page.locator('.result-window').innerText();
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

    await fs.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground.png') });
    expect(foreignRequests).toEqual([]);
  }, 90_000);

  it('runs a subscription over a same-origin WebSocket and shows its events', async () => {
    // Continues signed in as bob from the test above; acme is where bob is a member.
    await page.locator('select[name=tenant]').selectOption({ label: 'Acme Corp (acme, member)' });
    await page.locator('.graphiql-tab').last().click();
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
    const created = await call(
      `mutation { createTask(input: { projectId: "${found.data!.projects.edges[0].node.id}",
         title: "Live from the playground", assigneeId: "${bob.user.id}" }) { id } }`,
    );
    expect(created.errors).toBeUndefined();
    await expect
      .poll(async () => page.locator('.result-window').innerText(), { timeout: 15_000 })
      .toContain('Live from the playground');
    expect(await page.locator('.result-window').innerText()).toContain('TASK_ASSIGNED');
    expect(foreignRequests).toEqual([]);
  }, 90_000);
});
