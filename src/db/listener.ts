import pg from 'pg';
import type { Logger } from '../logger.js';

export interface ChannelListenerOptions {
  /** A direct, session-level connection: LISTEN does not survive PgBouncer transaction pooling. */
  connectionString: string;
  channel: string;
  /** Names the session in pg_stat_activity and this listener in log lines. */
  applicationName: string;
  log: Logger;
  onNotification: (payload: string | undefined) => void;
  /** First reconnect delay; doubles per failed attempt up to MAX_RETRY_MS. */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;

/**
 * One connection that LISTENs on one channel (live updates; the delivery worker's wake-up). On
 * loss (a PostgreSQL restart, a cut network) it reconnects with backoff. Notifications sent while
 * it was away are not replayed: NOTIFY has no history.
 */
export class ChannelListener {
  #client: pg.Client | undefined;
  #closed = false;
  #attempt = 0;
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #markReady!: () => void;
  /** Resolves once the first LISTEN is in place. */
  readonly ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(private readonly options: ChannelListenerOptions) {}

  /** Whether a LISTEN is in place right now. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** How many times a LISTEN was put in place (1 after the first connection, +1 per reconnect). */
  get generation(): number {
    return this.#generation;
  }

  /** One attempt now; on failure it keeps trying in the background. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: this.options.applicationName,
      // A dead peer would otherwise go unnoticed until the next write, which a listener never makes.
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.#closed) return;
      const { applicationName: listener } = this.options;
      this.options.log.warn({ err: error, listener }, 'listener lost its connection; reconnecting');
      this.#scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel === this.options.channel) this.options.onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${client.escapeIdentifier(this.options.channel)}`);
    } catch (error) {
      onLost(error as Error);
      return;
    }
    if (lost) return;
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#generation += 1;
    if (this.#attempt > 0) {
      this.options.log.info({ listener: this.options.applicationName }, 'listener reconnected');
    }
    this.#attempt = 0;
    this.#markReady();
  }

  #scheduleReconnect(): void {
    const delay = Math.min(MAX_RETRY_MS, (this.options.retryMs ?? 250) * 2 ** this.#attempt);
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }
}
