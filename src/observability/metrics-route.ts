import cluster from 'node:cluster';
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { isClusterMessage, sendToPrimary } from '../cluster/messages.js';
import { requestTarget, type RequestTarget, type RouteHandler } from '../http/server.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

/** How long a worker waits for the primary's aggregate (the primary gives up on workers at 5 s). */
const AGGREGATE_TIMEOUT_MS = 7_000;

type Render = () => Promise<{ contentType: string; body: string }>;

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether the request carries `Authorization: Bearer <token>`. Both sides are hashed first, so
 * the comparison takes the same time whatever the length or content of what was sent.
 */
function hasToken(req: http.IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null;
}

/**
 * GET /metrics in the Prometheus text format: this process's, or in a cluster the instance's.
 * With `token` (METRICS_TOKEN) only scrapers sending it as a bearer token get an answer.
 */
export function createMetricsRoute(
  metrics: Metrics,
  options: { token?: string | undefined } = {},
): RouteHandler {
  const render = cluster.isWorker ? renderThroughPrimary(metrics) : () => metrics.render();
  const { token } = options;
  return async (req: http.IncomingMessage, res: http.ServerResponse, url: RequestTarget) => {
    if (url.pathname !== '/metrics' || req.method !== 'GET') return false;
    if (token !== undefined && !hasToken(req, token)) {
      res.writeHead(401, {
        'content-type': 'text/plain; charset=utf-8',
        'www-authenticate': 'Bearer realm="metrics"',
        'cache-control': 'no-store',
      });
      res.end('Send the METRICS_TOKEN as "Authorization: Bearer <token>".\n');
      return true;
    }
    const { contentType, body } = await render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
    return true;
  };
}

/**
 * A server of its own for /metrics (METRICS_PORT), so the port can stay inside the network while
 * the API port faces clients. Anything else on it is 404.
 */
export function createMetricsServer(route: RouteHandler, log: Logger): http.Server {
  return http.createServer((req, res) => {
    Promise.resolve(route(req, res, requestTarget(req.url)))
      .then((answered) => {
        if (answered) return;
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Only GET /metrics is served on this port.\n');
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'metrics scrape failed');
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('Metrics are unavailable right now.\n');
        }
      });
  });
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
