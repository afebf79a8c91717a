import type { ExecutionResult } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { FairShare } from '../db/fair-share.js';
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
  /**
   * The subscription's response to one payload: its selection executed with the payload as root,
   * on the subscription's context as it is at the call (the delivery transaction).
   */
  render(payload: unknown): Promise<ExecutionResult>;
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
  /** Of those, how many one tenant's subscribers may hold at once. */
  perTenant: number;
  /**
   * Charges one delivery (a batch of events, one transaction) to the subscription's tenant, as
   * one request of its budget; throws RATE_LIMITED, which ends the subscription, when it is spent.
   */
  charge(ctx: GraphQLContext, tenantId: string): Promise<void>;
  /** Events one subscriber may have waiting; beyond it the subscription ends (it fell behind). */
  queueLimit?: number;
  /** Events loaded in one transaction. */
  batchSize?: number;
}

const QUEUE_LIMIT = 1000;
const BATCH_SIZE = 100;
const CLOSE_WAIT_MS = 5_000;

/** How long a batch may wait for its tenant's turn before the subscription ends. */
const TURN_TIMEOUT_MS = 30_000;

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
 * small queue and delivers one batch at a time: in a transaction of its own it loads the payloads
 * and executes the subscription's selection on each, then ends the transaction and gives its
 * place back before anything is sent, so a subscriber that reads slowly holds nothing but its
 * own queue. Places are bounded for all subscriptions together (a burst of changes leaves the
 * pool to HTTP operations too) and shared between tenants round-robin, each tenant holding at
 * most `perTenant` of them.
 */
export class LiveHub {
  readonly #subscribers = new Set<Subscriber>();
  readonly #slots: FairShare;
  #closed = false;
  #started = 0;

  constructor(private readonly options: LiveHubOptions) {
    const capacity = Math.max(1, options.concurrency);
    this.#slots = new FairShare({
      capacity,
      perKey: Math.max(1, Math.min(options.perTenant, capacity)),
      timeoutMs: TURN_TIMEOUT_MS,
    });
  }

  /** Subscriptions past their start checks, receiving events. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Subscriptions that passed their start checks since the hub began. Grows with each start
   * even while others end, so waiting for one more start cannot be fooled by an end in between.
   */
  get startedCount(): number {
    return this.#started;
  }

  dispatch(event: LiveEvent): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.accepts(event)) subscriber.queue.push(event);
    }
  }

  /**
   * The responses of one subscription, already executed (see LiveSession.render): src/live/ws.ts
   * hands them to graphql-ws as they are, instead of letting graphql-js resolve each payload's
   * fields after it was yielded, which kept the transaction open while the socket was written.
   */
  stream<T>(
    ctx: GraphQLContext,
    session: LiveSession,
    spec: LiveStreamSpec<T>,
  ): AsyncIterableIterator<ExecutionResult> {
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
    const stream: AsyncIterableIterator<ExecutionResult> = {
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
  ): AsyncGenerator<ExecutionResult> {
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
      // The tenant start() verified; every delivery checks the membership again.
      const tenantId = ctx.db.stats.tenantId;
      const turn = tenantId ? `tenant:${tenantId}` : `user:${ctx.session?.userId ?? ''}`;
      this.#subscribers.add(subscriber);
      this.#started += 1;
      while (!signal.aborted) {
        const events = await subscriber.queue.take(this.options.batchSize ?? BATCH_SIZE);
        if (events.length === 0) continue;
        const responses: ExecutionResult[] = [];
        const release = await this.#slots.acquire(turn);
        let fresh: GraphQLContext | undefined;
        try {
          if (signal.aborted) break;
          fresh = await session.reopen();
          const payloads = await spec.load(fresh, events);
          if (tenantId && payloads.length > 0) await this.options.charge(fresh, tenantId);
          ctx.db = fresh.db;
          ctx.loaders = fresh.loaders;
          for (const payload of payloads) {
            if (signal.aborted) break;
            responses.push(await session.render(payload));
          }
          await fresh.db.finish(true);
        } finally {
          await fresh?.db.finish(false);
          release();
        }
        for (const response of responses) {
          if (signal.aborted) break;
          yield response;
          delivered += 1;
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
