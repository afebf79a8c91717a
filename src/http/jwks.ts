import type { TokenService } from '../auth/jwt.js';
import type { RouteHandler } from './server.js';

export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * tenantql's public signing keys, for services that verify its tokens themselves. Only with a key
 * pair: an HS256 secret is never published, so then there is nothing here (404).
 */
export function createJwksRoute(tokens: TokenService): RouteHandler {
  return (req, res, url) => {
    if (url.pathname !== JWKS_PATH) return false;
    const keys = tokens.publicJwks();
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
      return true;
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return json(
        405,
        { errors: [{ message: 'Use GET.', extensions: { code: 'BAD_REQUEST' } }] },
        { allow: 'GET, HEAD' },
      );
    }
    if (!keys) {
      return json(404, {
        errors: [
          {
            message:
              'tenantql signs its tokens with an HS256 secret, which is never published. ' +
              'Configure JWT_PRIVATE_KEY and JWT_PUBLIC_KEY to publish a key set.',
            extensions: { code: 'NOT_FOUND' },
          },
        ],
      });
    }
    // Short enough that verifiers see a rotation's new key well within any sensible overlap.
    return json(200, { keys }, { 'cache-control': 'public, max-age=300' });
  };
}
