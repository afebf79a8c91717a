import { ServiceUnavailableError } from '../errors.js';

export interface FairShareOptions {
  /** Operations holding a connection at once, all keys together: the pool's size. */
  capacity: number;
  /** Operations one key (a tenant) may hold at once. */
  perKey: number;
  /** How long an operation may wait for its turn before SERVICE_UNAVAILABLE. */
  timeoutMs: number;
  /** Told how long each granted operation waited (0 when it did not). */
  onGranted?: (key: string, waitedMs: number) => void;
  onTimeout?: (key: string) => void;
}

interface Waiter {
  key: string;
  since: number;
  grant: (release: () => void) => void;
  timer: NodeJS.Timeout;
}

/**
 * Shares the API pool between tenants. A key (a tenant, or an unverified caller) holds at most
 * `perKey` connections at once; beyond that, and when the pool is full, its operations wait in
 * its own queue. When a connection frees, the queues are served round-robin, one operation per
 * key per turn: a tenant with one waiting operation waits behind at most one operation of each
 * other tenant, however many a busy tenant has queued. First-come queues (pg-pool's, and what
 * PostGraphile and Hasura do) let one tenant's burst fill the pool for everyone.
 */
export class FairShare {
  readonly #options: FairShareOptions;
  readonly #held = new Map<string, number>();
  readonly #queues = new Map<string, Waiter[]>();
  /** Keys with waiters, in the order their turn comes round. */
  readonly #turns: string[] = [];
  #next = 0;
  #holding = 0;

  constructor(options: FairShareOptions) {
    if (options.capacity < 1 || options.perKey < 1) {
      throw new RangeError('FairShare needs a capacity and a per-key share of at least 1.');
    }
    this.#options = options;
  }

  /**
   * Whether an operation of `key` asking now would be over the key's share: the key already
   * holds or waits for as many places as its share.
   */
  overShare(key: string): boolean {
    const held = this.#held.get(key) ?? 0;
    return held + (this.#queues.get(key)?.length ?? 0) >= this.#options.perKey;
  }

  /** Operations waiting for their turn, per key. */
  waiting(): Map<string, number> {
    return new Map([...this.#queues].map(([key, queue]) => [key, queue.length]));
  }

  /** Resolves with the function that gives the place back, once the key's turn has come. */
  acquire(key: string): Promise<() => void> {
    if (this.#mayHold(key) && !this.#queues.has(key)) {
      this.#options.onGranted?.(key, 0);
      return Promise.resolve(this.#hold(key));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        key,
        since: performance.now(),
        grant: resolve,
        timer: setTimeout(() => {
          this.#remove(waiter);
          this.#options.onTimeout?.(key);
          reject(new ServiceUnavailableError('The server is busy. Retry in a few seconds.'));
        }, this.#options.timeoutMs),
      };
      const queue = this.#queues.get(key);
      if (queue) queue.push(waiter);
      else {
        this.#queues.set(key, [waiter]);
        // A key that starts waiting takes its turn after every key already waiting.
        this.#turns.splice(this.#next, 0, key);
        this.#next = (this.#next + 1) % this.#turns.length;
      }
      // The pool may have room for this key right now (its own share was the limit before).
      this.#dispatch();
    });
  }

  #mayHold(key: string): boolean {
    return (
      this.#holding < this.#options.capacity && (this.#held.get(key) ?? 0) < this.#options.perKey
    );
  }

  #hold(key: string): () => void {
    this.#holding += 1;
    this.#held.set(key, (this.#held.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holding -= 1;
      const left = (this.#held.get(key) ?? 1) - 1;
      if (left === 0) this.#held.delete(key);
      else this.#held.set(key, left);
      this.#dispatch();
    };
  }

  /** Grants places round-robin over the waiting keys while the pool has room. */
  #dispatch(): void {
    let passed = 0;
    while (this.#holding < this.#options.capacity && passed < this.#turns.length) {
      const index = this.#next % this.#turns.length;
      const key = this.#turns[index];
      const queue = this.#queues.get(key) as Waiter[];
      if ((this.#held.get(key) ?? 0) >= this.#options.perKey) {
        this.#next = (index + 1) % this.#turns.length;
        passed += 1;
        continue;
      }
      const waiter = queue.shift() as Waiter;
      clearTimeout(waiter.timer);
      if (queue.length === 0) {
        this.#queues.delete(key);
        this.#turns.splice(index, 1);
        this.#next = this.#turns.length === 0 ? 0 : index % this.#turns.length;
      } else {
        this.#next = (index + 1) % this.#turns.length;
      }
      passed = 0;
      this.#options.onGranted?.(key, performance.now() - waiter.since);
      waiter.grant(this.#hold(key));
    }
  }

  #remove(waiter: Waiter): void {
    const queue = this.#queues.get(waiter.key);
    if (!queue) return;
    const at = queue.indexOf(waiter);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length > 0) return;
    this.#queues.delete(waiter.key);
    const turn = this.#turns.indexOf(waiter.key);
    this.#turns.splice(turn, 1);
    if (turn < this.#next) this.#next -= 1;
    if (this.#turns.length === 0) this.#next = 0;
    else this.#next %= this.#turns.length;
  }
}
