import cluster from 'node:cluster';
import type http from 'node:http';
import { isClusterMessage, sendToPrimary } from '../cluster/messages.js';
import type { RouteHandler } from '../http/server.js';
import type { Metrics } from './metrics.js';

/** How long a worker waits for the primary's aggregate (the primary gives up on workers at 5 s). */
const AGGREGATE_TIMEOUT_MS = 7_000;

type Render = () => Promise<{ contentType: string; body: string }>;

/** GET /metrics in the Prometheus text format: this process's, or in a cluster the instance's. */
export function createMetricsRoute(metrics: Metrics): RouteHandler {
  const render = cluster.isWorker ? renderThroughPrimary(metrics) : () => metrics.render();
  return async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    if (url.pathname !== '/metrics' || req.method !== 'GET') return false;
    const { contentType, body } = await render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
    return true;
  };
}

/**
 * In a cluster worker a scrape reaches whichever worker the primary hands the connection to, so
 * the worker asks the primary, which collects every worker's registry (src/cluster/metrics.ts)
 * and answers with the aggregate. This worker answers the primary's collections too.
 */
function renderThroughPrimary(metrics: Metrics): Render {
  let nextId = 0;
  const pending = new Map<number, (answer: { body?: string; error?: string }) => void>();
  process.on('message', (message: unknown) => {
    if (isClusterMessage(message, 'tenantql:metrics')) pending.get(message.id)?.(message);
    if (isClusterMessage(message, 'tenantql:collect')) {
      metrics.registry.getMetricsAsJSON().then(
        (json) => sendToPrimary({ type: 'tenantql:collected', id: message.id, metrics: json }),
        // Unanswered, the primary's collection times out and the scrape fails: as it should.
        () => undefined,
      );
    }
  });
  return async () => {
    const id = nextId++;
    const answer = new Promise<{ body?: string; error?: string }>((resolve) => {
      const timer = setTimeout(
        () => resolve({ error: 'the primary did not answer in time' }),
        AGGREGATE_TIMEOUT_MS,
      );
      pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    await sendToPrimary({ type: 'tenantql:metrics', id });
    const { body, error } = await answer.finally(() => pending.delete(id));
    if (body === undefined) throw new Error(`cluster metrics: ${error ?? 'no answer'}`);
    return { contentType: metrics.registry.contentType, body };
  };
}
