import { sql } from 'kysely';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Tx } from '../db/operation.js';
import { RateLimitedError } from '../errors.js';

/** How long a tenant's requests-per-minute is remembered before it is read again. */
const LIMIT_TTL_MS = 30_000;

/** The current tenant's requests per minute: its override, else its plan's; null is unlimited. */
export async function findRequestsPerMinute(trx: Tx): Promise<number | null> {
  const { rows } = await sql<{ rpm: number | null }>`
    select coalesce(t.requests_per_minute, p.requests_per_minute) as rpm
      from app.tenants t join app.plans p on p.plan = t.plan
     where t.id = app.current_tenant_id()`.execute(trx);
  return rows[0]?.rpm ?? null;
}

/**
 * Per-tenant request budgets, in this process's memory (several instances each count their own).
 * Each tenant has its own bucket, so one tenant spending its budget never slows another. The
 * budget is a window of one minute per tenant (rate-limiter-flexible's RateLimiterMemory).
 */
export class TenantRateLimiter {
  // One limiter per distinct budget; each keeps one counter per tenant.
  readonly #limiters = new Map<number, RateLimiterMemory>();
  readonly #limits = new Map<string, { rpm: number | null; until: number }>();

  /** RATE_LIMITED (with retryAfter in seconds) when the tenant has no request left this minute. */
  async consume(tenantId: string, readLimit: () => Promise<number | null>): Promise<void> {
    const now = Date.now();
    let known = this.#limits.get(tenantId);
    if (!known || known.until <= now) {
      known = { rpm: await readLimit(), until: now + LIMIT_TTL_MS };
      this.#limits.set(tenantId, known);
    }
    if (known.rpm === null) return;
    let limiter = this.#limiters.get(known.rpm);
    if (!limiter) {
      limiter = new RateLimiterMemory({ points: known.rpm, duration: 60 });
      this.#limiters.set(known.rpm, limiter);
    }
    try {
      await limiter.consume(tenantId);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        throw new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      }
      throw rejection;
    }
  }
}
