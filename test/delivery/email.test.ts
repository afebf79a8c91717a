import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryWorker } from '../../src/delivery/worker.js';
import type { MembershipRoleValue } from '../../src/db/schema.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callersOf, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deliveriesOf, testDeliveryConfig, testWorker, waitFor } from '../support/delivery.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { startSmtpInbox, type SmtpInbox } from '../support/smtp.js';

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let as: Record<MembershipRoleValue, Call>;
let smtp: SmtpInbox;

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'M');
  await ownerQuery(db.ownerUrl, 'delete from app.notification_deliveries where tenant_id = $1', [
    a.id,
  ]);
  smtp = await startSmtpInbox();
  api = await startTestApp(db, { SMTP_URL: smtp.url });
  as = await callersOf(api, a);
});
afterAll(async () => {
  await api.close();
  await smtp.close();
  await db.drop();
});

describe('email notifications', () => {
  it('sends each recipient an email through SMTP_URL, with a stable Message-ID', async () => {
    const settings = await as.owner<{
      updateNotificationSettings: {
        settings: { email: { enabled: boolean; smtpConfigured: boolean } };
      };
    }>(`mutation { updateNotificationSettings(input: {
      webhook: {enabled: false}, email: {enabled: true, kinds: [TASK_ASSIGNED]}
    }) { settings { email { enabled smtpConfigured } } } }`);
    expect(settings.data?.updateNotificationSettings.settings.email).toEqual({
      enabled: true,
      smtpConfigured: true,
    });
    await as.admin(
      `mutation ($p: ID!, $u: ID!) {
        createTask(input: {projectId: $p, title: "Mail me", assigneeId: $u}) { id }
      }`,
      { p: a.projectId, u: a.users.viewer },
    );
    // Not a kind the email channel sends: nothing queued for it.
    await as.admin(`mutation ($t: ID!) { addComment(input: {taskId: $t, body: "hi"}) { id } }`, {
      t: a.taskId,
    });
    const rows = await deliveriesOf(db, a.id);
    expect(rows.map((r) => r.channel)).toEqual(['EMAIL']);

    const config = testDeliveryConfig({
      SMTP_URL: smtp.url,
      SMTP_FROM: 'tenantql <n@tenantql.test>',
    });
    const worker: DeliveryWorker = testWorker(db, config);
    worker.start();
    try {
      await waitFor('the email', async () =>
        (await deliveriesOf(db, a.id)).every((r) => r.status === 'delivered'),
      );
    } finally {
      await worker.stop();
    }
    const [viewer] = await ownerQuery<{ email: string }>(
      db.ownerUrl,
      'select email from app.users where id = $1',
      [a.users.viewer],
    );
    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail?.to).toEqual([viewer?.email]);
    expect(mail?.from).toBe('n@tenantql.test');
    // The subject is the in-app sentence (MIME-encoded, it has quotes); so is the body.
    expect(mail?.data).toMatch(/^Subject: .*You.were.assigned.*Mail.me/m);
    expect(mail?.data).toContain('You were assigned "Mail me".');
    expect(mail?.data).toContain(`Message-ID: <${rows[0]?.id}@tenantql>`);
  });
});
