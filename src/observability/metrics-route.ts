import type http from 'node:http';
import type { RouteHandler } from '../http/server.js';
import type { Metrics } from './metrics.js';

/** GET /metrics in the Prometheus text format. */
export function createMetricsRoute(metrics: Metrics): RouteHandler {
  return async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    if (url.pathname !== '/metrics' || req.method !== 'GET') return false;
    const { contentType, body } = await metrics.render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
    return true;
  };
}
