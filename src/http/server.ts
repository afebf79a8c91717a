import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { GraphQLContext, RequestParts } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import { traceOperation } from '../observability/tracing.js';

export interface HttpServerOptions {
  apollo: ApolloServer<GraphQLContext>;
  createContext: (request: RequestParts) => Promise<GraphQLContext>;
  log: Logger;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  /**
   * Database reachable and migrations current. `detail` is shown to whoever asks, so it never
   * carries driver error text; `warning` flags a setting to fix without making the instance
   * unready.
   */
  readiness: () => Promise<{ ready: boolean; detail: string; warning?: string | undefined }>;
  /**
   * Extra handlers (playground, metrics …) tried in order before the built-in routes; each returns
   * true when it answered. Kept as a list so features plug in without editing this file.
   */
  routes?: RouteHandler[];
  /** Takes WebSocket upgrades of /graphql (subscriptions, src/live/ws.ts); others get 404. */
  upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * Answers and returns true, or returns false to pass the request on. A handler that decides
 * without waiting returns a plain boolean: each request goes past every handler, and awaiting a
 * settled promise per handler is measurable on the hottest path.
 */
export type RouteHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: RequestTarget,
) => boolean | Promise<boolean>;

/** What the handlers read of the request's URL. */
export type RequestTarget = Pick<URL, 'pathname' | 'search' | 'searchParams'>;

/** Paths with nothing for URL parsing to normalise: no dot segments, empty segments or escapes. */
const PLAIN_PATH = /^(?:(?:\/[\w~-][\w.~-]*)+\/?|\/)$/;
/** Query strings URL parsing leaves as they are. */
const PLAIN_SEARCH = /^[\w.~%&=+,:@/-]*$/;

class PlainTarget implements RequestTarget {
  #searchParams: URLSearchParams | undefined;
  constructor(
    readonly pathname: string,
    readonly search: string,
  ) {}
  get searchParams(): URLSearchParams {
    return (this.#searchParams ??= new URLSearchParams(this.search));
  }
}

/**
 * The request's path and query as `new URL(req.url, base)` gives them. Parsing a URL costs more
 * than a few percent of a small operation's time, so the common plain form is split by hand and
 * anything else goes through URL.
 */
export function requestTarget(raw: string | undefined): RequestTarget {
  const target = raw ?? '/';
  const mark = target.indexOf('?');
  const pathname = mark === -1 ? target : target.slice(0, mark);
  const query = mark === -1 ? '' : target.slice(mark + 1);
  if (PLAIN_PATH.test(pathname) && PLAIN_SEARCH.test(query)) {
    return new PlainTarget(pathname, query === '' ? '' : `?${query}`);
  }
  return new URL(target, 'http://localhost');
}

class BodyTooLargeError extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLargeError());
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError());
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
}

function errorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * The challenge of a 401 (RFC 6750): `invalid_token` when the request sent a token and it did not
 * give a session (bad signature, expired, signed out, malformed header); a bare `Bearer` when no
 * token was sent or the token was fine and something else was refused (a wrong password).
 */
function bearerChallenge(req: http.IncomingMessage, context: GraphQLContext | undefined): string {
  const sent = req.headers.authorization !== undefined;
  return sent && !context?.session ? 'Bearer error="invalid_token"' : 'Bearer';
}

/**
 * A plain Node HTTP server: /graphql through Apollo's executeHTTPGraphQLRequest, plus health
 * endpoints. Whatever happens to the request, the operation's transaction is ended and its
 * connection released.
 */
export function createHttpServer(options: HttpServerOptions): http.Server {
  const { apollo, log } = options;

  async function handleGraphQL(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: RequestTarget,
  ) {
    const requestId =
      (typeof req.headers['x-request-id'] === 'string' &&
        req.headers['x-request-id'].slice(0, 100)) ||
      randomUUID();
    res.setHeader('x-request-id', requestId);
    let rawBody: string;
    try {
      rawBody = await readBody(req, options.bodyLimit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendJson(
          res,
          413,
          errorBody(
            `The request body is larger than ${options.bodyLimit} bytes.`,
            'BAD_USER_INPUT',
          ),
        );
        return;
      }
      throw error;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown = undefined;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        sendJson(res, 400, errorBody('The request body is not valid JSON.', 'BAD_REQUEST'));
        return;
      }
    }
    let context: GraphQLContext | undefined;
    try {
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
        context: async () => {
          context = await options.createContext({
            headers: req.headers,
            search: url.searchParams,
            requestId,
            remoteAddress: req.socket.remoteAddress,
          });
          return context;
        },
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      res.statusCode = response.status ?? 200;
      // Retry-After of a 429 comes with the error (RateLimitedError); the challenge depends on
      // the request, so it is decided here.
      if (res.statusCode === 401) res.setHeader('www-authenticate', bearerChallenge(req, context));
      if (response.body.kind === 'complete') {
        res.end(response.body.string);
      } else {
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } finally {
      // Normally already finished by the plugin; this covers paths where Apollo never got there.
      await context?.db.finish(false).catch((error: unknown) => {
        log.error({ err: error, requestId }, 'failed to end an operation transaction');
      });
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = requestTarget(req.url);
    for (const route of options.routes ?? []) {
      const answered = route(req, res, url);
      if (answered === true || (answered !== false && (await answered))) return;
    }
    if (url.pathname === '/graphql') return traceOperation(() => handleGraphQL(req, res, url));
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      const { ready, detail, warning } = await options.readiness();
      return sendJson(res, ready ? 200 : 503, {
        status: ready ? 'ready' : 'not ready',
        detail,
        ...(warning ? { warning } : {}),
      });
    }
    sendJson(
      res,
      404,
      errorBody(`Nothing at ${url.pathname}. The API is at /graphql.`, 'NOT_FOUND'),
    );
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) {
        sendJson(res, 500, errorBody('Internal server error.', 'INTERNAL_SERVER_ERROR'));
      } else {
        res.destroy();
      }
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // An upgraded socket is no longer the HTTP server's: without a listener for its errors, a
    // client resetting the connection would crash the process.
    socket.on('error', () => undefined);
    if (requestTarget(req.url).pathname === '/graphql' && options.upgrade) {
      options.upgrade(req, socket, head);
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  });
  return server;
}
