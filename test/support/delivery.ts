import http from 'node:http';
import { loadConfig, type DeliveryConfig } from '../../src/config.js';
import { createMailer, type Mailer } from '../../src/delivery/mailer.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { createLogger } from '../../src/logger.js';
import { ownerQuery } from './callers.js';
import type { TestDatabase } from './database.js';
import { freePort } from './ports.js';

/** One request a test receiver got, and the status it answered. */
export interface Received {
  id: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Ids answered with a 2xx, in order. */
  acknowledged(): string[];
  close(): Promise<void>;
}

/**
 * A webhook receiver on a free loopback port. `respond` picks the status of each request (by the
 * idempotency key and how many times that key was seen before); it may delay to keep sends in flight.
 */
export async function startReceiver(
  respond: (id: string, seenBefore: number) => number | Promise<number> = () => 200,
): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = String(req.headers['idempotency-key'] ?? '');
      const seenBefore = received.filter((r) => r.id === id).length;
      void Promise.resolve(respond(id, seenBefore)).then((status) => {
        received.push({
          id,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          status,
          at: Date.now(),
        });
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'receiver failed');
      });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/hooks/tenantql`,
    received,
    acknowledged: () => received.filter((r) => r.status < 300).map((r) => r.id),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Delivery settings for tests: fast polling and backoff, loopback receivers allowed. */
export function testDeliveryConfig(env: Record<string, string> = {}): DeliveryConfig {
  return loadConfig({
    DELIVERY_POLL_INTERVAL_MS: '50',
    DELIVERY_BACKOFF_BASE_MS: '100',
    DELIVERY_BACKOFF_MAX_MS: '400',
    DELIVERY_MAX_ATTEMPTS: '3',
    DELIVERY_LEASE_SECONDS: '10',
    WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
    ...env,
  }).delivery;
}

/** A worker on the test database's tenantql_worker connection (not started). */
export function testWorker(
  db: TestDatabase,
  config: DeliveryConfig = testDeliveryConfig(),
  mailer?: Mailer,
): DeliveryWorker {
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  return new DeliveryWorker({
    connectionString: db.workerUrl,
    config,
    log,
    mailer: mailer ?? createMailer(config, log),
  });
}

export { waitFor } from './wait.js';

export interface DeliveryState {
  id: string;
  tenant_id: string;
  channel: string;
  status: string;
  attempts: number;
  last_http_status: number | null;
  last_error: string | null;
}

/** The outbox rows of a tenant, as stored (read as the migrator, past RLS). */
export function deliveriesOf(db: TestDatabase, tenantId: string): Promise<DeliveryState[]> {
  return ownerQuery<DeliveryState>(
    db.ownerUrl,
    `select id, tenant_id, channel, status, attempts, last_http_status, last_error
       from app.notification_deliveries where tenant_id = $1 order by created_at, id`,
    [tenantId],
  );
}

/**
 * Writes `count` notifications to the tenant's member as the migrator, which fires the same enqueue
 * trigger as the API does; returns nothing (read the outbox with deliveriesOf).
 */
export async function notifyMany(
  db: TestDatabase,
  tenantId: string,
  recipientId: string,
  count: number,
): Promise<void> {
  await ownerQuery(
    db.ownerUrl,
    `insert into app.notifications (tenant_id, recipient_id, kind, payload)
     select $1, $2, 'MEMBER_ADDED', jsonb_build_object('role', 'member', 'n', n)
       from generate_series(1, $3::int) as n`,
    [tenantId, recipientId, count],
  );
}
