import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, ownerQuery, type Call } from '../support/callers.js';
import {
  apiConnectionsInTransaction,
  createTestDatabase,
  type TestDatabase,
} from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { liveClient, sleep, until, type LiveClient, type Received } from './client.js';

// Two API instances on one database: a change made through one reaches subscribers of the other
// only through PostgreSQL LISTEN/NOTIFY.
let db: TestDatabase;
let api1: TestApp;
let api2: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let owner: pg.Client;
const clients: LiveClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'LiveA'), seedTenant(db.ownerUrl, 'LiveB')]);
  [api1, api2] = await Promise.all([startTestApp(db), startTestApp(db)]);
  await Promise.all([api1.app.live.listener.ready, api2.app.live.listener.ready]);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await owner.end();
  await Promise.all([api1.close(), api2.close()]);
  await db.drop();
});

const TASK_CHANGED = `subscription ($projectId: ID!) {
  taskChanged(projectId: $projectId) { kind taskId projectId task { id title status project { id } } }
}`;
const NOTIFICATION_ADDED = `subscription {
  notificationAdded { id kind message task { id title } actor { id } }
}`;

interface TaskChangedData {
  taskChanged: {
    kind: string;
    taskId: string;
    projectId: string;
    task: { id: string; title: string; status: string; project: { id: string } } | null;
  };
}
interface NotificationAddedData {
  notificationAdded: { id: string; kind: string; message: string; task: { id: string } | null };
}

async function connect(api: TestApp, userId: string, tenant: Record<string, string> = {}) {
  const token = await api.app.deps.tokens.signAccess(userId, undefined);
  // Names as the HTTP headers are written: matched case-insensitively.
  const client = liveClient(api, { Authorization: `Bearer ${token}`, ...tenant });
  clients.push(client);
  return client;
}

/** Subscribes and waits until the subscription receives events (its start checks passed). */
async function subscribed<T>(api: TestApp, subscribe: () => Received<T>): Promise<Received<T>> {
  // Counted as started, not as current: a subscription of the previous test may end meanwhile.
  const before = api.app.live.hub.startedCount;
  const received = subscribe();
  await until(
    () => api.app.live.hub.startedCount > before || received.errors !== undefined,
    'the subscription to start',
  );
  return received;
}

async function createTask(call: Call, projectId: string, title: string, assigneeId?: string) {
  const result = await call<{ createTask: { id: string } }>(
    'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }',
    { input: { projectId, title, ...(assigneeId ? { assigneeId } : {}) } },
  );
  expect(result.errors).toBeUndefined();
  return result.data!.createTask.id;
}

function titles(received: Received<TaskChangedData>): string[] {
  return received.results.map((r) => {
    const change = r.data?.taskChanged;
    return change ? `${change.kind} ${change.task?.title ?? change.taskId}` : 'error';
  });
}

describe('taskChanged', () => {
  it('delivers created, updated and deleted tasks made through another instance', async () => {
    const watcher = await connect(api2, a.users.viewer, { 'x-tenant-id': a.id });
    const received = await subscribed(api2, () =>
      watcher.subscribe<TaskChangedData>(TASK_CHANGED, { projectId: a.projectId }),
    );
    const call = await callerFor(api1, a.id, a.users.owner);
    // Each change is awaited before the next: a change delivered after the task was deleted
    // finds no row to load and is dropped (its DELETED follows), which a loaded machine
    // otherwise makes happen here.
    const id = await createTask(call, a.projectId, 'LiveA first');
    await until(() => received.results.length >= 1, 'the creation');
    await call('mutation ($id: ID!) { updateTask(id: $id, input: { status: DONE }) { id } }', {
      id,
    });
    await until(() => received.results.length >= 2, 'the update');
    await call('mutation ($id: ID!) { deleteTask(id: $id) }', { id });
    await until(() => received.results.length >= 3, 'three changes');
    expect(received.results.map((r) => r.errors)).toEqual([undefined, undefined, undefined]);
    const changes = received.results.map((r) => r.data!.taskChanged);
    expect(changes.map((c) => [c.kind, c.taskId, c.projectId])).toEqual([
      ['CREATED', id, a.projectId],
      ['UPDATED', id, a.projectId],
      ['DELETED', id, a.projectId],
    ]);
    // Loaded when delivered: the update has happened by then, and nested fields resolve in the
    // subscriber's own transaction.
    expect(changes[1].task).toMatchObject({ id, status: 'DONE', project: { id: a.projectId } });
    expect(changes[2].task).toBeNull();
    received.unsubscribe();
  });

  it("never delivers another tenant's changes, even to a forged project id or a forged event", async () => {
    const legit = await connect(api2, b.users.member, { 'x-tenant-id': b.id });
    const bWatch = await subscribed(api2, () =>
      legit.subscribe<TaskChangedData>(TASK_CHANGED, { projectId: b.projectId }),
    );
    // From tenant B, naming tenant A's project: refused like any hidden row.
    const forger = await connect(api1, b.users.owner, { 'x-tenant-id': b.id });
    const forged = forger.subscribe<TaskChangedData>(TASK_CHANGED, { projectId: a.projectId });
    await forged.ended;
    expect(forged.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(forged.results).toEqual([]);

    const callA = await callerFor(api1, a.id, a.users.owner);
    for (let i = 0; i < 5; i++) await createTask(callA, a.projectId, `LiveA secret ${i}`);
    await callA(
      'mutation ($id: ID!) { updateTask(id: $id, input: { title: "LiveA renamed" }) { id } }',
      {
        id: a.taskId,
      },
    );
    // An event forged straight into the channel, claiming tenant B and B's project but naming A's
    // task: the in-memory filter lets it through, loading it under B's RLS finds nothing.
    await owner.query(`select pg_notify('tenantql_live', $1)`, [
      JSON.stringify({
        kind: 'task',
        op: 'update',
        tenantId: b.id,
        id: a.taskId,
        projectId: b.projectId,
      }),
    ]);
    await sleep(500);
    const callB = await callerFor(api1, b.id, b.users.member);
    const id = await createTask(callB, b.projectId, 'LiveB visible');
    await until(() => bWatch.results.length >= 1, "B's own change");
    await sleep(200);
    // Events reach a subscriber in commit order, so A's changes (and the forged one) came first
    // and were dropped, not merely late.
    expect(titles(bWatch)).toEqual(['CREATED LiveB visible']);
    expect(bWatch.results[0].data!.taskChanged.taskId).toBe(id);
    bWatch.unsubscribe();
  });

  it('stops delivering to a member removed mid-subscription', async () => {
    const t = await seedTenant(db.ownerUrl, 'LiveRemoved');
    // The fixture's own task was created before the subscription: let its event pass first (on
    // a Citus cluster instances read events every 200 ms, so it could otherwise arrive after).
    await sleep(500);
    const viewer = await connect(api1, t.users.viewer, { 'x-tenant-id': t.id });
    const received = await subscribed(api1, () =>
      viewer.subscribe<TaskChangedData>(TASK_CHANGED, { projectId: t.projectId }),
    );
    const call = await callerFor(api2, t.id, t.users.owner);
    await createTask(call, t.projectId, 'LiveRemoved before');
    await until(() => received.results.length >= 1, 'the first change');
    const removed = await call<{ removeMember: boolean }>(
      'mutation ($userId: ID!) { removeMember(userId: $userId) }',
      { userId: t.users.viewer },
    );
    expect(removed.data?.removeMember).toBe(true);
    await createTask(call, t.projectId, 'LiveRemoved after');
    await received.ended;
    expect(received.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(titles(received)).toEqual(['CREATED LiveRemoved before']);
  });
});

describe('notificationAdded', () => {
  it('reaches only the recipient, in the tenant it belongs to', async () => {
    const member = await connect(api2, a.users.member, { 'x-tenant-id': a.id });
    const admin = await connect(api2, a.users.admin, { 'x-tenant-id': a.id });
    // Same person shape in the other tenant: B's member must hear nothing of A.
    const other = await connect(api1, b.users.member, { 'x-tenant-id': b.id });
    const forMember = await subscribed(api2, () =>
      member.subscribe<NotificationAddedData>(NOTIFICATION_ADDED),
    );
    const forAdmin = await subscribed(api2, () =>
      admin.subscribe<NotificationAddedData>(NOTIFICATION_ADDED),
    );
    const forOther = await subscribed(api1, () =>
      other.subscribe<NotificationAddedData>(NOTIFICATION_ADDED),
    );
    const call = await callerFor(api1, a.id, a.users.owner);
    const id = await createTask(call, a.projectId, 'LiveA assigned', a.users.member);
    await until(() => forMember.results.length >= 1, "the member's notification");
    expect(forMember.results[0].errors).toBeUndefined();
    expect(forMember.results[0].data!.notificationAdded).toMatchObject({
      kind: 'TASK_ASSIGNED',
      task: { id },
    });
    // Then one for the admin proves the admin's subscription works and heard nothing before.
    await createTask(call, a.projectId, 'LiveA for admin', a.users.admin);
    await until(() => forAdmin.results.length >= 1, "the admin's notification");
    await sleep(200);
    expect(forAdmin.results.map((r) => r.data?.notificationAdded.kind)).toEqual(['TASK_ASSIGNED']);
    expect(forMember.results).toHaveLength(1);
    const callB = await callerFor(api2, b.id, b.users.owner);
    await createTask(callB, b.projectId, 'LiveB assigned', b.users.member);
    await until(() => forOther.results.length >= 1, "B's member's notification");
    expect(forOther.results.map((r) => r.data?.notificationAdded.task?.id)).toHaveLength(1);
    expect(JSON.stringify(forOther.results)).not.toContain('LiveA');
  });
});

describe('refusals', () => {
  it('closes a connection with a forged or missing token (4401 UNAUTHENTICATED)', async () => {
    const forgedToken = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(a.users.owner)
      .setIssuer('tenantql')
      .setAudience('tenantql-api')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode('not-the-secret-of-this-server-0123456789abcdef'));
    const refused: Record<string, string>[] = [
      { authorization: `Bearer ${forgedToken}`, 'x-tenant-id': a.id },
      { 'x-tenant-id': a.id },
      { authorization: 'Basic dXNlcjpwYXNz' },
    ];
    for (const params of refused) {
      const client = liveClient(api1, params);
      clients.push(client);
      const received = client.subscribe(NOTIFICATION_ADDED);
      await received.ended;
      expect(received.closed?.code).toBe(4401);
      expect(received.closed?.reason.split(':')[0]).toBe('UNAUTHENTICATED');
      expect(received.results).toEqual([]);
    }
  });

  it('errors a subscription with the usual codes for the tenant', async () => {
    const suspended = await seedTenant(db.ownerUrl, 'LiveSuspended');
    await ownerQuery(db.ownerUrl, `update app.tenants set status = 'suspended' where id = $1`, [
      suspended.id,
    ]);
    const cases: [string, Record<string, string>, string][] = [
      [a.users.owner, { 'x-tenant-id': b.id }, 'FORBIDDEN'],
      [a.users.owner, { 'X-Tenant-Slug': b.slug }, 'FORBIDDEN'],
      [suspended.users.member, { 'x-tenant-id': suspended.id }, 'TENANT_SUSPENDED'],
      [a.users.owner, {}, 'TENANT_REQUIRED'],
      [a.users.owner, { 'x-tenant-id': 'not-a-uuid' }, 'BAD_USER_INPUT'],
    ];
    for (const [userId, tenant, code] of cases) {
      const client = await connect(api1, userId, tenant);
      const received = client.subscribe(NOTIFICATION_ADDED);
      await received.ended;
      expect([JSON.stringify(tenant), received.errors?.[0]?.extensions?.code]).toEqual([
        JSON.stringify(tenant),
        code,
      ]);
    }
  });

  it('refuses a subscription sent over HTTP', async () => {
    const call = await callerFor(api1, a.id, a.users.owner);
    const result = await call('subscription { notificationAdded { id } }');
    expect(errorCode(result)).toBe('BAD_REQUEST');
    expect(result.data).toBeNull();
  });

  it('runs only subscriptions over WebSocket', async () => {
    const client = await connect(api1, a.users.owner, { 'x-tenant-id': a.id });
    const received = client.subscribe(
      'mutation { deleteTask(id: "00000000-0000-0000-0000-000000000000") }',
    );
    await received.ended;
    expect(received.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    const invalid = client.subscribe('subscription { nope }');
    await invalid.ended;
    expect(invalid.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('connections', () => {
  const connectionsInTransaction = () => apiConnectionsInTransaction(owner);

  it('leave no transaction open when clients go away in the middle of a burst', async () => {
    const t = await seedTenant(db.ownerUrl, 'LiveBurst');
    const watchers = await Promise.all(
      Array.from({ length: 6 }, () => connect(api2, t.users.member, { 'x-tenant-id': t.id })),
    );
    const received: Received<TaskChangedData>[] = [];
    for (const w of watchers) {
      received.push(
        await subscribed(api2, () =>
          w.subscribe<TaskChangedData>(TASK_CHANGED, { projectId: t.projectId }),
        ),
      );
    }
    const before = api2.app.live.hub.subscriberCount;
    // 100 changes in one statement: 100 events for each of 6 subscribers at once.
    const started = performance.now();
    await owner.query(
      `insert into app.tasks (tenant_id, project_id, title)
       select $1, $2, 'LiveBurst ' || i from generate_series(1, 100) i`,
      [t.id, t.projectId],
    );
    await until(() => received[0].results.length >= 100, 'the burst', 20_000);
    const burstMs = performance.now() - started;
    expect(received[0].results.every((r) => r.data?.taskChanged.kind === 'CREATED')).toBe(true);
    // Half the subscribers leave mid-way through a second burst, by dropping the socket.
    await owner.query(
      `update app.tasks set status = 'DONE' where tenant_id = $1 and title like 'LiveBurst %'`,
      [t.id],
    );
    await Promise.all(watchers.slice(0, 3).map((w) => w.close()));
    await until(() => received[3].results.length >= 200, 'the second burst', 20_000);
    await until(
      () => api2.app.live.hub.subscriberCount === before - 3,
      'the closed subscriptions to end',
    );
    await Promise.all(watchers.slice(3).map((w) => w.close()));
    await until(() => api2.app.live.hub.subscriberCount === before - 6, 'all to end');
    await until(async () => (await connectionsInTransaction()) === 0, 'no open transaction');
    // The pool still serves operations.
    const call = await callerFor(api2, t.id, t.users.member);
    const me = await call<{ me: { id: string } }>('{ me { id } }');
    expect(me.data?.me.id).toBe(t.users.member);
    console.info(`burst of 100 events to 6 subscribers delivered in ${Math.round(burstMs)} ms`);
  });

  it('a listener that loses its connection reconnects and delivers again', async () => {
    const watcher = await connect(api1, a.users.owner, { 'x-tenant-id': a.id });
    const received = await subscribed(api1, () =>
      watcher.subscribe<TaskChangedData>(TASK_CHANGED, { projectId: a.projectId }),
    );
    const { listener } = api1.app.live;
    const generation = listener.generation;
    await owner.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = 'tenantql-listener' and datname = current_database()`,
    );
    await until(() => listener.generation > generation, 'the listener to reconnect');
    const call = await callerFor(api2, a.id, a.users.owner);
    await createTask(call, a.projectId, 'LiveA after reconnect');
    await until(() => received.results.length >= 1, 'a change after the reconnect');
    expect(titles(received)).toEqual(['CREATED LiveA after reconnect']);
  });
});
