import type { GraphQLContext } from '../graphql/context.js';
import { ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LiveEvent } from './events.js';

/** What a subscription's context carries besides the usual fields (set in src/live/ws.ts). */
export interface LiveSession {
  hub: LiveHub;
  /**
   * A fresh context for the same connection parameters: token verified again, tenant resolved
   * again, a new lazy transaction. Throws UNAUTHENTICATED once the token has expired.
   */
  reopen(): Promise<GraphQLContext>;
}

export interface LiveStreamSpec<T> {
  /**
   * Runs once in the subscription's first transaction (membership, the project exists …) and
   * returns the in-memory pre-filter on event ids. Throwing ends the subscription with that error.
   */
  start(ctx: GraphQLContext): Promise<(event: LiveEvent) => boolean>;
  /**
   * The payloads of a batch of events, loaded in ctx's transaction with the subscriber's own user
   * and tenant, so RLS decides what they may see; what it hides is left out, silently.
   */
  load(ctx: GraphQLContext, events: LiveEvent[]): Promise<T[]>;
}

export interface LiveHubOptions {
  log: Logger;
  /** Delivery transactions open at once across all subscribers of this instance. */
  concurrency: number;
  /** Events one subscriber may have waiting; beyond it the subscription ends (it fell behind). */
  queueLimit?: number;
  /** Events loaded in one transaction. */
  batchSize?: number;
}

const QUEUE_LIMIT = 1000;
const BATCH_SIZE = 100;
const CLOSE_WAIT_MS = 5_000;

/** A counting semaphore, first come first served. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = Math.max(1, size);
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    };
  }
}

/** One subscriber's pending events: pushed by the listener, taken in batches by its stream. */
class EventQueue {
  #items: LiveEvent[] = [];
  #overflowed = false;
  #wake: (() => void) | undefined;
  constructor(
    private readonly limit: number,
    private readonly signal: AbortSignal,
  ) {
    // Registered once: a listener added per wait would pile up on the signal for as long as the
    // subscription lives (one per idle spell between batches).
    signal.addEventListener('abort', () => this.#notify(), { once: true });
  }

  push(event: LiveEvent): void {
    if (this.#items.length >= this.limit) this.#overflowed = true;
    else this.#items.push(event);
    this.#notify();
  }

  /** Up to max events, waiting for at least one; none once the signal aborts. */
  async take(max: number): Promise<LiveEvent[]> {
    while (this.#items.length === 0 && !this.#overflowed && !this.signal.aborted) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    if (this.signal.aborted) return [];
    if (this.#overflowed) {
      throw new ServiceUnavailableError(
        'This subscription fell behind and was ended. Subscribe again and refetch what you show.',
      );
    }
    return this.#items.splice(0, max);
  }

  #notify(): void {
    this.#wake?.();
  }
}

interface Subscriber {
  accepts: (event: LiveEvent) => boolean;
  queue: EventQueue;
  stop: () => void;
  done: Promise<void>;
}

/**
 * Fans the events of this instance's listener out to its subscriptions. Each subscription has a
 * small queue and loads one batch at a time in a transaction of its own; a semaphore bounds the
 * delivery transactions of all subscriptions together, so a burst of changes with many
 * subscribers leaves the pool to HTTP operations too.
 */
export class LiveHub {
  readonly #subscribers = new Set<Subscriber>();
  readonly #slots: Slots;
  #closed = false;

  constructor(private readonly options: LiveHubOptions) {
    this.#slots = new Slots(options.concurrency);
  }

  /** Subscriptions past their start checks, receiving events. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  dispatch(event: LiveEvent): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.accepts(event)) subscriber.queue.push(event);
    }
  }

  /**
   * The source stream of one subscription. NOTE: the payload's fields are resolved by graphql-js
   * after each yield with the same context object, so before yielding the stream points ctx.db and
   * ctx.loaders at the batch's open transaction, and ends that transaction only after the last
   * payload was sent (or the subscriber left).
   */
  stream<T>(
    ctx: GraphQLContext,
    session: LiveSession,
    spec: LiveStreamSpec<T>,
  ): AsyncIterableIterator<T> {
    const controller = new AbortController();
    const { signal } = controller;
    const queue = new EventQueue(this.options.queueLimit ?? QUEUE_LIMIT, signal);
    let markDone!: () => void;
    const subscriber: Subscriber = {
      accepts: () => false,
      queue,
      stop: () => controller.abort(),
      done: new Promise<void>((resolve) => (markDone = resolve)),
    };
    const generator = this.#run(ctx, session, spec, subscriber, signal, markDone);
    // An async generator waiting on its queue would not see return() until its next event; the
    // abort wakes it, so a client that leaves releases everything at once.
    const stream: AsyncIterableIterator<T> = {
      [Symbol.asyncIterator]: () => stream,
      next: () => generator.next(),
      return: (value?: unknown) => {
        controller.abort();
        return generator.return(value);
      },
      throw: (error?: unknown) => {
        controller.abort();
        return generator.throw(error);
      },
    };
    return stream;
  }

  async *#run<T>(
    ctx: GraphQLContext,
    session: LiveSession,
    spec: LiveStreamSpec<T>,
    subscriber: Subscriber,
    signal: AbortSignal,
    markDone: () => void,
  ): AsyncGenerator<T> {
    const started = performance.now();
    let delivered = 0;
    let outcome = 'completed';
    try {
      if (this.#closed) return;
      let accepts: ((event: LiveEvent) => boolean) | undefined;
      try {
        accepts = await spec.start(ctx);
      } finally {
        await ctx.db.finish(accepts !== undefined);
      }
      subscriber.accepts = accepts;
      this.#subscribers.add(subscriber);
      while (!signal.aborted) {
        const events = await subscriber.queue.take(this.options.batchSize ?? BATCH_SIZE);
        if (events.length === 0) continue;
        const release = await this.#slots.acquire();
        let fresh: GraphQLContext | undefined;
        try {
          if (signal.aborted) break;
          fresh = await session.reopen();
          const payloads = await spec.load(fresh, events);
          ctx.db = fresh.db;
          ctx.loaders = fresh.loaders;
          for (const payload of payloads) {
            if (signal.aborted) break;
            yield payload;
            delivered += 1;
          }
          await fresh.db.finish(true);
        } finally {
          await fresh?.db.finish(false);
          release();
        }
      }
    } catch (error) {
      outcome = 'error';
      throw error;
    } finally {
      this.#subscribers.delete(subscriber);
      ctx.log.info(
        {
          operationType: 'subscription',
          tenantId: ctx.db.stats.tenantId,
          userId: ctx.session?.userId,
          outcome,
          delivered,
          durationMs: Math.round(performance.now() - started),
        },
        'subscription ended',
      );
      markDone();
    }
  }

  /** Ends every subscription and waits (a few seconds at most) for their transactions to end. */
  async close(): Promise<void> {
    this.#closed = true;
    const done = [...this.#subscribers].map((s) => {
      s.stop();
      return s.done;
    });
    await Promise.race([
      Promise.all(done),
      new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref()),
    ]);
  }
}
