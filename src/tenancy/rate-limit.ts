import cluster from 'node:cluster';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import {
  RateLimiterCluster,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../config.js';
import type { Tx } from '../db/operation.js';
import { RateLimitedError } from '../errors.js';
import { addressBudgetKey } from '../http/client-address.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';

/** How long a tenant's requests-per-minute is remembered before it is read again. */
const LIMIT_TTL_MS = 30_000;
/** Memberships remembered for charging (verifiedTenant); the oldest go first beyond this. */
const MAX_REMEMBERED_MEMBERS = 10_000;
const KEY_PREFIX = 'tenantql:rl';

/** The current tenant's requests per minute: its override, else its plan's; null is unlimited. */
export async function findRequestsPerMinute(trx: Tx): Promise<number | null> {
  const { rows } = await sql<{ rpm: number | null }>`
    select coalesce(t.requests_per_minute, p.requests_per_minute) as rpm
      from app.tenants t join app.plans p on p.plan = t.plan
     where t.id = app.current_tenant_id()`.execute(trx);
  return rows[0]?.rpm ?? null;
}

function retryAfterSeconds(rejection: RateLimiterRes): number {
  return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
}

/** One named budget: `points` per `durationSeconds`, counted per key. */
export interface Budget {
  name: string;
  points: number;
  durationSeconds: number;
}

/**
 * Where budgets are counted: in this process's memory, or in Redis (REDIS_URL) so every API
 * instance spends from the same budget. rate-limiter-flexible does the counting either way.
 * Without Redis, the workers of a cluster (WEB_CONCURRENCY > 1) ask the primary, which counts for
 * all of them (RateLimiterCluster here, RateLimiterClusterMaster in src/cluster/primary.ts): an
 * instance keeps one budget, not one per worker.
 *
 * NOTE: when Redis is unreachable each Redis limiter falls back to its insuranceLimiter, an
 * in-memory limiter with the same budget: requests keep being served (never a 500) and are limited
 * per instance until Redis is back. The fallback is logged once per outage and counted in
 * tenantql_rate_limit_fallbacks_total.
 */
export class RateLimitStore {
  readonly #limiters = new Map<string, RateLimiterAbstract>();
  readonly #redis: Redis | undefined;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  #redisDown = false;

  constructor(options: {
    redisUrl: string | undefined;
    log: Logger;
    metrics?: Metrics | undefined;
  }) {
    this.#log = options.log;
    this.#metrics = options.metrics;
    if (options.redisUrl) {
      const redis = new Redis(options.redisUrl, {
        // Fail fast while disconnected so a request falls back to memory at once instead of
        // waiting for a reconnect; ioredis keeps reconnecting in the background.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        commandTimeout: 1_000,
      });
      redis.on('error', (error: Error) => this.#markDown(error));
      redis.on('ready', () => {
        if (this.#redisDown) this.#log.info('rate limits: Redis is back; budgets are shared again');
        this.#redisDown = false;
      });
      this.#redis = redis;
      this.#metrics?.observeRateLimitStore(() => redis.status === 'ready');
    }
  }

  get backend(): 'redis' | 'cluster' | 'memory' {
    if (this.#redis) return 'redis';
    return cluster.isWorker ? 'cluster' : 'memory';
  }

  #markDown(error: Error): void {
    if (this.#redisDown) return;
    this.#redisDown = true;
    this.#log.warn(
      { err: error },
      'rate limits: Redis unreachable; counting in this instance’s memory until it is back',
    );
  }

  #limiter({ name, points, durationSeconds }: Budget): RateLimiterAbstract {
    const id = `${name}:${points}:${durationSeconds}`;
    let limiter = this.#limiters.get(id);
    if (limiter) return limiter;
    const options = { keyPrefix: `${KEY_PREFIX}:${id}`, points, duration: durationSeconds };
    if (this.#redis) {
      const fallbacks = this.#metrics;
      const markDown = (error: Error) => this.#markDown(error);
      // Counts each decision taken in memory because Redis could not be asked.
      class Insurance extends RateLimiterMemory {
        override consume(key: string | number, pointsToConsume?: number) {
          fallbacks?.recordRateLimitFallback(name);
          markDown(new Error('Redis not ready'));
          return super.consume(key, pointsToConsume);
        }
      }
      limiter = new RateLimiterRedis({
        ...options,
        storeClient: this.#redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new Insurance(options),
      });
    } else if (this.backend === 'cluster') {
      limiter = new RateLimiterCluster(options);
    } else {
      limiter = new RateLimiterMemory(options);
    }
    this.#limiters.set(id, limiter);
    return limiter;
  }

  /** Spends one point of `key`'s budget; the rejection when none is left. */
  async consume(budget: Budget, key: string): Promise<RateLimiterRes | undefined> {
    try {
      await this.#limiter(budget).consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection;
      throw rejection;
    }
  }

  /** Forgets `key`'s spending (a successful login clears its account's failures). */
  async reset(budget: Budget, key: string): Promise<void> {
    try {
      await this.#limiter(budget).delete(key);
    } catch (error) {
      // Only a Redis error gets here; the budget then simply runs out by itself.
      this.#markDown(error as Error);
    }
  }

  /** Closes the Redis connection (graceful shutdown). */
  async close(): Promise<void> {
    if (!this.#redis) return;
    if (this.#redis.status === 'ready') await this.#redis.quit();
    else this.#redis.disconnect();
  }
}

/**
 * Per-tenant request budgets: one window of a minute per tenant, of the tenant's requests per
 * minute. Each tenant has its own counter, so one tenant spending its budget never slows another.
 */
export class TenantRateLimiter {
  readonly #limits = new Map<string, { rpm: number | null; until: number }>();
  readonly #members = new Map<string, { tenantId: string; until: number }>();

  constructor(private readonly store: RateLimitStore) {}

  /**
   * The tenant a recent operation verified `claim` (a user naming a tenant, see
   * OperationDatabase.claim) to be a membership of: a repeat caller is charged without waiting
   * for its own operation's check, so its first read can travel with that check. The check
   * still guards every row; at worst a member removed in the last LIMIT_TTL_MS spends a little
   * of the tenant's budget.
   */
  verifiedTenant(claim: string): string | undefined {
    const known = this.#members.get(claim);
    if (!known || known.until <= Date.now()) return undefined;
    return known.tenantId;
  }

  rememberVerified(claim: string, tenantId: string): void {
    if (this.#members.size >= MAX_REMEMBERED_MEMBERS) {
      const oldest = this.#members.keys().next();
      if (!oldest.done) this.#members.delete(oldest.value);
    }
    this.#members.delete(claim);
    this.#members.set(claim, { tenantId, until: Date.now() + LIMIT_TTL_MS });
  }

  /** RATE_LIMITED (with retryAfter in seconds) when the tenant has no request left this minute. */
  async consume(tenantId: string, readLimit: () => Promise<number | null>): Promise<void> {
    const now = Date.now();
    let known = this.#limits.get(tenantId);
    if (!known || known.until <= now) {
      known = { rpm: await readLimit(), until: now + LIMIT_TTL_MS };
      this.#limits.set(tenantId, known);
    }
    if (known.rpm === null) return;
    const rejection = await this.store.consume(
      { name: 'tenant', points: known.rpm, durationSeconds: 60 },
      tenantId,
    );
    if (rejection) throw new RateLimitedError(retryAfterSeconds(rejection));
  }
}

/**
 * Budgets of the operations no tenant pays for: those that act in no tenant, and those of a caller
 * who named a tenant they turned out not to belong to. Per user (or API key), and per client
 * address (its /64 for IPv6) for anonymous callers, so neither account-level fields nor a stream
 * of refused tenant claims are free.
 */
export class CallerRateLimiter {
  readonly #user: Budget;
  readonly #address: Budget;

  constructor(
    private readonly store: RateLimitStore,
    config: RateLimitConfig,
  ) {
    this.#user = { name: 'user', points: config.userRequestsPerMinute, durationSeconds: 60 };
    this.#address = {
      name: 'anonymous-address',
      points: config.anonymousRequestsPerMinute,
      durationSeconds: 60,
    };
  }

  /** `caller`: the user id or an API key's prefix; undefined for anonymous callers. */
  async consume(caller: string | undefined, address: string | undefined): Promise<void> {
    const budget = caller === undefined ? this.#address : this.#user;
    // In-process operations (tests, tools) have no client address: nothing to count it against.
    const key = caller ?? (address === undefined ? undefined : addressBudgetKey(address));
    if (key === undefined || budget.points === 0) return;
    const rejection = await this.store.consume(budget, key);
    if (rejection) {
      throw new RateLimitedError(
        retryAfterSeconds(rejection),
        caller === undefined
          ? 'Too many requests from here. Sign in, or retry later.'
          : 'Too many requests outside any tenant. Retry later.',
      );
    }
  }
}

/**
 * Budgets of the account fields that need no session, against password guessing and sign-up or
 * refresh floods. Windows are fixed: a refused attempt spends nothing more and never extends the
 * wait, so a locked account opens again at most one window after its budget ran out.
 */
export class AuthRateLimiter {
  readonly #login: { account: Budget; address: Budget };
  readonly #signUp: Budget;
  readonly #refresh: Budget;
  readonly #accountEmail: { address: Budget; recipient: Budget };

  constructor(
    private readonly store: RateLimitStore,
    config: RateLimitConfig,
  ) {
    const window = config.loginWindowSeconds;
    this.#login = {
      account: {
        name: 'login-account',
        points: config.loginAccountAttempts,
        durationSeconds: window,
      },
      address: {
        name: 'login-address',
        points: config.loginAddressAttempts,
        durationSeconds: window,
      },
    };
    this.#signUp = {
      name: 'signup-address',
      points: config.signUpAddressAttempts,
      durationSeconds: 3600,
    };
    this.#refresh = {
      name: 'refresh-address',
      points: config.refreshAddressAttempts,
      durationSeconds: 900,
    };
    this.#accountEmail = {
      address: {
        name: 'account-email-address',
        points: config.accountEmailAddressAttempts,
        durationSeconds: 3600,
      },
      recipient: {
        name: 'account-email-recipient',
        points: config.accountEmailRecipientAttempts,
        durationSeconds: 3600,
      },
    };
  }

  async #spend(budget: Budget, key: string | undefined, message: string): Promise<void> {
    // In-process operations (tests, tools) have no client address: nothing to count it against.
    if (key === undefined || budget.points === 0) return;
    const rejection = await this.store.consume(budget, key);
    if (rejection) throw new RateLimitedError(retryAfterSeconds(rejection), message);
  }

  /** Per-address budgets are spent under the address's key: its /64 for IPv6. */
  #spendFromAddress(budget: Budget, address: string | undefined, message: string): Promise<void> {
    return this.#spend(
      budget,
      address === undefined ? undefined : addressBudgetKey(address),
      message,
    );
  }

  /** Before the password is checked: one attempt of the address's and of the account's budget. */
  async login(email: string | undefined, address: string | undefined): Promise<void> {
    await this.#spendFromAddress(
      this.#login.address,
      address,
      'Too many sign-in attempts from here.',
    );
    await this.#spend(this.#login.account, email, 'Too many sign-in attempts for this account.');
  }

  /** The right password: the account's failures are forgotten (the address's are not). */
  loginSucceeded(email: string): Promise<void> {
    return this.store.reset(this.#login.account, email);
  }

  signUp(address: string | undefined): Promise<void> {
    return this.#spendFromAddress(this.#signUp, address, 'Too many sign-ups from here.');
  }

  refresh(address: string | undefined): Promise<void> {
    return this.#spendFromAddress(this.#refresh, address, 'Too many token refreshes from here.');
  }

  /**
   * Before an email is queued to a person (verification, password reset): from the asking
   * address's budget and the recipient's, so nobody can flood one inbox from many addresses. The
   * recipient's budget is spent whether or not the address has an account.
   */
  async accountEmail(recipient: string, address: string | undefined): Promise<void> {
    await this.#spendFromAddress(
      this.#accountEmail.address,
      address,
      'Too many emails asked for from here.',
    );
    await this.#spend(
      this.#accountEmail.recipient,
      recipient,
      'Too many emails were sent to this address lately. Check your inbox, or try again later.',
    );
  }
}
