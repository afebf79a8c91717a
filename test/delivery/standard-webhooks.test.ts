import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryWorker } from '../../src/delivery/worker.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callersOf, errorCode, ownerQuery, type Call } from '../support/callers.js';
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

let db: TestDatabase;
let api: TestApp;
let tenant: SeededTenant;
let as: Awaited<ReturnType<typeof callersOf>>;
let receiver: Receiver;
let status = 200;

beforeAll(async () => {
  db = await createTestDatabase();
  tenant = await seedTenant(db.ownerUrl, 'std');
  // The fixture's channels point nowhere; these tests configure the webhook through the API.
  await ownerQuery(db.ownerUrl, 'delete from app.notification_channels where tenant_id = $1', [
    tenant.id,
  ]);
  await ownerQuery(db.ownerUrl, 'delete from app.notification_deliveries where tenant_id = $1', [
    tenant.id,
  ]);
  receiver = await startReceiver(() => status);
  api = await startTestApp(db, { WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
  as = await callersOf(api, tenant);
});
afterAll(async () => {
  await api.close();
  await receiver.close();
  await db.drop();
});

/** Points the webhook at the receiver; the secret is returned only when this creates it. */
async function configureWebhook(call: Call): Promise<string | null> {
  const result = await call<{ updateNotificationSettings: { webhookSecret: string | null } }>(
    `mutation ($url: String!) { updateNotificationSettings(input: {
       webhook: { enabled: true, url: $url, kinds: [MEMBER_ADDED] }, email: { enabled: false }
     }) { webhookSecret } }`,
    { url: receiver.url },
  );
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data?.updateNotificationSettings.webhookSecret ?? null;
}

async function rotate(call: Call, overlapSeconds?: number): Promise<string> {
  const result = await call<{ rotateWebhookSecret: { webhookSecret: string } }>(
    `mutation ($o: Int) { rotateWebhookSecret(overlapSeconds: $o) { webhookSecret
       settings { webhook { previousSecretExpiresAt } } } }`,
    { o: overlapSeconds ?? null },
  );
  const secret = result.data?.rotateWebhookSecret.webhookSecret;
  if (!secret) throw new Error(`no secret: ${JSON.stringify(result.errors)}`);
  return secret;
}

/** Queues one notification, delivers it with a worker, and returns what the receiver got. */
async function deliverOne(worker: DeliveryWorker) {
  const before = receiver.received.length;
  await notifyMany(db, tenant.id, tenant.users.member, 1);
  await waitFor('the webhook', () => receiver.received.length > before);
  await worker.idle();
  return receiver.received[receiver.received.length - 1];
}

function verifies(secret: string, received: Receiver['received'][number]): boolean {
  const headers = Object.fromEntries(
    Object.entries(received.headers).map(([k, v]) => [k, String(v)]),
  );
  try {
    new Webhook(secret).verify(received.body, headers);
    return true;
  } catch {
    return false;
  }
}

describe('Standard Webhooks', () => {
  it('receivers verify deliveries with the standardwebhooks library, across a rotation', async () => {
    const worker = testWorker(db, testDeliveryConfig({ RETENTION_INTERVAL_MS: '0' }));
    worker.start();
    try {
      const first = (await configureWebhook(as.owner)) ?? '';
      expect(first).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      const plain = await deliverOne(worker);
      expect(plain.headers['webhook-id']).toBe(plain.id);
      expect(verifies(first, plain)).toBe(true);
      expect(verifies(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, plain)).toBe(false);

      // During the overlap both secrets verify: receivers switch whenever they like.
      const second = await rotate(as.admin, 3600);
      const during = await deliverOne(worker);
      expect(verifies(first, during)).toBe(true);
      expect(verifies(second, during)).toBe(true);

      // Without an overlap the replaced secret stops signing at once.
      const third = await rotate(as.owner, 0);
      const after = await deliverOne(worker);
      expect(verifies(third, after)).toBe(true);
      expect(verifies(second, after)).toBe(false);
    } finally {
      await worker.stop();
    }
  });

  it('rotation overlap is bounded, and only owners and admins rotate', async () => {
    const tooLong = await as.owner(`mutation { rotateWebhookSecret(overlapSeconds: 9999999) {
      webhookSecret } }`);
    expect(errorCode(tooLong)).toBe('BAD_USER_INPUT');
    const member = await as.member(`mutation { rotateWebhookSecret { webhookSecret } }`);
    expect(errorCode(member)).toBe('FORBIDDEN');
  });
});

describe('redeliverNotification', () => {
  it('sends a dead delivery again, once its endpoint is fixed', async () => {
    await configureWebhook(as.owner);
    const config = testDeliveryConfig({ DELIVERY_MAX_ATTEMPTS: '1', RETENTION_INTERVAL_MS: '0' });
    const worker = testWorker(db, config);
    worker.start();
    try {
      status = 503;
      const before = (await deliveriesOf(db, tenant.id)).length;
      await notifyMany(db, tenant.id, tenant.users.member, 1);
      await waitFor('the delivery to die', async () => {
        const rows = await deliveriesOf(db, tenant.id);
        return rows.length > before && rows[rows.length - 1]?.status === 'dead';
      });
      const dead = (await deliveriesOf(db, tenant.id)).at(-1);
      status = 200;

      const viewer = await as.viewer(`mutation ($id: ID!) { redeliverNotification(id: $id) }`, {
        id: dead?.id,
      });
      expect(errorCode(viewer)).toBe('FORBIDDEN');
      const again = await as.admin(`mutation ($id: ID!) { redeliverNotification(id: $id) }`, {
        id: dead?.id,
      });
      expect(again.data).toEqual({ redeliverNotification: true });
      await waitFor('the redelivery', async () =>
        (await deliveriesOf(db, tenant.id)).some(
          (r) => r.id === dead?.id && r.status === 'delivered',
        ),
      );
      // Delivered now: nothing more to send again.
      const twice = await as.admin(`mutation ($id: ID!) { redeliverNotification(id: $id) }`, {
        id: dead?.id,
      });
      expect(errorCode(twice)).toBe('NOT_FOUND');
    } finally {
      status = 200;
      await worker.stop();
    }
  });

  it('another tenant’s delivery is not found', async () => {
    const other = await seedTenant(db.ownerUrl, 'std-other');
    await notifyMany(db, other.id, other.users.member, 1);
    const [row] = await deliveriesOf(db, other.id);
    await ownerQuery(
      db.ownerUrl,
      `update app.notification_deliveries set status = 'dead'
       where tenant_id = $1`,
      [other.id],
    );
    const result = await as.owner(`mutation ($id: ID!) { redeliverNotification(id: $id) }`, {
      id: row?.id,
    });
    expect(errorCode(result)).toBe('NOT_FOUND');
    const [still] = await deliveriesOf(db, other.id);
    expect(still?.status).toBe('dead');
  });
});

describe('retention', () => {
  it('deletes what is past its age, and keeps the rest', async () => {
    const other = await seedTenant(db.ownerUrl, 'retention');
    await notifyMany(db, other.id, other.users.member, 4);
    const rows = await deliveriesOf(db, other.id);
    // Two finished long ago, one pending long ago (still owed), the rest recent.
    await ownerQuery(
      db.ownerUrl,
      `update app.notification_deliveries set created_at = now() - interval '40 days',
              status = case when id = any($2::uuid[]) then 'delivered' else 'pending' end
        where tenant_id = $1 and id = any($3::uuid[])`,
      [other.id, rows.slice(0, 2).map((r) => r.id), rows.slice(0, 3).map((r) => r.id)],
    );
    await ownerQuery(
      db.ownerUrl,
      `update app.notifications set created_at = now() - interval '200 days'
        where tenant_id = $1 and id in (select id from app.notifications
                                         where tenant_id = $1 order by created_at limit 1)`,
      [other.id],
    );
    await ownerQuery(
      db.ownerUrl,
      `update app.activity set created_at = now() - interval '400 days' where tenant_id = $1`,
      [other.id],
    );
    const worker = testWorker(db, testDeliveryConfig());
    const deleted = await worker.purgeExpired().finally(() => worker.stop());
    expect(deleted.notification_deliveries).toBeGreaterThanOrEqual(2);
    expect(deleted.notifications).toBeGreaterThanOrEqual(1);
    expect(deleted.activity).toBeGreaterThanOrEqual(1);
    const left = await deliveriesOf(db, other.id);
    expect(left.map((r) => r.id).sort()).toEqual(
      rows
        .slice(2)
        .map((r) => r.id)
        .sort(),
    );
    const [activity] = await ownerQuery<{ n: number }>(
      db.ownerUrl,
      'select count(*)::int as n from app.activity where tenant_id = $1',
      [other.id],
    );
    expect(activity?.n).toBe(0);
  });
});
