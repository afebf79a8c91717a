import type http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Logger } from '../logger.js';
import type { RequestTarget } from './server.js';
import {
  BUNDLE_FILES,
  PLAYGROUND_SCRIPT,
  PLAYGROUND_STYLE,
  loadPlaygroundBundle,
} from '../playground/bundle.js';

export interface PlaygroundOptions {
  /** Where the page sends operations (the server's own /graphql). */
  endpoint: string;
  /** Header the tenant picker fills (TENANT_HEADER). */
  tenantHeader: string;
  log: Logger;
}

const ASSET_PREFIX = '/playground/';
export const PLAYGROUND_SCRIPT_PATH = `${ASSET_PREFIX}${PLAYGROUND_SCRIPT}`;
export const PLAYGROUND_STYLE_PATH = `${ASSET_PREFIX}${PLAYGROUND_STYLE}`;
const ASSET_PATHS = new Set(BUNDLE_FILES.map((name) => `${ASSET_PREFIX}${name}`));

/**
 * NOTE: everything the page needs comes from this server ('self'); data: covers the fonts and
 * icons inlined into the stylesheet. The browser itself then refuses any request to another host,
 * which backs the promise that the playground works offline. GraphiQL sets inline styles.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const PAGE_STYLE = `
  html, body, #playground { height: 100%; margin: 0; }
  .tq-root { display: flex; flex-direction: column; height: 100%; font-family: system-ui, sans-serif; }
  .tq-panel { display: flex; gap: 0.6rem; align-items: center; flex-wrap: wrap; padding: 0.5rem 1rem;
    border-bottom: 1px solid #ddd; background: #f7f7f9; font-size: 14px; }
  .tq-panel input, .tq-panel select, .tq-panel button { font: inherit; padding: 0.2rem 0.4rem; }
  .tq-message { color: #666; }
  .tq-headers { color: #555; font-size: 12px; }
  .tq-graphiql { flex: 1; min-height: 0; }
`;

function escapeJsonForHtml(value: unknown): string {
  // `<` escaped so no string in the settings can close the script element.
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function playgroundPage(options: PlaygroundOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenantql playground</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${PLAYGROUND_STYLE_PATH}">
<style>${PAGE_STYLE}</style>
<script type="application/json" id="tenantql-settings">${escapeJsonForHtml({
    endpoint: options.endpoint,
    tenantHeader: options.tenantHeader,
  })}</script>
</head>
<body>
<div id="playground">Loading the playground…</div>
<script src="${PLAYGROUND_SCRIPT_PATH}"></script>
</body>
</html>
`;
}

/** A browser asking for a page, not a GraphQL client doing a GET query. */
function wantsPage(req: http.IncomingMessage, url: RequestTarget): boolean {
  return (
    req.method === 'GET' &&
    !url.searchParams.has('query') &&
    (req.headers.accept ?? '').includes('text/html')
  );
}

/**
 * Serves GraphiQL (bundled locally, see playground/bundle.ts) at GET /graphql for browsers, and
 * its two asset files. Returns false for requests it does not handle.
 */
export function createPlaygroundHandler(options: PlaygroundOptions) {
  const page = playgroundPage(options);
  // The script and the workers are megabytes; compressed once, they are about a quarter of that.
  const gzipped = new Map<string, Buffer>();
  return async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: RequestTarget,
  ): Promise<boolean> => {
    if (url.pathname === '/graphql' && wantsPage(req, url)) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(page);
      return true;
    }
    if (!ASSET_PATHS.has(url.pathname)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const bundle = await loadPlaygroundBundle().catch((error: unknown) => {
      options.log.error({ err: error }, 'could not build the playground bundle');
      return undefined;
    });
    if (!bundle) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The playground bundle could not be built; see the server log.');
      return true;
    }
    const name = url.pathname.slice(ASSET_PREFIX.length);
    const text = bundle[name] ?? '';
    const headers: http.OutgoingHttpHeaders = {
      'content-type': name.endsWith('.css')
        ? 'text/css; charset=utf-8'
        : 'text/javascript; charset=utf-8',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      vary: 'accept-encoding',
    };
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      let body = gzipped.get(url.pathname);
      if (!body) {
        body = gzipSync(text);
        gzipped.set(url.pathname, body);
      }
      res.writeHead(200, { ...headers, 'content-encoding': 'gzip' });
      res.end(body);
    } else {
      res.writeHead(200, headers);
      res.end(text);
    }
    return true;
  };
}
