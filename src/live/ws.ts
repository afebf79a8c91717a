import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  GraphQLError,
  OperationTypeNode,
  createSourceEventStream,
  execute,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context as WsContext } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GraphQLContext, RequestParts } from '../graphql/context.js';
import { createFormatError } from '../graphql/errors.js';
import {
  checkOperationCost,
  limitParseOptions,
  limitValidationRules,
  type QueryLimits,
} from '../graphql/limits.js';
import { AppError, UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LiveHub } from './hub.js';

export interface LiveServerOptions {
  schema: GraphQLSchema;
  createContext: (request: RequestParts) => Promise<GraphQLContext>;
  hub: LiveHub;
  log: Logger;
  /** Largest message accepted, in bytes (the HTTP body limit). */
  maxPayload: number;
  production: boolean;
  /** A response not taken for sending within this long ends the connection (SLOW_CONSUMER). */
  sendTimeoutMs: number;
  /** Open connections per user (or API key) on this instance. */
  maxConnectionsPerUser: number;
  /** The same limits as HTTP operations get (QUERY_MAX_*). */
  limits: QueryLimits;
}

export interface LiveServer {
  /** Takes over an HTTP upgrade request for the GraphQL path. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Refuses new connections, closes open ones (1001, clients reconnect elsewhere), ends streams. */
  close(): Promise<void>;
}

/** Subscriptions one connection may hold at once. */
const MAX_SUBSCRIPTIONS = 25;
const CLOSE_WAIT_MS = 2_000;
/** Private-use close codes (graphql-ws keeps 4400–4499 for its own). */
const SLOW_CONSUMER = 4008;
const TOO_MANY_CONNECTIONS = 4029;

type ConnectionContext = WsContext<Record<string, unknown> | undefined, Extra>;

/**
 * The connection's headers as an HTTP request would have them: authorization and the tenant
 * (X-Tenant-ID, X-Tenant-Slug …) come from connectionParams, since browsers cannot set headers on
 * a WebSocket; the host and forwarding headers only from the real upgrade request.
 */
function connectionHeaders(
  params: Record<string, unknown> | undefined,
  request: IncomingMessage,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
  delete headers.host;
  delete headers['x-forwarded-for'];
  if (request.headers.host) headers.host = request.headers.host;
  if (request.headers['x-forwarded-for']) {
    headers['x-forwarded-for'] = request.headers['x-forwarded-for'];
  }
  return headers;
}

function requestParts(ctx: ConnectionContext): RequestParts {
  const { request } = ctx.extra;
  return {
    headers: connectionHeaders(ctx.connectionParams, request),
    search: new URL(request.url ?? '/', 'http://localhost').searchParams,
    requestId: randomUUID(),
    remoteAddress: request.socket.remoteAddress,
  };
}

function coded(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * Passes a subscription's responses through and watches each send: graphql-ws asks for the next
 * response only once the previous one was written to the socket, so a response left unasked for
 * `timeoutMs` means the client stopped reading. Then `onStuck` ends the connection; its backlog
 * is that subscriber's alone (the hub holds no transaction or pool place while it sends).
 */
function watchSends(
  responses: AsyncIterable<ExecutionResult>,
  timeoutMs: number,
  onStuck: () => void,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = responses[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const watched: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => watched,
    async next() {
      clearTimeout(timer);
      const result = await iterator.next();
      if (!result.done) timer = setTimeout(onStuck, timeoutMs);
      return result;
    },
    async return(value?: unknown) {
      clearTimeout(timer);
      return (await iterator.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      clearTimeout(timer);
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
  return watched;
}

/**
 * GraphQL subscriptions over WebSocket (graphql-transport-ws protocol, graphql-ws) on the /graphql
 * path. Queries and mutations stay on HTTP, where the operation transaction, rate limits and logs
 * apply. A connection without a valid token is closed with 4401 "UNAUTHENTICATED…"; every
 * subscription then resolves its tenant and checks membership like an HTTP operation would.
 */
export function createLiveServer(options: LiveServerOptions): LiveServer {
  const { schema, createContext, hub, log } = options;
  const formatError = createFormatError(log);
  const format = (error: GraphQLError): GraphQLFormattedError =>
    // graphql-ws wraps what a stream throws in a GraphQLError of its own; the cause has the code.
    formatError(error.toJSON(), error.path ? error : (error.originalError ?? error));
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload });
  let closing = false;
  /** Open connections per user (or API key), against LIVE_MAX_CONNECTIONS_PER_USER. */
  const perUser = new Map<string, number>();
  /** The socket of each subscription's context, for subscribe() to end a stuck connection. */
  const sockets = new WeakMap<GraphQLContext, Extra['socket']>();

  /** A context with a verified session, or the coded reason there is none. */
  async function open(parts: RequestParts): Promise<GraphQLContext> {
    const context = await createContext(parts);
    if (!context.session) throw context.authError ?? new UnauthenticatedError();
    return context;
  }

  function prepare(query: unknown): DocumentNode | readonly GraphQLError[] {
    let document: DocumentNode;
    try {
      document = parse(typeof query === 'string' ? query : '', limitParseOptions(options.limits));
    } catch (error) {
      return [
        coded(
          error instanceof GraphQLError ? error.message : 'Syntax error',
          'GRAPHQL_PARSE_FAILED',
        ),
      ];
    }
    // As over HTTP (hideSchemaDetailsFromClientErrors): no "Did you mean …?" in production.
    const errors = validate(
      schema,
      document,
      [...specifiedRules, ...limitValidationRules(options.limits)],
      {
        hideSuggestions: options.production,
      },
    );
    if (errors.length > 0) {
      // The limit rules report their coded errors as they are; graphql-js wraps what others throw.
      return errors.map((e) =>
        e instanceof AppError
          ? e
          : e.originalError instanceof AppError
            ? e.originalError
            : new GraphQLError(e.message, {
                nodes: e.nodes,
                extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
              }),
      );
    }
    return document;
  }

  const server = useServer<Record<string, unknown> | undefined>(
    {
      schema,
      isProd: options.production,
      onConnect: async (ctx) => {
        // Only the token decides whether the connection stays (parameter names are
        // case-insensitive, like headers): tenant problems are reported per subscription, with
        // the codes an HTTP operation would get.
        const { authorization } = connectionHeaders(ctx.connectionParams, ctx.extra.request);
        try {
          const context = await open({ headers: { authorization }, search: new URLSearchParams() });
          const user = context.session?.userId ?? `key:${context.apiKey?.prefix ?? ''}`;
          const held = perUser.get(user) ?? 0;
          if (held >= options.maxConnectionsPerUser) {
            ctx.extra.socket.close(
              TOO_MANY_CONNECTIONS,
              `TOO_MANY_CONNECTIONS: at most ${options.maxConnectionsPerUser} live connections per user`,
            );
            return false;
          }
          perUser.set(user, held + 1);
          ctx.extra.socket.once('close', () => {
            const left = (perUser.get(user) ?? 1) - 1;
            if (left > 0) perUser.set(user, left);
            else perUser.delete(user);
          });
          return true;
        } catch (error) {
          if (!(error instanceof UnauthenticatedError)) throw error;
          ctx.extra.socket.close(
            CloseCode.Unauthorized,
            'UNAUTHENTICATED: send connectionParams {authorization: "Bearer <token>"}',
          );
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS) {
          return [
            coded(`At most ${MAX_SUBSCRIPTIONS} subscriptions per connection.`, 'BAD_REQUEST'),
          ];
        }
        const prepared = prepare(payload.query);
        if (!('kind' in prepared)) return prepared;
        const operation = getOperationAST(prepared, payload.operationName);
        if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) {
          return [
            coded(
              'Only subscriptions run over WebSocket; send queries and mutations with HTTP POST.',
              'BAD_REQUEST',
            ),
          ];
        }
        // Checked once, at subscribe time: every event then resolves this selection again, so a
        // selection too costly for one HTTP operation would cost that much per event.
        try {
          checkOperationCost(
            schema,
            prepared,
            operation,
            payload.variables ?? undefined,
            options.limits,
          );
        } catch (error) {
          if (error instanceof AppError) return [error];
          throw error;
        }
        const parts = requestParts(ctx);
        let contextValue: GraphQLContext;
        try {
          contextValue = await open(parts);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          document: prepared,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
        sockets.set(contextValue, ctx.extra.socket);
        contextValue.live = {
          hub,
          reopen: () => open(parts),
          render: async (root) => execute({ ...args, rootValue: root }),
        };
        return args;
      },
      // The hub's streams yield responses it already executed in the delivery transaction
      // (LiveSession.render), so graphql-js' own mapping of events to responses is skipped.
      subscribe: async (args): Promise<ExecutionResult | AsyncIterable<ExecutionResult>> => {
        const source: unknown = await createSourceEventStream(args);
        if (!isAsyncIterable(source)) return source as ExecutionResult;
        const socket = sockets.get(args.contextValue as GraphQLContext);
        if (!socket) return source;
        return watchSends(source, options.sendTimeoutMs, () => {
          socket.close(SLOW_CONSUMER, 'SLOW_CONSUMER: events were not read in time; reconnect');
          setTimeout(() => socket.terminate(), CLOSE_WAIT_MS).unref();
        });
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map(format) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map(format),
    },
    wss,
  );

  return {
    handleUpgrade(request, socket, head) {
      if (closing) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    },
    get connections() {
      return wss.clients.size;
    },
    async close() {
      closing = true;
      const sockets = [...wss.clients];
      const closed = Promise.all(
        sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))),
      );
      await server.dispose();
      // A client that never answers the close handshake is cut after a short wait.
      const cutoff = setTimeout(() => {
        for (const s of sockets) s.terminate();
      }, CLOSE_WAIT_MS);
      try {
        await closed;
      } finally {
        clearTimeout(cutoff);
      }
      await hub.close();
    },
  };
}
