import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue } from '../../src/db/schema.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callersOf, errorCode, errorField, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let fresh: SeededTenant;
let as: Record<MembershipRoleValue, Call>;
let asB: Record<MembershipRoleValue, Call>;
let asFresh: Record<MembershipRoleValue, Call>;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b, fresh] = await Promise.all([
    seedTenant(db.ownerUrl, 'A'),
    seedTenant(db.ownerUrl, 'B'),
    seedTenant(db.ownerUrl, 'F'),
  ]);
  // A tenant that never configured a channel.
  await ownerQuery(db.ownerUrl, 'delete from app.notification_channels where tenant_id = $1', [
    fresh.id,
  ]);
  api = await startTestApp(db);
  [as, asB, asFresh] = await Promise.all([
    callersOf(api, a),
    callersOf(api, b),
    callersOf(api, fresh),
  ]);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

const SETTINGS = `{ notificationSettings {
  inApp webhook { enabled url kinds secretSet } email { enabled kinds smtpConfigured } } }`;
const UPDATE = `mutation ($input: UpdateNotificationSettingsInput!) {
  updateNotificationSettings(input: $input) {
    webhookSecret settings { webhook { enabled url kinds secretSet } email { enabled kinds } }
  }
}`;
const ROTATE =
  'mutation { rotateWebhookSecret { webhookSecret settings { webhook { secretSet } } } }';
const DELIVERIES = `{ notificationDeliveries(first: 100) { totalCount edges { node { id status } } } }`;

interface UpdateResult {
  updateNotificationSettings: {
    webhookSecret: string | null;
    settings: {
      webhook: { enabled: boolean; url: string | null; kinds: string[]; secretSet: boolean };
    };
  };
}

const outboxCount = async (tenantId: string) =>
  (
    await ownerQuery<{ n: number }>(
      db.ownerUrl,
      'select count(*)::int as n from app.notification_deliveries where tenant_id = $1',
      [tenantId],
    )
  )[0]?.n;

describe('notification channel settings', () => {
  it('shows owners and admins the channels, with in-app always on', async () => {
    for (const call of [as.owner, as.admin]) {
      const result = await call(SETTINGS);
      expect(result.data?.notificationSettings).toEqual({
        inApp: true,
        webhook: {
          enabled: true,
          url: 'http://127.0.0.1:9/fixture',
          kinds: ['TASK_ASSIGNED', 'TASK_COMMENTED', 'PROJECT_STATUS_CHANGED', 'MEMBER_ADDED'],
          secretSet: true,
        },
        email: {
          enabled: true,
          kinds: ['TASK_ASSIGNED', 'TASK_COMMENTED', 'PROJECT_STATUS_CHANGED', 'MEMBER_ADDED'],
          smtpConfigured: false,
        },
      });
    }
  });

  it('refuses members and viewers everything (FORBIDDEN)', async () => {
    for (const call of [as.member, as.viewer]) {
      expect(errorCode(await call(SETTINGS))).toBe('FORBIDDEN');
      expect(errorCode(await call(ROTATE))).toBe('FORBIDDEN');
      expect(errorCode(await call(DELIVERIES))).toBe('FORBIDDEN');
      expect(errorCode(await call(UPDATE, { input: { email: { enabled: false } } }))).toBe(
        'FORBIDDEN',
      );
    }
    // And the database agrees, whatever SQL a member's connection runs.
    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      const member = { tenantId: a.id, userId: a.users.member, role: 'member' };
      const counts = await asContext(client, member, async () => [
        (await client.query('select id from app.notification_channels')).rowCount,
        (await client.query('select id from app.notification_deliveries')).rowCount,
      ]);
      expect(counts).toEqual([0, 0]);
    } finally {
      await client.end();
    }
  });

  it('creates the signing secret on first configuration and shows it only then', async () => {
    const none = await asFresh.owner(SETTINGS);
    expect(none.data?.notificationSettings).toMatchObject({
      webhook: { enabled: false, url: null, secretSet: false },
      email: { enabled: false },
    });
    const first = await asFresh.owner<UpdateResult>(UPDATE, {
      input: {
        webhook: {
          enabled: true,
          url: 'https://hooks.example.com/tenantql',
          kinds: ['TASK_ASSIGNED'],
        },
      },
    });
    expect(first.errors).toBeUndefined();
    const secret = first.data?.updateNotificationSettings.webhookSecret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(first.data?.updateNotificationSettings.settings.webhook).toEqual({
      enabled: true,
      url: 'https://hooks.example.com/tenantql',
      kinds: ['TASK_ASSIGNED'],
      secretSet: true,
    });
    const again = await asFresh.admin<UpdateResult>(UPDATE, {
      input: { webhook: { kinds: ['TASK_ASSIGNED', 'TASK_ASSIGNED', 'MEMBER_ADDED'] } },
    });
    expect(again.data?.updateNotificationSettings.webhookSecret).toBeNull();
    expect(again.data?.updateNotificationSettings.settings.webhook.kinds).toEqual([
      'TASK_ASSIGNED',
      'MEMBER_ADDED',
    ]);

    const rotated = await asFresh.admin<{ rotateWebhookSecret: { webhookSecret: string } }>(ROTATE);
    const next = rotated.data?.rotateWebhookSecret.webhookSecret;
    expect(next).toMatch(/^whsec_/);
    expect(next).not.toBe(secret);
    const [stored] = await ownerQuery<{ secret: string }>(
      db.ownerUrl,
      `select secret from app.notification_channels where tenant_id = $1 and channel = 'WEBHOOK'`,
      [fresh.id],
    );
    expect(stored?.secret).toBe(next);

    // The API role cannot read it back, even for its own tenant as its owner.
    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      const owner = { tenantId: fresh.id, userId: fresh.users.owner, role: 'owner' };
      expect(
        await asContext(client, owner, () =>
          sqlState(client.query('select secret from app.notification_channels')),
        ),
      ).toBe('42501');
    } finally {
      await client.end();
    }
  });

  it('validates input, naming the field (BAD_USER_INPUT)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ webhook: { url: 'ftp://example.com/x' } }, 'webhook.url'],
      [{ webhook: { url: 'not a url' } }, 'webhook.url'],
      [{ webhook: { url: 'https://user:pw@example.com/x' } }, 'webhook.url'],
      [{ webhook: { url: `https://example.com/${'x'.repeat(2100)}` } }, 'webhook.url'],
      [{ webhook: { url: 'https://example.com/a\u0000b' } }, 'webhook.url'],
      // Private and loopback addresses: the server would be made to call its own network.
      [{ webhook: { url: 'http://127.0.0.1:8080/x' } }, 'webhook.url'],
      [{ webhook: { url: 'http://localhost/x' } }, 'webhook.url'],
      [{ webhook: { url: 'http://[::1]/x' } }, 'webhook.url'],
      [{ webhook: { url: 'http://169.254.169.254/latest/meta-data' } }, 'webhook.url'],
      [{ webhook: { url: 'http://10.1.2.3/x' } }, 'webhook.url'],
      [{ webhook: { enabled: true, url: null } }, 'webhook.url'],
      [{ webhook: { kinds: [] } }, 'webhook.kinds'],
      [{ webhook: { enabled: null } }, 'webhook.enabled'],
      [{ email: { kinds: [] } }, 'email.kinds'],
      [{ webhook: null }, 'webhook'],
    ];
    for (const [input, field] of cases) {
      const result = await asB.owner(UPDATE, { input });
      expect(errorCode(result), JSON.stringify(input)).toBe('BAD_USER_INPUT');
      expect(errorField(result), JSON.stringify(input)).toBe(field);
      expect(result.errors?.[0]?.message).toContain(field);
    }
    const accepted = await asB.owner<UpdateResult>(UPDATE, {
      input: { webhook: { url: 'http://hooks.example.org:8080/b' }, email: { enabled: false } },
    });
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data?.updateNotificationSettings.settings.webhook.url).toBe(
      'http://hooks.example.org:8080/b',
    );
  });

  it('queues deliveries with the change, and none when the change is rolled back', async () => {
    const before = await outboxCount(a.id);
    const rolledBack = await as.admin(
      `mutation ($p: ID!, $u: ID!) {
        ok: createTask(input: {projectId: $p, title: "Rolled back", assigneeId: $u}) { id }
        bad: createProject(input: {name: "X", key: "lower"}) { id }
      }`,
      { p: a.projectId, u: a.users.member },
    );
    expect(rolledBack.data).toBeNull();
    expect(await outboxCount(a.id)).toBe(before);

    const committed = await as.admin(
      `mutation ($p: ID!, $u: ID!) {
        createTask(input: {projectId: $p, title: "Kept", assigneeId: $u}) { id }
      }`,
      { p: a.projectId, u: a.users.member },
    );
    expect(committed.errors).toBeUndefined();
    // One notification (to the assignee), two channels (webhook and email).
    expect(await outboxCount(a.id)).toBe((before ?? 0) + 2);
    const kinds = await ownerQuery<{ channel: string; kind: string; status: string }>(
      db.ownerUrl,
      `select channel, kind, status from app.notification_deliveries
        where tenant_id = $1 order by created_at desc, channel limit 2`,
      [a.id],
    );
    expect(kinds).toEqual([
      { channel: 'EMAIL', kind: 'TASK_ASSIGNED', status: 'pending' },
      { channel: 'WEBHOOK', kind: 'TASK_ASSIGNED', status: 'pending' },
    ]);
  });

  it("never shows one tenant another's settings or deliveries", async () => {
    const ofA = await as.owner<{
      notificationDeliveries: { totalCount: number; edges: { node: { id: string } }[] };
    }>(DELIVERIES);
    const stored = await ownerQuery<{ id: string; tenant_id: string }>(
      db.ownerUrl,
      'select id, tenant_id from app.notification_deliveries',
    );
    const idsOf = (tenantId: string) =>
      new Set(stored.filter((r) => r.tenant_id === tenantId).map((r) => r.id));
    expect(idsOf(b.id).size).toBeGreaterThan(0);
    const seen = new Set(ofA.data?.notificationDeliveries.edges.map((e) => e.node.id));
    expect(seen).toEqual(idsOf(a.id));
    expect(ofA.data?.notificationDeliveries.totalCount).toBe(idsOf(a.id).size);

    const settingsB = await asB.owner<{ notificationSettings: { webhook: { url: string } } }>(
      SETTINGS,
    );
    expect(settingsB.data?.notificationSettings.webhook.url).toBe(
      'http://hooks.example.org:8080/b',
    );
    const settingsA = await as.owner<{ notificationSettings: { webhook: { url: string } } }>(
      SETTINGS,
    );
    expect(settingsA.data?.notificationSettings.webhook.url).toBe('http://127.0.0.1:9/fixture');

    // An owner of B naming tenant A gets nothing of A's.
    const forged = await api.request(DELIVERIES, undefined, {
      token: await api.app.deps.tokens.signAccess(b.users.owner, undefined),
      headers: { 'x-tenant-id': a.id },
    });
    expect(errorCode(forged)).toBe('FORBIDDEN');
  });

  it('filters and pages the delivery log', async () => {
    const first = await as.owner<{
      notificationDeliveries: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string };
        edges: { node: { id: string; channel: string } }[];
      };
    }>(`{ notificationDeliveries(first: 1, channel: WEBHOOK, status: PENDING) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id channel } } } }`);
    const page = first.data?.notificationDeliveries;
    expect(page?.edges.map((e) => e.node.channel)).toEqual(['WEBHOOK']);
    expect(page?.totalCount).toBeGreaterThan(1);
    expect(page?.pageInfo.hasNextPage).toBe(true);
    const next = await as.owner<{
      notificationDeliveries: { edges: { node: { id: string } }[] };
    }>(
      `query ($after: String) { notificationDeliveries(first: 1, after: $after, channel: WEBHOOK) {
        edges { node { id } } } }`,
      { after: page?.pageInfo.endCursor },
    );
    expect(next.data?.notificationDeliveries.edges[0]?.node.id).not.toBe(page?.edges[0]?.node.id);
    const bad = await as.owner(`{ notificationDeliveries(after: "nope") { totalCount } }`);
    expect(errorField(bad)).toBe('after');
  });
});
