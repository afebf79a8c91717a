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
  purgeExpired,
  webhookSigningSecrets,
  claimDeliveries,
  recordAccountEmail,
  recordAttempt,
  type AttemptOutcome,
  type ClaimedAccountEmail,
  type ClaimedDelivery,
} from './delivery.repository.js';
import {
  CircuitBreaker,
  endpointKey,
  type Admission,
  type EndpointOutcome,
} from './circuit-breaker.js';
import { createMailer, emailFailureClass, type Mailer } from './mailer.js';
import { sendWebhook, type AttemptResult, type FailureClass } from './webhook.js';

/** Rows of each kind one purge statement deletes at most. */
const PURGE_BATCH = 5_000;

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
  /** Webhooks not sent (and rescheduled) because their endpoint's breaker was open. */
  circuitOpen: number;
}

/** What one attempt of a claimed delivery came to, before it is recorded. */
interface Attempt {
  result: AttemptResult;
  /** Retrying cannot help (the channel is gone). */
  final: boolean;
  /** The retry must wait at least this long (an open breaker's remaining cool-down). */
  notBeforeMs: number;
}

const ENDPOINT_OUTCOME: Record<FailureClass, EndpointOutcome> = {
  http: 'answered',
  timeout: 'unreachable',
  connection: 'unreachable',
  tls: 'unreachable',
  refused: 'unknown',
};

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so receivers
 * that failed together are not retried together. `attempt` is the attempt that just failed.
 */
export function backoffMs(attempt: number, config: DeliveryConfig, random = Math.random): number {
  const delay = Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** (attempt - 1));
  return delay / 2 + random() * (delay / 2);
}

/**
 * Delivers queued notifications and account emails after their transaction committed. Polls
 * every DELIVERY_POLL_INTERVAL_MS and wakes early on LISTEN and whenever a send finishes.
 *
 * Fairness (issue 15): up to DELIVERY_CONCURRENCY sends are in flight at once, each started as
 * soon as it is claimed and recorded as soon as it ends, and the worker claims again whenever a
 * slot frees up, so one slow send never holds the others back. The claim (sql/0018) takes tenants
 * round-robin and gives no tenant more than DELIVERY_TENANT_CONCURRENCY leases at once across all
 * workers, so a tenant whose endpoint takes WEBHOOK_TIMEOUT_MS per request occupies at most that
 * many slots. Account emails, which have no tenant, go first, up to one tenant's share, and have
 * a slot of their own. Endpoints that keep timing out are given a rest by a circuit breaker (see
 * circuit-breaker.ts).
 *
 * Claims hold a lease (so workers in several processes never send one row at the same time);
 * stop() lets the sends in flight finish and record.
 */
export class DeliveryWorker {
  readonly id = randomUUID();
  readonly stats: DeliveryStats = {
    claimed: 0,
    delivered: 0,
    retried: 0,
    dead: 0,
    leaseLost: 0,
    circuitOpen: 0,
  };
  readonly #db: Kysely<Database>;
  readonly #options: DeliveryWorkerOptions;
  readonly #listener: ChannelListener;
  readonly #breaker: CircuitBreaker;
  readonly #inFlight = new Set<Promise<void>>();
  #accountEmailsInFlight = 0;
  #deliveriesInFlight = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(options: DeliveryWorkerOptions) {
    this.#options = options;
    this.#breaker = new CircuitBreaker({
      threshold: options.config.breakerThreshold,
      cooldownMs: options.config.breakerCooldownMs,
    });
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
    const every = this.#options.config.retentionIntervalMs;
    if (every > 0) {
      // A first purge soon after start, then about every interval (jittered so several workers
      // do not purge together); a purge is idempotent, so two at once only waste a little.
      const schedule = (ms: number) => {
        this.#purgeTimer = setTimeout(() => {
          void this.purgeExpired().finally(() => {
            if (this.#running) schedule(every * (0.9 + Math.random() * 0.2));
          });
        }, ms);
        this.#purgeTimer.unref();
      };
      schedule(Math.min(every, 60_000));
    }
  }

  #purgeTimer: NodeJS.Timeout | undefined;

  /**
   * Deletes what is past its retention (finished deliveries, notifications, activity, expired
   * refresh tokens, sent account emails, spent account tokens), a batch at a time; returns how
   * many rows of each kind.
   */
  async purgeExpired(): Promise<Record<string, number>> {
    const { config, log } = this.#options;
    const total: Record<string, number> = {};
    try {
      for (let round = 0; round < 100; round += 1) {
        const deleted = await purgeExpired(this.#db, config, PURGE_BATCH);
        let full = false;
        for (const { kind, deleted: n } of deleted) {
          total[kind] = (total[kind] ?? 0) + n;
          if (n >= PURGE_BATCH) full = true;
        }
        if (!full || !this.#running) break;
      }
      if (Object.values(total).some((n) => n > 0)) {
        log.info({ worker: this.id, deleted: total }, 'retention: old rows deleted');
      }
    } catch (error) {
      log.warn({ err: error, worker: this.id }, 'retention purge failed; it runs again later');
    }
    return total;
  }

  /** Sends in flight in this process right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Stops claiming, waits for the sends in flight to finish and be recorded, then disconnects. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#purgeTimer);
    this.#wakeUp();
    await this.#loop;
    await this.idle();
    await this.#listener.close();
    await this.#db.destroy();
    this.#options.mailer.close();
    this.#options.log.info({ worker: this.id, ...this.stats }, 'delivery worker stopped');
  }

  /** Resolves once every send in flight has finished and been recorded. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /**
   * One claim, as large as the free slots allow, and its sends, awaited; returns how many rows it
   * took. The running worker does not wait like this: it claims again as soon as a slot frees.
   */
  async runOnce(): Promise<number> {
    const { claimed } = await this.#claimAndStart();
    await this.idle();
    return claimed;
  }

  /**
   * Claims as many due rows as there are free slots and starts their sends without waiting for
   * them. `more`: a claim came back full, so more rows may be due right now.
   *
   * Account emails (sign-up verification, password reset, invitations: someone is waiting for
   * them) are claimed first, up to a tenant's share, and one slot is kept for them: tenants'
   * deliveries use at most DELIVERY_CONCURRENCY - 1, so a slow webhook never delays them.
   */
  async #claimAndStart(): Promise<{ claimed: number; more: boolean }> {
    const { config } = this.#options;
    let free = config.concurrency - this.#inFlight.size;
    if (free <= 0) return { claimed: 0, more: false };
    const emailLimit = Math.min(
      free,
      config.batchSize,
      config.tenantConcurrency - this.#accountEmailsInFlight,
    );
    const emails =
      emailLimit > 0
        ? await claimAccountEmails(this.#db, emailLimit, config.leaseSeconds, config.maxAttempts)
        : [];
    this.stats.claimed += emails.length;
    for (const email of emails) {
      this.#accountEmailsInFlight += 1;
      this.#track(
        this.#sendAccountEmail(email).finally(() => {
          this.#accountEmailsInFlight -= 1;
        }),
      );
    }
    free -= emails.length;
    const deliverySlots = config.concurrency > 1 ? config.concurrency - 1 : 1;
    const limit = Math.min(free, config.batchSize, deliverySlots - this.#deliveriesInFlight);
    const deliveries =
      limit > 0
        ? await claimDeliveries(this.#db, {
            limit,
            leaseSeconds: config.leaseSeconds,
            maxAttempts: config.maxAttempts,
            perTenantLimit: config.tenantConcurrency,
          })
        : [];
    this.stats.claimed += deliveries.length;
    for (const delivery of deliveries) {
      this.#deliveriesInFlight += 1;
      this.#track(
        this.#deliver(delivery).finally(() => {
          this.#deliveriesInFlight -= 1;
        }),
      );
    }
    return {
      claimed: emails.length + deliveries.length,
      more:
        (emailLimit > 0 && emails.length === emailLimit) ||
        (limit > 0 && deliveries.length === limit),
    };
  }

  /** Counts a send as in flight until it is recorded; its end frees a slot and wakes the loop. */
  #track(send: Promise<void>): void {
    const { log } = this.#options;
    const tracked: Promise<void> = send
      .catch((error: unknown) => {
        log.error({ err: error, worker: this.id }, 'a delivery send failed unexpectedly');
      })
      .finally(() => {
        this.#inFlight.delete(tracked);
        this.#wakeUp();
      });
    this.#inFlight.add(tracked);
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
      // Only the class: the server's reply may quote the address.
      error = emailFailureClass(failure);
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
      let more = false;
      try {
        ({ more } = await this.#claimAndStart());
      } catch (error) {
        log.warn({ err: error, worker: this.id }, 'delivery worker could not claim; retrying');
      }
      if (!this.#running) break;
      // A full claim suggests more are due: claim again at once while slots are free. Otherwise
      // wait for a NOTIFY, the poll, or a send to finish (its slot, or its tenant's allowance,
      // may let the next row through).
      if (more && this.#inFlight.size < config.concurrency) continue;
      await this.#sleep(config.pollIntervalMs);
    }
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    const { config, log } = this.#options;
    let attempt: Attempt;
    try {
      attempt = await this.#attempt(delivery);
    } catch (error) {
      attempt = {
        result: {
          delivered: false,
          httpStatus: null,
          error: 'delivery failed',
          detail: error instanceof Error ? error.message : String(error),
        },
        final: false,
        notBeforeMs: 0,
      };
    }
    const { result, final, notBeforeMs } = attempt;
    const retry = !result.delivered && !final && delivery.attempt < config.maxAttempts;
    const outcome: AttemptOutcome = {
      delivered: result.delivered,
      httpStatus: result.httpStatus,
      error: result.error,
      retryAfterMs: retry ? Math.max(backoffMs(delivery.attempt, config), notBeforeMs) : null,
    };
    const context = {
      worker: this.id,
      delivery: delivery.id,
      tenantId: delivery.tenant_id,
      channel: delivery.channel,
      attempt: delivery.attempt,
      httpStatus: result.httpStatus,
    };
    const failure = { error: result.error, detail: result.detail };
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
        { ...context, ...failure, retryInMs: outcome.retryAfterMs },
        'delivery failed; will retry',
      );
    } else {
      this.stats.dead += 1;
      log.warn({ ...context, ...failure }, 'delivery failed for good');
    }
  }

  /** Sends one delivery (or, its endpoint's breaker being open, does not). */
  async #attempt(delivery: ClaimedDelivery): Promise<Attempt> {
    const { config, mailer } = this.#options;
    const gone = (error: string): Attempt => ({
      result: { delivered: false, httpStatus: null, error },
      final: true,
      notBeforeMs: 0,
    });
    if (!delivery.channel_enabled) return gone('the channel was switched off before delivery');
    const notification = (delivery.payload.notification ?? {}) as Record<string, unknown>;
    const message = notificationMessage(
      delivery.kind as NotificationKind,
      (notification.data ?? {}) as Record<string, unknown>,
    );
    if (delivery.channel === 'EMAIL') {
      if (!delivery.email) return gone('the recipient is no longer a member');
      try {
        await mailer.send({
          to: delivery.email,
          subject: message,
          text: `${message}\n\n(${delivery.kind}, notification ${String(notification.id)})\n`,
          messageId: `<${delivery.id}@tenantql>`,
        });
      } catch (error) {
        return {
          result: {
            delivered: false,
            httpStatus: null,
            error: emailFailureClass(error),
            detail: error instanceof Error ? error.message : String(error),
          },
          final: false,
          notBeforeMs: 0,
        };
      }
      return {
        result: { delivered: true, httpStatus: null, error: null },
        final: false,
        notBeforeMs: 0,
      };
    }
    if (!delivery.url || !delivery.secret) return gone('the webhook has no URL');
    const endpoint = endpointKey(delivery.tenant_id, delivery.url);
    const admission: Admission = endpoint
      ? this.#breaker.admit(endpoint)
      : { allowed: true, trial: false };
    if (!admission.allowed) {
      // NOTE: counted as an attempt (the claim counted it) and retried on the usual backoff, but
      // not before the breaker half-opens: a dead endpoint's deliveries go dead on the same
      // schedule as if each had been tried, instead of waiting in the outbox for ever.
      this.stats.circuitOpen += 1;
      return {
        result: {
          delivered: false,
          httpStatus: null,
          error: `endpoint circuit open after ${admission.failures} consecutive failures`,
        },
        final: false,
        notBeforeMs: admission.retryInMs,
      };
    }
    const body = JSON.stringify({
      id: delivery.id,
      ...delivery.payload,
      notification: { ...notification, message },
    });
    let outcome: EndpointOutcome = 'unknown';
    try {
      // The current secret and, during a rotation's overlap, the previous one (one signature each).
      const secrets = await webhookSigningSecrets(this.#db, delivery.tenant_id);
      const result = await sendWebhook({
        url: delivery.url,
        secrets: secrets.length > 0 ? secrets : [delivery.secret],
        id: delivery.id,
        kind: delivery.kind,
        body,
        timeoutMs: config.webhookTimeoutMs,
        policy: config,
      });
      outcome = result.delivered ? 'answered' : ENDPOINT_OUTCOME[result.failure ?? 'refused'];
      return { result, final: false, notBeforeMs: 0 };
    } finally {
      if (endpoint && this.#breaker.record(endpoint, outcome, admission.trial)) {
        this.#options.log.warn(
          {
            worker: this.id,
            tenantId: delivery.tenant_id,
            endpoint: new URL(delivery.url).origin,
            coolDownMs: config.breakerCooldownMs,
          },
          'webhook endpoint keeps failing; its circuit is open',
        );
      }
    }
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
