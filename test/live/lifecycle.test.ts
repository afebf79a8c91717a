import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { liveClient, sleep, until, type LiveClient } from './client.js';

let db: TestDatabase;
let writer: TestApp;
let t: SeededTenant;
let owner: pg.Client;
const clients: LiveClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  t = await seedTenant(db.ownerUrl, 'LiveLife');
  writer = await startTestApp(db);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await owner.end();
  await writer.close();
  await db.drop();
});

const TASK_CHANGED = `subscription ($projectId: ID!) {
  taskChanged(projectId: $projectId) { kind task { title } }
}`;

async function subscribe(api: TestApp) {
  const token = await api.app.deps.tokens.signAccess(t.users.member, undefined);
  const client = liveClient(api, { authorization: `Bearer ${token}`, 'x-tenant-id': t.id });
  clients.push(client);
  const before = api.app.live.hub.startedCount;
  const received = client.subscribe(TASK_CHANGED, { projectId: t.projectId });
  await until(() => api.app.live.hub.startedCount > before, 'the subscription to start');
  return received;
}

async function change(title: string) {
  const call = await callerFor(writer, t.id, t.users.owner);
  const result = await call(
    'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }',
    {
      input: { projectId: t.projectId, title },
    },
  );
  expect(result.errors).toBeUndefined();
}

describe('a subscription', () => {
  it('lives as long as its access token: the first event after expiry ends it', async () => {
    const api = await startTestApp(db, { JWT_ACCESS_TTL_SECONDS: '2' });
    try {
      const received = await subscribe(api);
      await change('LiveLife in time');
      await until(() => received.results.length === 1, 'the first change');
      await sleep(2_200);
      await change('LiveLife too late');
      await received.ended;
      expect(received.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(received.results).toHaveLength(1);
    } finally {
      await api.close();
    }
  });

  it('waits between batches without piling listeners on its abort signal', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const received = await subscribe(writer);
      const titles = () =>
        received.results.map(
          (result) =>
            (result.data as { taskChanged?: { task?: { title?: string } } } | undefined)
              ?.taskChanged?.task?.title,
        );
      // One change at a time, each delivered before the next: a dozen idle waits in one stream.
      // (By title, not by count: on a Citus cluster, where the API reads new events every 200 ms,
      // the subscription may first hear of the previous test's last change, made just before.)
      for (let i = 1; i <= 12; i += 1) {
        await change(`LiveLife wait ${i}`);
        await until(() => titles().includes(`LiveLife wait ${i}`), `change ${i}`);
      }
      received.unsubscribe();
      await until(() => writer.app.live.hub.subscriberCount === 0, 'the subscription to end');
      await sleep(50);
      expect(warnings.filter((w) => w.includes('abort listeners'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('shows in the metrics', async () => {
    const received = await subscribe(writer);
    const metrics = await (await fetch(writer.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/^tenantql_live_connections [1-9]/m);
    expect(metrics).toMatch(/^tenantql_live_subscriptions 1$/m);
    expect(metrics).toMatch(/^tenantql_live_listener_up 1$/m);
    received.unsubscribe();
    await until(() => writer.app.live.hub.subscriberCount === 0, 'the subscription to end');
  });

  it('is closed with 1001 when the server shuts down, which then ends promptly and cleanly', async () => {
    const api = await startTestApp(db, { SHUTDOWN_GRACE_MS: '10000' });
    const received = await subscribe(api);
    await change('LiveLife before shutdown');
    await until(() => received.results.length === 1, 'the first change');
    const started = performance.now();
    await api.close();
    const closeMs = performance.now() - started;
    await received.ended;
    expect(received.closed?.code).toBe(1001);
    expect(closeMs).toBeLessThan(3_000);
    expect(api.app.live.hub.subscriberCount).toBe(0);
    expect(api.app.live.listener.listening).toBe(false);
    const { rows } = await owner.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'tenantql-listener'`,
    );
    // Only the writer's listener is left.
    expect(rows[0]?.n).toBe(1);
  });
});

describe('validation over WebSocket', () => {
  it('suggests field names in development only, as over HTTP', async () => {
    const production = await startTestApp(db, { NODE_ENV: 'production' });
    try {
      const messages = [];
      for (const api of [writer, production]) {
        const token = await api.app.deps.tokens.signAccess(t.users.member, undefined);
        const client = liveClient(api, { authorization: `Bearer ${token}`, 'x-tenant-id': t.id });
        clients.push(client);
        const received = client.subscribe('subscription { notificationAdde { id } }');
        await received.ended;
        expect(received.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        messages.push(received.errors?.[0]?.message ?? '');
      }
      expect(messages[0]).toContain('Did you mean');
      expect(messages[1]).not.toContain('Did you mean');
      expect(messages[1]).toContain('notificationAdde');
    } finally {
      await production.close();
    }
  });
});
