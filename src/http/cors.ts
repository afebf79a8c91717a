import type http from 'node:http';
import type { RouteHandler } from './server.js';

/**
 * CORS for browser clients on other origins, from an allowlist (CORS_ORIGINS). Unlisted origins
 * get no CORS headers, so browsers refuse to let their pages read the answers; "*" allows any
 * origin, which is safe here only because tokens travel in a header, never in a cookie.
 * Returns false for everything but preflights, after adding the headers to the response.
 */
export function createCorsRoute(allowed: string[], tenantHeaders: string[]): RouteHandler {
  const any = allowed.includes('*');
  const origins = new Set(allowed.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  const allowHeaders = [
    'authorization',
    'content-type',
    'x-request-id',
    'apollo-require-preflight',
    ...tenantHeaders,
  ].join(', ');
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const origin = req.headers.origin;
    res.setHeader('vary', 'Origin');
    if (!origin || !(any || origins.has(origin.toLowerCase()))) return false;
    res.setHeader('access-control-allow-origin', any ? '*' : origin);
    res.setHeader('access-control-expose-headers', 'x-request-id');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': allowHeaders,
        'access-control-max-age': '600',
      });
      res.end();
      return true;
    }
    return false;
  };
}
