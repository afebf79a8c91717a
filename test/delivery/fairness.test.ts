import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Email, Mailer } from '../../src/delivery/mailer.js';
import type { DeliveryWorker } from '../../src/delivery/worker.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  deliveriesOf,
  notifyMany,
  startReceiver,
  testDeliveryConfig,
  testWorker,
  waitFor,
  type Receiver,
} from '../support/delivery.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

// Issue 15: one tenant's slow webhook endpoint must not hold back anyone else's deliveries.

let db: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;
const workers: DeliveryWorker[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'SA');
  b = await seedTenant(db.ownerUrl, 'SB');
  // Webhooks only: one outbox row per notification.
  await ownerQuery(
    db.ownerUrl,
    `update app.notification_channels set enabled = false where channel = 'EMAIL'`,
  );
});
beforeEach(async () => {
  await ownerQuery(db.ownerUrl, 'delete from app.notification_deliveries');
  return async () => {
    await Promise.all(workers.splice(0).map((w) => (w.running ? w.stop() : Promise.resolve())));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  };
});
afterAll(async () => {
  await db.drop();
});

function worker(env: Record<string, string>, mailer?: Mailer): DeliveryWorker {
  const created = testWorker(db, testDeliveryConfig(env), mailer);
  workers.push(created);
  return created;
}

interface Arrival {
  id: string;
  at: number;
  /** Requests of this receiver in flight when this one arrived (itself included). */
  concurrent: number;
  answeredAt?: number;
}

/** A receiver that logs each request's arrival and how many were in flight with it. */
async function observedReceiver(answer: () => Promise<number> | number = () => 200) {
  const arrivals: Arrival[] = [];
  let active = 0;
  let maxConcurrent = 0;
  const receiver = await startReceiver(async (id) => {
    active += 1;
    maxConcurrent = Math.max(maxConcurrent, active);
    const arrival: Arrival = { id, at: Date.now(), concurrent: active };
    arrivals.push(arrival);
    try {
      return await answer();
    } finally {
      active -= 1;
      arrival.answeredAt = Date.now();
    }
  });
  receivers.push(receiver);
  return { receiver, arrivals, maxConcurrent: () => maxConcurrent };
}

async function webhookOf(tenant: SeededTenant, url: string): Promise<void> {
  await ownerQuery(
    db.ownerUrl,
    `update app.notification_channels set url = $2, enabled = true
      where tenant_id = $1 and channel = 'WEBHOOK'`,
    [tenant.id, url],
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fair delivery', () => {
  it("a slow endpoint of tenant A does not hold back tenant B's deliveries", async () => {
    // A answers just inside the timeout, every time: the worst a tenant can do without failing.
    const slowA = await observedReceiver(async () => {
      await sleep(800);
      return 200;
    });
    const fastB = await observedReceiver();
    await webhookOf(a, slowA.receiver.url);
    await webhookOf(b, fastB.receiver.url);
    // A's backlog is older than B's rows: a claim in queue order would serve A first.
    await notifyMany(db, a.id, a.users.member, 12);
    await notifyMany(db, b.id, b.users.member, 3);
    const started = Date.now();
    worker({
      WEBHOOK_TIMEOUT_MS: '1000',
      DELIVERY_CONCURRENCY: '6',
      DELIVERY_TENANT_CONCURRENCY: '2',
    }).start();
    await waitFor("B's deliveries", () => fastB.receiver.acknowledged().length === 3);
    const bDone = Math.max(...fastB.receiver.received.map((r) => r.at));
    // All of B's were answered before A's first round (800 ms) came back, and A has most of its
    // backlog still ahead of it.
    const aAnswered = slowA.receiver.received.map((r) => r.at).sort((x, y) => x - y);
    expect(aAnswered.length).toBeLessThanOrEqual(2);
    if (aAnswered[0] !== undefined) expect(bDone).toBeLessThan(aAnswered[0]);
    expect(bDone - started).toBeLessThan(800);
    const rowsOfA = await deliveriesOf(db, a.id);
    expect(rowsOfA.filter((r) => r.status === 'pending').length).toBeGreaterThanOrEqual(10);
    expect((await deliveriesOf(db, b.id)).every((r) => r.status === 'delivered')).toBe(true);
    // A keeps being served, two at a time.
    await waitFor('a few more of A', () => slowA.receiver.received.length >= 4, 5_000);
    expect(slowA.maxConcurrent()).toBe(2);
  });

  it("holds a tenant's in-flight cap across workers", async () => {
    const slowA = await observedReceiver(async () => {
      await sleep(150);
      return 200;
    });
    await webhookOf(a, slowA.receiver.url);
    await notifyMany(db, a.id, a.users.member, 12);
    const env = { DELIVERY_CONCURRENCY: '8', DELIVERY_TENANT_CONCURRENCY: '3' };
    const one = worker(env);
    const two = worker(env);
    one.start();
    two.start();
    await waitFor('every delivery of A', async () =>
      (await deliveriesOf(db, a.id)).every((r) => r.status === 'delivered'),
    );
    expect(slowA.receiver.acknowledged()).toHaveLength(12);
    // Two workers with eight slots each, yet never more than three of A's at A's receiver.
    expect(slowA.maxConcurrent()).toBe(3);
    expect(one.stats.delivered + two.stats.delivered).toBe(12);
  });

  it('keeps a slot for account emails while tenants fill the rest', async () => {
    const slowA = await observedReceiver(async () => {
      await sleep(600);
      return 200;
    });
    const slowB = await observedReceiver(async () => {
      await sleep(600);
      return 200;
    });
    await webhookOf(a, slowA.receiver.url);
    await webhookOf(b, slowB.receiver.url);
    await notifyMany(db, a.id, a.users.member, 6);
    await notifyMany(db, b.id, b.users.member, 6);
    const sent: { email: Email; at: number }[] = [];
    const mailer: Mailer = {
      send(email) {
        sent.push({ email, at: Date.now() });
        return Promise.resolve();
      },
      close() {},
    };
    const running = worker(
      { DELIVERY_CONCURRENCY: '5', DELIVERY_TENANT_CONCURRENCY: '2', WEBHOOK_TIMEOUT_MS: '1000' },
      mailer,
    );
    running.start();
    // Four slots (all that tenants may use) busy with A and B.
    await waitFor('both tenants in flight', () => running.inFlight === 4);
    const queued = Date.now();
    await ownerQuery(
      db.ownerUrl,
      `insert into app.account_emails (kind, recipient, subject, body)
       values ('PASSWORD_RESET', 'someone@example.test', 'Reset', 'a link')`,
    );
    await waitFor('the reset email', () => sent.length === 1);
    // Sent on the NOTIFY, not after a slow round of A's and B's webhooks.
    expect((sent[0]?.at ?? 0) - queued).toBeLessThan(500);
    expect(sent[0]?.email.to).toBe('someone@example.test');
  });

  it('opens an endpoint circuit after repeated timeouts, and half-opens it after the cool-down', async () => {
    let hang = true;
    const flaky = await observedReceiver(async () => {
      if (hang) await sleep(1_000);
      return 200;
    });
    await webhookOf(a, flaky.receiver.url);
    await notifyMany(db, a.id, a.users.member, 6);
    // Long enough that the open circuit is still open after the test noticed it and slept, even
    // when a loaded machine (CI) makes noticing it slow.
    const cooldownMs = 3_000;
    worker({
      WEBHOOK_TIMEOUT_MS: '300',
      WEBHOOK_BREAKER_THRESHOLD: '3',
      WEBHOOK_BREAKER_COOLDOWN_MS: String(cooldownMs),
      DELIVERY_MAX_ATTEMPTS: '8',
      DELIVERY_TENANT_CONCURRENCY: '2',
    }).start();
    const circuitOpen = /^endpoint circuit open after \d+ consecutive failures$/;
    await waitFor('the open circuit in the delivery log', async () =>
      (await deliveriesOf(db, a.id)).some((r) => circuitOpen.test(r.last_error ?? '')),
    );
    const whenOpen = flaky.arrivals.length;
    expect(whenOpen).toBeGreaterThanOrEqual(3);
    const [open] = (await deliveriesOf(db, a.id)).filter((r) =>
      circuitOpen.test(r.last_error ?? ''),
    );
    expect(open).toMatchObject({ status: 'pending', last_http_status: null });
    expect(Number(/after (\d+)/.exec(open?.last_error ?? '')?.[1])).toBeGreaterThanOrEqual(3);
    // The others' failures read as timeouts, nothing more.
    const timedOut = (await deliveriesOf(db, a.id)).filter((r) => r.last_error === 'timeout');
    expect(timedOut.length).toBeGreaterThan(0);

    // While it is open, nothing reaches the endpoint (deliveries are rescheduled instead).
    await sleep(800);
    expect(flaky.arrivals.length).toBe(whenOpen);
    hang = false;
    await waitFor(
      'every delivery, after the cool-down',
      async () => (await deliveriesOf(db, a.id)).every((r) => r.status === 'delivered'),
      15_000,
    );
    const [lastBefore, trial, ...after] = flaky.arrivals.slice(whenOpen - 1);
    if (!lastBefore || !trial) throw new Error('no trial request');
    expect(trial.at - lastBefore.at).toBeGreaterThanOrEqual(cooldownMs - 50);
    // Half-open: the trial went alone; the rest followed once it had answered.
    expect(trial.concurrent).toBe(1);
    for (const later of after) expect(later.at).toBeGreaterThanOrEqual(trial.answeredAt ?? 0);
    // (The receiver answered the timed-out requests too, after the worker had hung up.)
    expect(new Set(flaky.receiver.acknowledged()).size).toBe(6);
  });

  it('records "destination not allowed" for a refused destination, and no address', async () => {
    const hooks = await observedReceiver();
    for (const [tenant, url] of [
      [a, hooks.receiver.url.replace('127.0.0.1', 'localhost')],
      [b, hooks.receiver.url],
    ] as const) {
      await webhookOf(tenant, url);
      await notifyMany(db, tenant.id, tenant.users.member, 1);
    }
    worker({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'false', DELIVERY_MAX_ATTEMPTS: '1' }).start();
    const rows = async () => [...(await deliveriesOf(db, a.id)), ...(await deliveriesOf(db, b.id))];
    await waitFor('both dead letters', async () =>
      (await rows()).every((r) => r.status === 'dead'),
    );
    for (const row of await rows()) {
      expect(row).toMatchObject({
        status: 'dead',
        last_error: 'destination not allowed',
        last_http_status: null,
      });
    }
    expect(hooks.arrivals).toHaveLength(0);
  });

  it('reads its settings, with defaults, and refuses nonsense', () => {
    expect(loadConfig({}).delivery).toMatchObject({
      concurrency: 16,
      tenantConcurrency: 4,
      breakerThreshold: 5,
      breakerCooldownMs: 60_000,
    });
    expect(() => loadConfig({ DELIVERY_CONCURRENCY: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ DELIVERY_TENANT_CONCURRENCY: '0' })).toThrow(
      /DELIVERY_CONCURRENCY and DELIVERY_TENANT_CONCURRENCY must be at least 1/,
    );
    expect(() => loadConfig({ WEBHOOK_BREAKER_THRESHOLD: 'many' })).toThrow(
      /WEBHOOK_BREAKER_THRESHOLD must be a non-negative integer/,
    );
    expect(() => loadConfig({ WEBHOOK_BREAKER_COOLDOWN_MS: '0' })).toThrow(
      /WEBHOOK_BREAKER_COOLDOWN_MS must be at least 1/,
    );
    // A threshold of 0 turns the breaker off; its cool-down does not matter then.
    expect(
      loadConfig({ WEBHOOK_BREAKER_THRESHOLD: '0', WEBHOOK_BREAKER_COOLDOWN_MS: '0' }).delivery
        .breakerThreshold,
    ).toBe(0);
  });
});
