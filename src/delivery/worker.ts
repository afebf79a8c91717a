// The in-app sentence comes from the notification module, whose types are declared with
// type-graphql decorators: those need the metadata polyfill loaded first, even here.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Config, DeliveryConfig } from '../config.js';
import { ChannelListener } from '../db/listener.js';
import { createKysely, createPool } from '../db/pool.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { notificationMessage } from '../modules/notification/notification.service.js';
import type { NotificationKind } from '../modules/notification/notification.type.js';
import {
  claimAccountEmails,
  claimDeliveries,
  recordAccountEmail,
  recordAttempt,
  type AttemptOutcome,
  type ClaimedAccountEmail,
  type ClaimedDelivery,
} from './delivery.repository.js';
import { createMailer, type Mailer } from './mailer.js';
import { sendWebhook, type AttemptResult } from './webhook.js';

/** The channel the enqueue trigger notifies (at commit) when it queues deliveries. */
export const WAKE_CHANNEL = 'tenantql_deliveries';

export interface DeliveryWorkerOptions {
  /** A tenantql_worker connection: never the API or the bypass role. */
  connectionString: string;
  config: DeliveryConfig;
  log: Logger;
  mailer: Mailer;
}

export interface DeliveryStats {
  claimed: number;
  delivered: number;
  retried: number;
  dead: number;
  /** Results not recorded because the lease had passed to another worker. */
  leaseLost: number;
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so receivers
 * that failed together are not retried together. `attempt` is the attempt that just failed.
 */
export function backoffMs(attempt: number, config: DeliveryConfig, random = Math.random): number {
  const delay = Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** (attempt - 1));
  return delay / 2 + random() * (delay / 2);
}

/**
 * Delivers queued notifications after their transaction committed. Polls every
 * DELIVERY_POLL_INTERVAL_MS and wakes early on LISTEN; claims rows with a lease (so workers in
 * several processes never send one row at the same time), sends, and records each result before
 * the next claim. stop() lets the sends in flight finish and record.
 */
export class DeliveryWorker {
  readonly id = randomUUID();
  readonly stats: DeliveryStats = { claimed: 0, delivered: 0, retried: 0, dead: 0, leaseLost: 0 };
  readonly #db: Kysely<Database>;
  readonly #options: DeliveryWorkerOptions;
  readonly #listener: ChannelListener;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(options: DeliveryWorkerOptions) {
    this.#options = options;
    this.#db = createKysely(
      createPool({
        connectionString: options.connectionString,
        max: 2,
        statementTimeoutMs: 10_000,
        applicationName: 'tenantql-worker',
      }),
    );
    // Behind PgBouncer in transaction mode no notification arrives; polling carries on alone.
    this.#listener = new ChannelListener({
      connectionString: options.connectionString,
      channel: WAKE_CHANNEL,
      applicationName: 'tenantql-worker-listen',
      log: options.log,
      onNotification: () => this.#wakeUp(),
    });
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#options.log.info({ worker: this.id }, 'delivery worker started');
    this.#loop = this.#run();
  }

  /** Stops claiming, waits for the sends in flight to finish and be recorded, then disconnects. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wakeUp();
    await this.#loop;
    await this.#listener.close();
    await this.#db.destroy();
    this.#options.mailer.close();
    this.#options.log.info({ worker: this.id, ...this.stats }, 'delivery worker stopped');
  }

  /**
   * One claim of notification deliveries and one of account emails, and their sends; returns how
   * many rows the larger claim took (a full batch means more may be due).
   */
  async runOnce(): Promise<number> {
    const { config } = this.#options;
    const [claimed, emails] = await Promise.all([
      claimDeliveries(this.#db, config.batchSize, config.leaseSeconds, config.maxAttempts),
      claimAccountEmails(this.#db, config.batchSize, config.leaseSeconds, config.maxAttempts),
    ]);
    this.stats.claimed += claimed.length + emails.length;
    await Promise.all([
      ...claimed.map((delivery) => this.#deliver(delivery)),
      ...emails.map((email) => this.#sendAccountEmail(email)),
    ]);
    return Math.max(claimed.length, emails.length);
  }

  /** Verification, reset and invitation emails: the text was fixed when they were queued. */
  async #sendAccountEmail(email: ClaimedAccountEmail): Promise<void> {
    const { config, log, mailer } = this.#options;
    let error: string | null = null;
    try {
      await mailer.send({
        to: email.recipient,
        subject: email.subject,
        text: email.body,
        messageId: `<${email.id}@tenantql>`,
      });
    } catch (failure) {
      error = failure instanceof Error ? failure.message : String(failure);
    }
    const retryAfterMs =
      error !== null && email.attempt < config.maxAttempts
        ? Math.round(backoffMs(email.attempt, config))
        : null;
    // The log names the kind, never the address or the body (it carries a one-time link).
    const context = { worker: this.id, accountEmail: email.id, kind: email.kind };
    let recorded: boolean;
    try {
      recorded = await recordAccountEmail(this.#db, email, error, retryAfterMs);
    } catch (failure) {
      log.error({ ...context, err: failure }, 'could not record an account email attempt');
      return;
    }
    if (!recorded) {
      this.stats.leaseLost += 1;
      log.warn(context, 'account email lease expired before its result was recorded');
    } else if (error === null) {
      this.stats.delivered += 1;
      log.info(context, 'account email sent');
    } else if (retryAfterMs !== null) {
      this.stats.retried += 1;
      log.info({ ...context, error, retryInMs: retryAfterMs }, 'account email failed; will retry');
    } else {
      this.stats.dead += 1;
      log.warn({ ...context, error }, 'account email failed for good');
    }
  }

  async #run(): Promise<void> {
    const { config, log } = this.#options;
    await this.#listener.start();
    while (this.#running) {
      let claimed = 0;
      try {
        claimed = await this.runOnce();
      } catch (error) {
        log.warn({ err: error, worker: this.id }, 'delivery worker could not claim; retrying');
      }
      // A full batch suggests more are due: claim again at once.
      if (this.#running && claimed < config.batchSize) await this.#sleep(config.pollIntervalMs);
    }
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    const { config, log } = this.#options;
    let result: AttemptResult;
    let final = false;
    try {
      ({ result, final } = await this.#attempt(delivery));
    } catch (error) {
      result = {
        delivered: false,
        httpStatus: null,
        error: error instanceof Error ? error.message : String(error),
      };
    }
    const retry = !result.delivered && !final && delivery.attempt < config.maxAttempts;
    const outcome: AttemptOutcome = {
      ...result,
      retryAfterMs: retry ? backoffMs(delivery.attempt, config) : null,
    };
    const context = {
      worker: this.id,
      delivery: delivery.id,
      tenantId: delivery.tenant_id,
      channel: delivery.channel,
      attempt: delivery.attempt,
      httpStatus: result.httpStatus,
    };
    let recorded: boolean;
    try {
      recorded = await recordAttempt(this.#db, delivery, outcome);
    } catch (error) {
      // The lease runs out and the row is claimed again: it may be sent twice, never lost.
      log.error({ ...context, err: error }, 'could not record a delivery attempt');
      return;
    }
    if (!recorded) {
      this.stats.leaseLost += 1;
      log.warn(context, 'delivery lease expired before its result was recorded');
    } else if (result.delivered) {
      this.stats.delivered += 1;
      log.info(context, 'notification delivered');
    } else if (retry) {
      this.stats.retried += 1;
      log.info(
        { ...context, error: result.error, retryInMs: outcome.retryAfterMs },
        'delivery failed; will retry',
      );
    } else {
      this.stats.dead += 1;
      log.warn({ ...context, error: result.error }, 'delivery failed for good');
    }
  }

  /** Sends one delivery; `final` means retrying cannot help (the channel is gone). */
  async #attempt(delivery: ClaimedDelivery): Promise<{ result: AttemptResult; final: boolean }> {
    const { config, mailer } = this.#options;
    const gone = (error: string) => ({
      result: { delivered: false, httpStatus: null, error },
      final: true,
    });
    if (!delivery.channel_enabled) return gone('the channel was switched off before delivery');
    const notification = (delivery.payload.notification ?? {}) as Record<string, unknown>;
    const message = notificationMessage(
      delivery.kind as NotificationKind,
      (notification.data ?? {}) as Record<string, unknown>,
    );
    if (delivery.channel === 'EMAIL') {
      if (!delivery.email) return gone('the recipient is no longer a member');
      await mailer.send({
        to: delivery.email,
        subject: message,
        text: `${message}\n\n(${delivery.kind}, notification ${String(notification.id)})\n`,
        messageId: `<${delivery.id}@tenantql>`,
      });
      return { result: { delivered: true, httpStatus: null, error: null }, final: false };
    }
    if (!delivery.url || !delivery.secret) return gone('the webhook has no URL');
    const body = JSON.stringify({
      id: delivery.id,
      ...delivery.payload,
      notification: { ...notification, message },
    });
    const result = await sendWebhook({
      url: delivery.url,
      secret: delivery.secret,
      id: delivery.id,
      kind: delivery.kind,
      body,
      timeoutMs: config.webhookTimeoutMs,
      policy: config,
    });
    return { result, final: false };
  }

  #wakeUp(): void {
    this.#woken = true;
    this.#wake?.();
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

/**
 * Starts the worker on the tenantql_worker connection, or says why not: it never falls back to the
 * API or the bypass role, so without a worker URL deliveries simply wait in the outbox.
 */
export function startDeliveryWorker(
  config: Config,
  log: Logger,
  workerUrl: string | undefined,
): DeliveryWorker | undefined {
  if (!workerUrl) {
    log.warn(
      'WORKER_DATABASE_URL is not set: the notification delivery worker is not started ' +
        '(webhooks and emails stay queued until a worker runs)',
    );
    return undefined;
  }
  const worker = new DeliveryWorker({
    connectionString: workerUrl,
    config: config.delivery,
    log,
    mailer: createMailer(config.delivery, log),
  });
  worker.start();
  return worker;
}
