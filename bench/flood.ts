/**
 * Tenant A's flood in the fairness benchmark (bench/fairness.ts), run in a worker thread of the
 * load generator: parsing A's large answers then never holds up B's client on the main thread,
 * so B's latency is the API's, not the load generator's. The thread also runs at a lower CPU
 * priority (`nice`): on one machine, A's 32 clients would otherwise take CPU from the API and
 * PostgreSQL that clients on other machines never take, and B would be measuring that.
 */
import http from 'node:http';
import os from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { graphQLTask, runLoad, type LoadResult } from './load.js';

export interface FloodOrder {
  url: string;
  body: string;
  headers: Record<string, string>;
  clients: number;
  /** Load before the measured window, for the API's queues to fill; not counted. */
  warmupSeconds: number;
  seconds: number;
  /** Added to this thread's nice value (Linux keeps one per thread). */
  nice: number;
}

export type FloodMessage =
  { kind: 'warm' } | { kind: 'done'; result: LoadResult; errorCodes: Record<string, number> };

async function flood(order: FloodOrder, post: (message: FloodMessage) => void): Promise<void> {
  if (order.nice !== 0) os.setPriority(Math.min(19, os.getPriority() + order.nice));
  // A socket per client: the agent never queues A's requests itself.
  const agent = new http.Agent({ keepAlive: true, maxSockets: order.clients });
  const accept = (data: unknown) =>
    ((data as { projects?: { edges?: unknown[] } } | null)?.projects?.edges?.length ?? 0) > 0;
  const url = new URL(order.url);
  const warmCodes: Record<string, number> = {};
  await runLoad(
    order.clients,
    order.warmupSeconds,
    graphQLTask(url, order.body, order.headers, agent, accept, warmCodes),
  );
  post({ kind: 'warm' });
  const errorCodes: Record<string, number> = {};
  const result = await runLoad(
    order.clients,
    order.seconds,
    graphQLTask(url, order.body, order.headers, agent, accept, errorCodes),
  );
  agent.destroy();
  post({ kind: 'done', result, errorCodes });
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  await flood(workerData as FloodOrder, (message) => port.postMessage(message));
}
