import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { Credentials, type TokenPair } from './credentials.js';
import { CLIENT_ERROR_CODES, TenantqlError, type TenantqlErrorDetail } from './errors.js';
import { RefreshTokenDocument } from './generated/graphql.js';

export interface TenantqlClientOptions {
  /** The /graphql endpoint, e.g. http://localhost:4000/graphql (subscriptions use ws: on it). */
  url: string;
  /** The access token (login, signUp), or an API key. */
  token?: string;
  /** With it, an access token about to expire (or refused as expired) is replaced by itself. */
  refreshToken?: string;
  /** Told every new pair after a refresh, e.g. to keep it for the next start. */
  onTokens?: (tokens: TokenPair) => void;
  /** Sent in the tenant header unless the token is already bound to a tenant (switchTenant). */
  tenantId?: string;
  /** The server's TENANT_HEADER; X-Tenant-ID by default, as on the server. */
  tenantHeader?: string;
  /** Refresh this many seconds before the access token expires; 30 by default. */
  refreshMarginSeconds?: number;
  fetch?: typeof fetch;
  /**
   * The WebSocket class for subscriptions where there is no global one (Node 20: `import
   * WebSocket from 'ws'`); browsers and Node 22 or later need nothing.
   */
  webSocketImpl?: unknown;
}

type Variables<TVariables> =
  // Variables may be left out when the operation has none, or only optional ones.
  Record<string, never> extends TVariables ? [TVariables?] : [TVariables];

interface Settings {
  url: string;
  tenantHeader: string;
  fetch: typeof fetch;
  webSocketImpl: unknown;
  marginMs: number;
}

interface GraphQLBody {
  data?: unknown;
  errors?: TenantqlErrorDetail[];
}

/** Past this much of a non-JSON answer, the rest is left out of the error message. */
const EXCERPT_LENGTH = 200;

function isGraphQLBody(value: unknown): value is GraphQLBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as GraphQLBody;
  return Array.isArray(body.errors) || (body.data !== undefined && body.errors === undefined);
}

/** The WebSocket URL of an http(s) endpoint. */
function webSocketUrl(url: string): string {
  const ws = new URL(url);
  if (ws.protocol === 'http:') ws.protocol = 'ws:';
  if (ws.protocol === 'https:') ws.protocol = 'wss:';
  return ws.href;
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

/** What graphql-ws rejects a subscription with, as a TenantqlError. */
function subscriptionError(error: unknown): TenantqlError {
  if (error instanceof TenantqlError) return error;
  if (Array.isArray(error)) return new TenantqlError(error as TenantqlErrorDetail[], 0);
  if (isCloseEvent(error)) {
    // The server closes with reasons such as "UNAUTHENTICATED: send connectionParams …".
    const code = /^([A-Z][A-Z_]+):/.exec(error.reason)?.[1] ?? CLIENT_ERROR_CODES.CONNECTION_CLOSED;
    return new TenantqlError(
      [{ message: `${error.code}: ${error.reason || 'connection closed'}`, extensions: { code } }],
      0,
      { cause: error },
    );
  }
  return TenantqlError.of('NETWORK_ERROR', `subscription failed: ${String(error)}`, 0, error);
}

/**
 * The typed tenantql client: pass a generated document and get typed data back, or a
 * TenantqlError carrying the server's error code. Queries and mutations go over HTTP,
 * subscriptions over one WebSocket (graphql-ws) opened when the first one starts.
 */
export class TenantqlClient {
  readonly tenantId: string | undefined;
  readonly #settings: Settings;
  readonly #credentials: Credentials;
  #live: Client | undefined;

  constructor(options: TenantqlClientOptions);
  /** @internal A client sharing another one's credentials (with()). */
  constructor(options: TenantqlClientOptions, shared: Credentials);
  constructor(options: TenantqlClientOptions, shared?: Credentials) {
    this.#settings = {
      url: options.url,
      tenantHeader: (options.tenantHeader ?? 'x-tenant-id').toLowerCase(),
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      webSocketImpl: options.webSocketImpl,
      marginMs: (options.refreshMarginSeconds ?? 30) * 1000,
    };
    this.tenantId = options.tenantId;
    this.#credentials =
      shared ??
      new Credentials(options.token, options.refreshToken, {
        exchange: (refreshToken) => this.#exchange(refreshToken),
        onTokens: options.onTokens,
        marginMs: this.#settings.marginMs,
      });
  }

  /** The access token sent now (it changes when refreshed). */
  get token(): string | undefined {
    return this.#credentials.token;
  }

  get refreshToken(): string | undefined {
    return this.#credentials.refreshToken;
  }

  /**
   * A client acting as another user or in another tenant. Without a new token it shares this
   * client's sign-in, refreshes included (a refresh token works only once).
   */
  with(changes: {
    token?: string;
    refreshToken?: string;
    tenantId?: string | undefined;
  }): TenantqlClient {
    const options: TenantqlClientOptions = {
      url: this.#settings.url,
      tenantHeader: this.#settings.tenantHeader,
      fetch: this.#settings.fetch,
      webSocketImpl: this.#settings.webSocketImpl,
      refreshMarginSeconds: this.#settings.marginMs / 1000,
      tenantId: 'tenantId' in changes ? changes.tenantId : this.tenantId,
    };
    if ('token' in changes || 'refreshToken' in changes) {
      return new TenantqlClient({
        ...options,
        token: changes.token,
        refreshToken: changes.refreshToken,
      });
    }
    return new TenantqlClient(options, this.#credentials);
  }

  async request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables]: Variables<NoInfer<TVariables>>
  ): Promise<TData> {
    const query = print(document);
    const sent = await this.#credentials.current();
    let response = await this.#post(query, variables, sent);
    // A token refused as expired (a sleeping laptop, a skewed clock) gets one refresh and retry;
    // nothing of the operation ran, the whole request was refused.
    if (
      response.status === 401 &&
      sent !== undefined &&
      this.#credentials.canRefresh &&
      /invalid_token/.test(response.headers.get('www-authenticate') ?? '')
    ) {
      response = await this.#post(query, variables, await this.#credentials.refresh(sent));
    }
    return (await this.#read(response)) as TData;
  }

  /**
   * The events of a subscription, typed like request()'s data. Ends with a TenantqlError when
   * the server refuses or ends it; `break` out of the loop (or call return()) to unsubscribe. The
   * connection is reopened with a refreshed token before the old one expires, and the
   * subscriptions re-sent on it: events in that moment (well under a second) can be missed.
   */
  subscribe<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    ...[variables]: Variables<NoInfer<TVariables>>
  ): AsyncIterableIterator<TData> {
    const results = this.#liveClient().iterate<TData>({
      query: print(document),
      variables: variables ?? {},
    });
    const events: AsyncIterableIterator<TData> = {
      [Symbol.asyncIterator]: () => events,
      async next() {
        let result: IteratorResult<{ data?: TData | null; errors?: readonly unknown[] }>;
        try {
          result = await results.next();
        } catch (error) {
          throw subscriptionError(error);
        }
        if (result.done) return { done: true, value: undefined };
        const { data, errors } = result.value;
        if (errors?.length || data == null) {
          await results.return?.();
          throw new TenantqlError((errors ?? []) as TenantqlErrorDetail[], 0);
        }
        return { done: false, value: data };
      },
      async return() {
        await results.return?.();
        return { done: true, value: undefined };
      },
    };
    return events;
  }

  /** Closes the subscription connection, if one is open; running subscriptions end. */
  async close(): Promise<void> {
    const live = this.#live;
    this.#live = undefined;
    await live?.dispose();
  }

  #headers(token: string | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (this.tenantId) headers[this.#settings.tenantHeader] = this.tenantId;
    return headers;
  }

  async #post(query: string, variables: unknown, token: string | undefined): Promise<Response> {
    try {
      return await this.#settings.fetch(this.#settings.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...this.#headers(token),
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      throw TenantqlError.of(
        'NETWORK_ERROR',
        `could not reach ${this.#settings.url}: ${error instanceof Error ? error.message : String(error)}`,
        0,
        error,
      );
    }
  }

  /** The data of an answer, or a TenantqlError: the API's errors, or what else came back. */
  async #read(response: Response): Promise<unknown> {
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!isGraphQLBody(body)) {
      const type = response.headers.get('content-type') ?? 'no content type';
      const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, EXCERPT_LENGTH);
      throw TenantqlError.of(
        'UNEXPECTED_RESPONSE',
        `HTTP ${response.status} from ${this.#settings.url} is not a GraphQL response ` +
          `(${type}): ${excerpt || '(empty body)'}. Is the URL right, or a proxy in between failing?`,
        response.status,
      );
    }
    if (body.errors?.length || body.data == null) {
      throw new TenantqlError(body.errors ?? [], response.status);
    }
    return body.data;
  }

  /** The refreshToken mutation, sent without the old access token (it may have expired). */
  async #exchange(refreshToken: string): Promise<TokenPair> {
    const response = await this.#post(print(RefreshTokenDocument), { token: refreshToken }, '');
    const data = (await this.#read(response)) as { refreshToken: TokenPair };
    return data.refreshToken;
  }

  #liveClient(): Client {
    if (this.#live) return this.#live;
    let connectedWith: string | undefined;
    let renewal: ReturnType<typeof setTimeout> | undefined;
    let renewing = false;
    const live = createClient({
      url: webSocketUrl(this.#settings.url),
      webSocketImpl: this.#settings.webSocketImpl,
      connectionParams: async () => {
        connectedWith = await this.#credentials.current();
        return this.#headers(connectedWith);
      },
      retryWait: async (retries) => {
        if (renewing) {
          renewing = false;
          return;
        }
        // graphql-ws' own default: exponential, randomised so that clients do not come back at once.
        const ms = 2 ** retries * 1000 + 300 + Math.floor(Math.random() * 2700);
        await new Promise((resolve) => setTimeout(resolve, ms));
      },
      on: {
        connected: () => {
          // The server checks the token again at every event: the connection is renewed with a
          // fresh one before this one expires.
          const due = this.#credentials.refreshAt(connectedWith);
          if (due === undefined || connectedWith === undefined) return;
          const stale = connectedWith;
          renewal = setTimeout(
            () => {
              this.#credentials.refresh(stale).then(
                () => {
                  renewing = true;
                  live.terminate();
                },
                // Left to the server: the subscription ends with UNAUTHENTICATED when it expires.
                () => undefined,
              );
            },
            Math.max(0, due - Date.now()),
          );
          // Node: a pending renewal alone does not keep the process alive.
          (renewal as { unref?: () => void }).unref?.();
        },
        closed: () => clearTimeout(renewal),
      },
    });
    this.#live = live;
    return live;
  }
}
