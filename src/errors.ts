import { GraphQLError } from 'graphql';

/** Stable codes clients can branch on (`errors[0].extensions.code`). */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'TENANT_REQUIRED'
  | 'TENANT_NOT_ALLOWED'
  | 'TENANT_SUSPENDED'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED'
  | 'SERVICE_UNAVAILABLE'
  | 'INVALID_TRANSITION'
  // Refused by the query limits (src/graphql/limits.ts) before anything runs.
  | 'QUERY_TOO_DEEP'
  | 'QUERY_TOO_COMPLEX'
  | 'TOO_MANY_ALIASES'
  | 'TOO_MANY_DIRECTIVES'
  | 'INTERNAL_SERVER_ERROR';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * The one base class of errors a client may see. Anything else that escapes a resolver is masked
 * by formatError and logged with an error id.
 */
export class AppError extends GraphQLError {
  /**
   * `headers` go on the HTTP response that carries this error (Apollo reads `extensions.http`,
   * which formatError strips before anything reaches a client).
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
    headers?: ReadonlyMap<string, string>,
  ) {
    const status = HTTP_STATUS[code];
    const http = status ? { status, ...(headers ? { headers: new Map(headers) } : {}) } : {};
    super(message, {
      extensions: { code, ...extensions, ...(status ? { http } : {}) },
    });
    this.name = new.target.name;
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'Sign in first: send a valid token as "Authorization: Bearer <token>".') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this.') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends AppError {
  constructor(entity: string, id?: string) {
    super('NOT_FOUND', id ? `${entity} ${id} was not found.` : `${entity} was not found.`, {
      entity,
    });
  }
}

export class BadUserInputError extends AppError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('BAD_USER_INPUT', message, { field });
  }
}

export class ConflictError extends AppError {
  constructor(message: string, field?: string) {
    super('CONFLICT', message, field ? { field } : {});
  }
}

export class TenantRequiredError extends AppError {
  constructor(message: string) {
    super('TENANT_REQUIRED', message);
  }
}

export class TenantNotAllowedError extends AppError {
  constructor(message: string) {
    super('TENANT_NOT_ALLOWED', message);
  }
}

export class TenantSuspendedError extends AppError {
  constructor() {
    super(
      'TENANT_SUSPENDED',
      'This tenant is suspended. Contact the platform operator to reactivate it.',
    );
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message = 'The database is unavailable right now. Retry in a few seconds.') {
    super('SERVICE_UNAVAILABLE', message);
  }
}

export class InvalidTransitionError extends AppError {
  constructor(from: string, to: string, allowedTargets: string[]) {
    super(
      'INVALID_TRANSITION',
      allowedTargets.length > 0
        ? `A ${from} project can move to ${allowedTargets.join(' or ')}, not ${to}.`
        : `A ${from} project cannot change status any more.`,
      { from, to, allowedTargets },
    );
  }
}

export class QuotaExceededError extends AppError {
  constructor(
    resource: string,
    limit: number,
    message = `This tenant's plan allows at most ${limit} ${resource}. Upgrade the plan or remove some first.`,
  ) {
    super('QUOTA_EXCEEDED', message, { resource, limit });
  }
}

export class RateLimitedError extends AppError {
  constructor(retryAfterSeconds: number, reason = 'This tenant made too many requests.') {
    super(
      'RATE_LIMITED',
      `${reason} Retry in ${retryAfterSeconds} s.`,
      { retryAfter: retryAfterSeconds },
      // The standard header too (RFC 9110), for proxies and HTTP clients that back off by it.
      new Map([['retry-after', String(retryAfterSeconds)]]),
    );
  }
}
