import type { Worker } from 'node:cluster';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Registry,
  type PrometheusContentType,
} from 'prom-client';
import type { ClusterMessage } from './messages.js';

/** A worker that has not answered by then fails the scrape (Prometheus then records it as down). */
const COLLECT_TIMEOUT_MS = 5_000;

interface Collection {
  waiting: Set<Worker>;
  answers: object[];
  done: (error: Error | undefined) => void;
}

/**
 * The primary's side of /metrics in a cluster: asks every serving worker for its registry and
 * sums them with prom-client's AggregatorRegistry.aggregate (counters and histograms summed,
 * gauges summed unless a metric names another aggregator).
 *
 * NOTE: not AggregatorRegistry#clusterMetrics(), which asks every connected worker: a replacement
 * still starting up cannot answer yet, so each scrape during a restart would wait 5 s and fail.
 * Only workers that reported ready are asked here, and one that exits meanwhile is left out.
 * The primary's own process metrics (CPU, memory) are added, so they cover the whole instance.
 */
export class ClusterMetrics {
  #nextId = 0;
  readonly #collections = new Map<number, Collection>();
  readonly #primary = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.#primary, prefix: 'tenantql_' });
  }

  async collect(workers: Worker[]): Promise<string> {
    const id = this.#nextId++;
    const own = await this.#primary.getMetricsAsJSON();
    return new Promise<string>((resolve, reject) => {
      const collection: Collection = {
        waiting: new Set(workers),
        answers: [own],
        done: (error) => {
          this.#collections.delete(id);
          clearTimeout(timer);
          if (error) reject(error);
          else
            AggregatorRegistry.aggregate<PrometheusContentType>(collection.answers)
              .metrics()
              .then(resolve, reject);
        },
      };
      const timer = setTimeout(
        () => collection.done(new Error('a worker did not report its metrics in time')),
        COLLECT_TIMEOUT_MS,
      );
      this.#collections.set(id, collection);
      for (const worker of workers) {
        worker.send({ type: 'tenantql:collect', id } satisfies ClusterMessage);
      }
      if (workers.length === 0) collection.done(undefined);
    });
  }

  collected(worker: Worker, message: Extract<ClusterMessage, { type: 'tenantql:collected' }>) {
    const collection = this.#collections.get(message.id);
    if (!collection?.waiting.delete(worker)) return;
    collection.answers.push(message.metrics);
    if (collection.waiting.size === 0) collection.done(undefined);
  }

  /** A worker that exits takes its numbers with it: the scrape goes on without them. */
  exited(worker: Worker): void {
    for (const collection of this.#collections.values()) {
      if (collection.waiting.delete(worker) && collection.waiting.size === 0) {
        collection.done(undefined);
      }
    }
  }
}
