/** What one attempt says about its endpoint. */
export type EndpointOutcome =
  /** It answered (any HTTP status): it is up and not hogging a slot. */
  | 'answered'
  /** Timeout, refused or reset connection, TLS failure: what the breaker counts. */
  | 'unreachable'
  /** Nothing learned (refused by the URL policy, or not sent at all). */
  | 'unknown';

export type Admission =
  { allowed: true; trial: boolean } | { allowed: false; failures: number; retryInMs: number };

export interface BreakerSettings {
  /** Consecutive unreachable attempts that open the breaker; 0 turns it off. */
  threshold: number;
  cooldownMs: number;
}

interface EndpointState {
  failures: number;
  /** Set while open; once passed, the breaker is half-open and lets one trial through. */
  openUntil: number | undefined;
  trialInFlight: boolean;
}

/**
 * A circuit breaker per endpoint, in this process's memory: each worker process learns on its own
 * that an endpoint is down (at most `threshold` slow attempts each), and forgets on restart.
 *
 * Closed: every attempt goes. After `threshold` consecutive unreachable outcomes it opens for
 * `cooldownMs`: nothing goes. Then it is half-open: one trial goes, and the others wait; the
 * trial's answer closes it, another failure opens it for a new cool-down.
 */
export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #now: () => number;
  // Only endpoints that failed recently have an entry: an answer deletes it.
  readonly #states = new Map<string, EndpointState>();

  constructor(settings: BreakerSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Whether an attempt may go to `endpoint` now; a trial must be followed by record(). */
  admit(endpoint: string): Admission {
    const state = this.#states.get(endpoint);
    if (this.#settings.threshold === 0 || state?.openUntil === undefined) {
      return { allowed: true, trial: false };
    }
    const now = this.#now();
    if (now < state.openUntil) {
      return { allowed: false, failures: state.failures, retryInMs: state.openUntil - now };
    }
    if (state.trialInFlight) return { allowed: false, failures: state.failures, retryInMs: 0 };
    state.trialInFlight = true;
    return { allowed: true, trial: true };
  }

  /** Records an admitted attempt's outcome; true when this outcome opened the breaker. */
  record(endpoint: string, outcome: EndpointOutcome, trial: boolean): boolean {
    if (this.#settings.threshold === 0) return false;
    const state = this.#states.get(endpoint);
    // A late answer of an older send may have closed the breaker while the trial was out.
    const isTrial = trial && state?.trialInFlight === true;
    if (outcome === 'answered') {
      this.#states.delete(endpoint);
      return false;
    }
    if (outcome === 'unknown') {
      if (state && isTrial) state.trialInFlight = false;
      return false;
    }
    const current = state ?? { failures: 0, openUntil: undefined, trialInFlight: false };
    this.#states.set(endpoint, current);
    current.failures += 1;
    if (isTrial) {
      current.trialInFlight = false;
      current.openUntil = this.#now() + this.#settings.cooldownMs;
      return true;
    }
    // Sends that were already in flight when it opened fail later: they count, but neither
    // extend the cool-down nor stand in for the trial.
    if (current.openUntil === undefined && current.failures >= this.#settings.threshold) {
      current.openUntil = this.#now() + this.#settings.cooldownMs;
      return true;
    }
    return false;
  }
}

/**
 * The breaker's key for a webhook URL: the endpoint is its origin (scheme, host and port), and
 * each tenant has its own breaker for it. NOTE: keyed by tenant too, so that one tenant pointing
 * its webhook at a hanging path of a shared host (a SaaS inbox) cannot open the breaker on the
 * other tenants' deliveries to that host. Undefined for a URL that does not parse.
 */
export function endpointKey(tenantId: string, url: string): string | undefined {
  try {
    return `${tenantId} ${new URL(url).origin}`;
  } catch {
    return undefined;
  }
}
