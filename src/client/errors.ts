/** A GraphQL error as tenantql sends it: a stable code and a message meant for people. */
export interface TenantqlErrorDetail {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; field?: string; [key: string]: unknown };
}

/**
 * Codes the client gives errors that never reached the API's GraphQL layer, besides the server's
 * own (UNAUTHENTICATED, FORBIDDEN …).
 */
export const CLIENT_ERROR_CODES = {
  /** The request never got an answer: DNS, refused connection, reset, aborted. */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** An answer that is not a GraphQL JSON response, such as a proxy's HTML 502 page. */
  UNEXPECTED_RESPONSE: 'UNEXPECTED_RESPONSE',
  /** The subscription WebSocket closed without a GraphQL error to tell why. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
} as const;

export class TenantqlError extends Error {
  override name = 'TenantqlError';

  constructor(
    readonly errors: TenantqlErrorDetail[],
    /** The HTTP status of the answer; 0 when there was none (network, WebSocket). */
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(errors.map((e) => e.message).join('; ') || `HTTP ${status}`, options);
  }

  /** The first error's `extensions.code`, e.g. "FORBIDDEN". */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }

  /** An error of the client's own (CLIENT_ERROR_CODES), not one the API sent. */
  static of(
    code: keyof typeof CLIENT_ERROR_CODES,
    message: string,
    status = 0,
    cause?: unknown,
  ): TenantqlError {
    return new TenantqlError([{ message, extensions: { code } }], status, { cause });
  }
}
