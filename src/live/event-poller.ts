import pg from 'pg';
import type { Logger } from '../logger.js';

export interface LiveEventPollerOptions {
  /** The API role's connection (PgBouncer is fine: one plain query at a time). */
  connectionString: string;
  log: Logger;
  onPayload: (payload: string) => void;
  intervalMs?: number;
  /**
   * How far behind the newest event seen each poll looks again. An event is stamped when its
   * trigger runs but seen only once its transaction commits; one committed later than this is
   * missed. Operations are far shorter (statement and idle-in-transaction timeouts).
   */
  lookbackMs?: number;
}

const BATCH = 1000;
const PURGE_EVERY_MS = 60_000;
const KEEP = '5 minutes';

/**
 * Live events on a Citus cluster (sql/0035_citus_live_events.sql): the triggers write them to
 * app.live_events on the workers, where a NOTIFY would reach nobody, and every API instance reads
 * the new ones every `intervalMs`. On a single PostgreSQL the triggers NOTIFY and this never
 * starts (the ChannelListener hears them).
 */
export class LiveEventPoller {
  readonly #pool: pg.Pool;
  readonly #seen = new Map<string, number>();
  #after = new Date(0);
  #timer: NodeJS.Timeout | undefined;
  #lastPurge = 0;
  #closed = false;
  #running: Promise<void> | undefined;

  constructor(private readonly options: LiveEventPollerOptions) {
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: 1,
      application_name: 'tenantql-live-poller',
    });
    this.#pool.on('error', (error) =>
      options.log.warn({ err: error }, 'live poller connection lost'),
    );
  }

  /** Starts polling when the database is part of a Citus cluster; says whether it did. */
  async start(): Promise<boolean> {
    // A database that cannot answer now is not polled: the API starts anyway, as with LISTEN.
    const row = await this.#pool
      .query<{ citus: boolean; now: Date }>('select app.on_citus() as citus, now() as now')
      .then(
        ({ rows }) => rows[0],
        (error: unknown) => {
          this.options.log.warn({ err: error }, 'could not tell whether this is a Citus cluster');
          return undefined;
        },
      );
    if (!row?.citus) {
      await this.#pool.end();
      this.#closed = true;
      return false;
    }
    this.#after = row.now;
    // Events already committed happened before any subscription of this instance: remembered
    // as seen, never delivered (the first poll looks back too, and would deliver them).
    await this.#read().catch((error: unknown) =>
      this.options.log.warn({ err: error }, 'live poller could not read the recent events'),
    );
    this.#lastPurge = Date.now();
    this.#schedule();
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
    await this.#pool.end();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#poll()
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'live poll failed'))
        .finally(() => this.#schedule());
    }, this.options.intervalMs ?? 200);
  }

  /** The events of the look-back window not seen yet, now marked as seen. */
  async #read(): Promise<{ payload: string }[]> {
    const since = new Date(this.#after.getTime() - this.#lookback);
    const { rows } = await this.#pool.query<{ id: string; created_at: Date; payload: string }>(
      'select id, created_at, payload from app.live_events_after($1, $2)',
      [since, BATCH],
    );
    const fresh = rows.filter((row) => !this.#seen.has(row.id));
    for (const row of fresh) {
      this.#seen.set(row.id, row.created_at.getTime());
      if (row.created_at > this.#after) this.#after = row.created_at;
    }
    return fresh;
  }

  get #lookback(): number {
    return this.options.lookbackMs ?? 10_000;
  }

  async #poll(): Promise<void> {
    for (const { payload } of await this.#read()) this.options.onPayload(payload);
    const forget = this.#after.getTime() - 2 * this.#lookback;
    for (const [id, at] of this.#seen) if (at < forget) this.#seen.delete(id);
    if (Date.now() - this.#lastPurge > PURGE_EVERY_MS) {
      this.#lastPurge = Date.now();
      await this.#pool.query('select app.purge_live_events($1::interval)', [KEEP]);
    }
  }
}
