import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deliveriesOf, notifyMany, startReceiver, waitFor } from '../support/delivery.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { spawnServer } from '../support/server-process.js';

let db: TestDatabase;
let dataDir: string;
let a: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-worker-start-'));
  a = await seedTenant(db.ownerUrl, 'S');
  await ownerQuery(db.ownerUrl, 'delete from app.notification_deliveries where tenant_id = $1', [
    a.id,
  ]);
});
afterAll(async () => {
  await db.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** `npm start` as a real process against the test database, until `until` shows in its log. */
async function start(env: Record<string, string>, until: string, entry?: string) {
  const server = await spawnServer(db, dataDir, env, entry);
  await waitFor(`"${until}" in the log`, () => server.output().includes(until), 30_000);
  return server;
}

describe('npm start', () => {
  it('runs the delivery worker in the API process and stops it on SIGTERM', async () => {
    const hooks = await startReceiver();
    try {
      await ownerQuery(
        db.ownerUrl,
        `update app.notification_channels set url = $2 where tenant_id = $1 and channel = 'WEBHOOK'`,
        [a.id, hooks.url],
      );
      const server = await start(
        {
          WORKER_DATABASE_URL: db.workerUrl,
          WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
          DELIVERY_POLL_INTERVAL_MS: '100',
        },
        'tenantql is serving',
      );
      await notifyMany(db, a.id, a.users.member, 2);
      await waitFor('both channels', async () =>
        (await deliveriesOf(db, a.id)).every((r) => r.status === 'delivered'),
      );
      expect(hooks.acknowledged()).toHaveLength(2);
      // No SMTP_URL: the emails went to the log.
      expect(server.output()).toContain('SMTP_URL is not set');
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('delivery worker stopped');
    } finally {
      await hooks.close();
    }
  });

  it('does not start the worker without a worker connection, and says so', async () => {
    const server = await start({}, 'tenantql is serving');
    expect(server.output()).toContain('WORKER_DATABASE_URL is not set');
    expect(server.output()).not.toContain('delivery worker started');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('runs on its own too (npm run worker)', async () => {
    const hooks = await startReceiver();
    try {
      await ownerQuery(
        db.ownerUrl,
        `update app.notification_channels set url = $2 where tenant_id = $1 and channel = 'WEBHOOK'`,
        [a.id, hooks.url],
      );
      const worker = await start(
        {
          WORKER_DATABASE_URL: db.workerUrl,
          WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
          DELIVERY_POLL_INTERVAL_MS: '100',
        },
        'delivery worker started',
        'src/delivery/main.ts',
      );
      await notifyMany(db, a.id, a.users.member, 1);
      await waitFor('the webhook', () => hooks.acknowledged().length === 1);
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.output()).toContain('delivery worker stopped');
    } finally {
      await hooks.close();
    }
  });
});
