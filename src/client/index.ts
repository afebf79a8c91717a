import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

export * from './generated/graphql.js';

/** A GraphQL error as tenantql sends it: a stable code and a message meant for people. */
export interface TenantqlErrorDetail {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; field?: string; [key: string]: unknown };
}

export class TenantqlError extends Error {
  override name = 'TenantqlError';

  constructor(
    readonly errors: TenantqlErrorDetail[],
    readonly status: number,
  ) {
    super(errors.map((e) => e.message).join('; ') || `HTTP ${status}`);
  }

  /** The first error's `extensions.code`, e.g. "FORBIDDEN". */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export interface TenantqlClientOptions {
  /** The /graphql endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  token?: string;
  /** Sent as X-Tenant-ID unless the token is already bound to a tenant (switchTenant). */
  tenantId?: string;
  fetch?: typeof fetch;
}

/**
 * A small typed client: pass a generated document and get typed data back, or a TenantqlError
 * carrying the server's error codes.
 */
export class TenantqlClient {
  token: string | undefined;
  tenantId: string | undefined;
  readonly #url: string;
  readonly #fetch: typeof fetch;

  constructor(options: TenantqlClientOptions) {
    this.#url = options.url;
    this.token = options.token;
    this.tenantId = options.tenantId;
    this.#fetch = options.fetch ?? fetch;
  }

  /** A copy of this client acting as another user or tenant. */
  with(changes: { token?: string; tenantId?: string | undefined }): TenantqlClient {
    return new TenantqlClient({
      url: this.#url,
      fetch: this.#fetch,
      token: 'token' in changes ? changes.token : this.token,
      tenantId: 'tenantId' in changes ? changes.tenantId : this.tenantId,
    });
  }

  async request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    // Variables may be left out when the operation has none, or only optional ones.
    ...[variables]: Record<string, never> extends TVariables ? [TVariables?] : [TVariables]
  ): Promise<TData> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.tenantId) headers['x-tenant-id'] = this.tenantId;
    const response = await this.#fetch(this.#url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await response.json()) as { data?: TData | null; errors?: TenantqlErrorDetail[] };
    if (body.errors?.length || body.data == null) {
      throw new TenantqlError(body.errors ?? [], response.status);
    }
    return body.data;
  }
}
