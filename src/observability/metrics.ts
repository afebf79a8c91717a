import type pg from 'pg';
import type { FairShare } from '../db/fair-share.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { workerSlot } from '../cluster/messages.js';

export const OTHER_LABEL = 'other';

/**
 * Keeps a label's cardinality bounded: the first `limit` distinct values keep their own label,
 * later ones are reported as "other". NOTE: first-seen rather than busiest, on purpose: a value's
 * label never changes once assigned, so every series stays monotonic. Re-ranking by traffic would
 * move counts between a tenant's series and "other", which Prometheus reads as counter resets.
 * Operators who want particular tenants named list them in METRICS_TENANT_LABELS.
 */
export class BoundedLabel {
  readonly #admitted = new Set<string>();
  constructor(
    private readonly limit: number,
    pinned: string[] = [],
  ) {
    for (const value of pinned) this.#admitted.add(value);
  }

  of(value: string | undefined, fallback = 'none'): string {
    if (value === undefined || value === '') return fallback;
    if (this.#admitted.has(value)) return value;
    if (this.#admitted.size < this.limit) {
      this.#admitted.add(value);
      return value;
    }
    return OTHER_LABEL;
  }
}

export interface MetricsOptions {
  /** How many tenants get their own label (the rest are "other"). */
  tenantLabelLimit: number;
  /** Tenant ids that always get their own label, on top of the limit. */
  pinnedTenants?: string[];
  /** How many operation names get their own label; names are chosen by clients. */
  operationLabelLimit: number;
}

export interface OperationSample {
  operationName: string | undefined;
  operationType: string | undefined;
  tenantId: string | undefined;
  outcome: 'success' | 'error';
  errorCodes: string[];
  durationMs: number;
  dbTimeMs: number;
  transaction: 'none' | 'committed' | 'rolled back';
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The Prometheus metrics of one app instance, in its own registry (several apps in one process,
 * as in the tests, never collide).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #tenants: BoundedLabel;
  readonly #operations: BoundedLabel;

  readonly #operationsTotal = new Counter({
    name: 'tenantql_operations_total',
    help: 'GraphQL operations by name, type, tenant and outcome (success or error).',
    labelNames: ['operation', 'type', 'tenant', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #errorsTotal = new Counter({
    name: 'tenantql_operation_errors_total',
    help: 'Errors returned to clients by extensions.code (RATE_LIMITED and QUOTA_EXCEEDED are the rejections).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'tenantql_operation_duration_seconds',
    help: 'Time from receiving a GraphQL operation to its response, by type and outcome.',
    labelNames: ['type', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly #dbTime = new Histogram({
    name: 'tenantql_operation_db_seconds',
    help: 'Time an operation spent waiting on PostgreSQL (connection, BEGIN, queries, COMMIT).',
    labelNames: ['type'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly #transactions = new Counter({
    name: 'tenantql_transactions_total',
    help: 'Operation transactions by how they ended (committed or rolled_back).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly #acquire = new Histogram({
    name: 'tenantql_db_pool_acquire_seconds',
    help: 'Time to get a connection from the API pool.',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly #waits = new Counter({
    name: 'tenantql_db_pool_waits_total',
    help: 'Connection requests that found no idle connection and had to wait or connect.',
    registers: [this.registry],
  });

  readonly #rateLimitFallbacks = new Counter({
    name: 'tenantql_rate_limit_fallbacks_total',
    help: 'Rate-limit decisions taken in this instance’s memory because Redis was unreachable, by budget.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });

  /** In a cluster worker (WEB_CONCURRENCY > 1) only: its slot, and the operations it handled. */
  readonly #worker = workerSlot();
  readonly #workerOperations = this.#worker
    ? new Counter({
        name: 'tenantql_worker_operations_total',
        help: 'GraphQL operations handled by each API worker process (WEB_CONCURRENCY > 1), by worker slot.',
        labelNames: ['worker'] as const,
        registers: [this.registry],
      })
    : undefined;

  constructor(options: MetricsOptions) {
    this.#tenants = new BoundedLabel(options.tenantLabelLimit, options.pinnedTenants);
    this.#operations = new BoundedLabel(options.operationLabelLimit);
    collectDefaultMetrics({ register: this.registry, prefix: 'tenantql_' });
  }

  recordOperation(sample: OperationSample): void {
    const type = sample.operationType ?? 'unknown';
    this.#operationsTotal.inc({
      operation: this.#operations.of(sample.operationName, 'anonymous'),
      type,
      tenant: this.#tenants.of(sample.tenantId),
      outcome: sample.outcome,
    });
    if (this.#worker) this.#workerOperations?.inc({ worker: this.#worker });
    for (const code of sample.errorCodes) this.#errorsTotal.inc({ code });
    this.#duration.observe({ type, outcome: sample.outcome }, sample.durationMs / 1000);
    this.#dbTime.observe({ type }, sample.dbTimeMs / 1000);
    if (sample.transaction !== 'none') {
      this.#transactions.inc({
        outcome: sample.transaction === 'committed' ? 'committed' : 'rolled_back',
      });
    }
  }

  /** Live updates: WebSocket connections, running subscriptions, and this instance's LISTEN. */
  observeLive(live: {
    connections: () => number;
    subscriptions: () => number;
    listening: () => boolean;
  }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'tenantql_live_connections',
      help: 'Open WebSocket connections (subscriptions).',
      registers,
      collect() {
        this.set(live.connections());
      },
    });
    new Gauge({
      name: 'tenantql_live_subscriptions',
      help: 'Subscriptions receiving events.',
      registers,
      collect() {
        this.set(live.subscriptions());
      },
    });
    new Gauge({
      name: 'tenantql_live_listener_up',
      help: '1 while the LISTEN connection feeding subscriptions is up, 0 while it reconnects.',
      registers,
      collect() {
        this.set(live.listening() ? 1 : 0);
      },
    });
  }

  /** The tenant label of a FairShare key: its tenant, or "unverified" for a caller's own share. */
  #shareLabel(key: string): string {
    return key.startsWith('tenant:') ? this.#tenants.of(key.slice(7)) : 'unverified';
  }

  /** Hooks for FairShare: how long each operation waited for its turn, and who timed out. */
  fairShareObserver(): {
    onGranted: (key: string, waitedMs: number) => void;
    onTimeout: (key: string) => void;
  } {
    const wait = new Histogram({
      name: 'tenantql_db_turn_wait_seconds',
      help: 'Time operations waited for their tenant’s turn at the API pool (0 when a place was free).',
      labelNames: ['tenant'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5],
      registers: [this.registry],
    });
    const timeouts = new Counter({
      name: 'tenantql_db_turn_timeouts_total',
      help: 'Operations refused (SERVICE_UNAVAILABLE) after waiting too long for their turn.',
      labelNames: ['tenant'] as const,
      registers: [this.registry],
    });
    return {
      onGranted: (key, waitedMs) =>
        wait.observe({ tenant: this.#shareLabel(key) }, waitedMs / 1000),
      onTimeout: (key) => timeouts.inc({ tenant: this.#shareLabel(key) }),
    };
  }

  observeFairShare(share: FairShare): void {
    const label = (key: string) => this.#shareLabel(key);
    new Gauge({
      name: 'tenantql_db_turn_waiting',
      help: 'Operations waiting for their tenant’s turn at the API pool, by tenant.',
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const byLabel = new Map<string, number>();
        for (const [key, count] of share.waiting()) {
          byLabel.set(label(key), (byLabel.get(label(key)) ?? 0) + count);
        }
        for (const [tenant, count] of byLabel) this.set({ tenant }, count);
      },
    });
  }

  /**
   * Reports the pool's connections at each scrape, and times every promise-style connect()
   * (the only kind kysely makes). NOTE: pg.Pool has no acquire-timing hook, so connect is wrapped
   * on this one instance.
   */
  observePool(pool: pg.Pool, name = 'api'): void {
    new Gauge({
      name: `tenantql_db_pool_connections`,
      help: 'Connections of the API pool: total, idle, and clients waiting for one.',
      labelNames: ['pool', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ pool: name, state: 'total' }, pool.totalCount);
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
      },
    });
    const original = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
    const connect = () => original() as Promise<pg.PoolClient>;
    const acquire = this.#acquire;
    const waits = this.#waits;
    const timed = async (): Promise<pg.PoolClient> => {
      if (pool.idleCount === 0) waits.inc();
      const end = acquire.startTimer();
      try {
        return await connect();
      } finally {
        end();
      }
    };
    Object.assign(pool, {
      // Callback-style calls pass through untimed.
      connect: (...args: unknown[]) => (args.length === 0 ? timed() : original(...args)),
    });
  }

  recordRateLimitFallback(budget: string): void {
    this.#rateLimitFallbacks.inc({ budget });
  }

  /** 1 while the Redis that shares the rate-limit budgets is connected, else 0. */
  observeRateLimitStore(isUp: () => boolean): void {
    new Gauge({
      name: 'tenantql_rate_limit_redis_up',
      help: 'Whether the Redis shared by the rate-limit budgets is connected (1) or not (0).',
      registers: [this.registry],
      collect() {
        this.set(isUp() ? 1 : 0);
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
