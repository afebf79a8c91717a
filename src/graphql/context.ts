import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Kysely } from 'kysely';
import { isApiKeyToken, parseApiKey, type ApiKeyCredential } from '../auth/api-key.js';
import type { PasswordHasher } from '../auth/password.js';
import type { AccessClaims, TokenService } from '../auth/jwt.js';
import type { Config } from '../config.js';
import type { AdminDatabase } from '../db/admin.js';
import { clientAddress } from '../http/client-address.js';
import { OperationDatabase } from '../db/operation.js';
import type { Database } from '../db/schema.js';
import { UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuthRateLimiter } from '../tenancy/rate-limit.js';
import type { LiveSession } from '../live/hub.js';
import { resolveTenant, tenantHint } from '../tenancy/resolve.js';
import { LoaderRegistry } from './loaders.js';

/** Long-lived collaborators, built once at startup. Resolvers reach them only through the context. */
export interface AppDependencies {
  config: Config;
  log: Logger;
  db: Kysely<Database>;
  tokens: TokenService;
  passwords: PasswordHasher;
  /** With tenancy off: the one tenant that every new account joins. */
  defaultTenantId: string | undefined;
  /** The audited bypass pool, when configured; only the admin fields use it. */
  admin: AdminDatabase | undefined;
  /** Budgets of login, signUp and refreshToken (memory, or Redis shared by every instance). */
  authLimits: AuthRateLimiter;
  /** Hears of every operation an API key was accepted for, and writes last-use times in batches. */
  apiKeyUse?: { record(tenantId: string, keyId: string): void } | undefined;
}

/** Who is calling, from verified token claims only. */
export interface Session {
  userId: string;
  /** The tenant the token is bound to (switchTenant), if any. */
  tenantId: string | undefined;
}

export interface GraphQLContext {
  requestId: string;
  /** The caller's address, through trusted proxies only (TRUST_PROXY). */
  clientAddress: string | undefined;
  log: Logger;
  session: Session | undefined;
  /**
   * The API key the request came with (shape checked, liveness not yet): such a request has no
   * session. Its tenant and creator come from the context statement (ctx.db.tenant()).
   */
  apiKey: ApiKeyCredential | undefined;
  /** The operation's one transaction. The pool itself is out of reach. */
  db: OperationDatabase;
  loaders: LoaderRegistry;
  /** Why the bearer token was refused; only fields that need no token may still run. */
  authError: UnauthenticatedError | undefined;
  tokens: TokenService;
  passwords: PasswordHasher;
  config: Config;
  defaultTenantId: string | undefined;
  /** Usable only with a PlatformAdmin from verifyPlatformAdmin (see src/db/admin.ts). */
  admin: AdminDatabase | undefined;
  authLimits: AuthRateLimiter;
  /** Set on subscriptions only (src/live/ws.ts). */
  live?: LiveSession | undefined;
}

export interface RequestParts {
  headers: IncomingHttpHeaders;
  search: URLSearchParams;
  requestId?: string;
  /** The socket peer's address. */
  remoteAddress?: string | undefined;
}

function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match?.[1]) {
    throw new UnauthenticatedError('The Authorization header must be "Bearer <token>".');
  }
  return match[1];
}

/** What a bearer token turned out to be. */
type Credential =
  { kind: 'access-token'; claims: AccessClaims } | { kind: 'api-key'; apiKey: ApiKeyCredential };

/**
 * Tells bearer tokens apart: a `tq_…` token is an API key (checked by the context statement,
 * never tried as a JWT); anything else is one of our access tokens. UNAUTHENTICATED when
 * malformed or invalid.
 */
async function verifyBearer(deps: AppDependencies, token: string): Promise<Credential> {
  if (isApiKeyToken(token)) return { kind: 'api-key', apiKey: parseApiKey(token) };
  return { kind: 'access-token', claims: await deps.tokens.verifyAccess(token) };
}

/** Builds the context of one GraphQL operation: verified session, tenant, lazy transaction. */
export function createContextFactory(deps: AppDependencies) {
  const hint = tenantHint(deps.config.tenancy);
  return async (request: RequestParts): Promise<GraphQLContext> => {
    const requestId = request.requestId ?? randomUUID();
    let claims: AccessClaims | undefined;
    let apiKey: ApiKeyCredential | undefined;
    let authError: UnauthenticatedError | undefined;
    try {
      const token = bearerToken(request.headers);
      const credential = token ? await verifyBearer(deps, token) : undefined;
      if (credential?.kind === 'access-token') claims = credential.claims;
      if (credential?.kind === 'api-key') apiKey = credential.apiKey;
    } catch (error) {
      // Refused later, unless the operation only has fields that need no token (a client whose
      // access token expired must still reach refreshToken and login).
      if (!(error instanceof UnauthenticatedError)) throw error;
      authError = error;
    }
    const session: Session | undefined = claims
      ? { userId: claims.userId, tenantId: claims.tenantId }
      : undefined;
    const tenant = resolveTenant(deps.config.tenancy, {
      headers: request.headers,
      search: request.search,
      host: request.headers.host,
      claimTenantId: session?.tenantId,
    });
    const address = clientAddress(
      request.remoteAddress,
      request.headers['x-forwarded-for'],
      deps.config.http.trustProxy,
    );
    const context: GraphQLContext = {
      requestId,
      clientAddress: address,
      log: deps.log.child({ requestId, clientAddress: address }),
      session,
      apiKey,
      db: new OperationDatabase(deps.db, {
        userId: session?.userId,
        tokenIssuedAtMs: claims?.issuedAtMs,
        sessionId: claims?.sessionId,
        apiKey: apiKey && {
          hash: apiKey.hash,
          used: (tenantId, keyId) => deps.apiKeyUse?.record(tenantId, keyId),
        },
        tenant,
        tenantHint: hint,
        allowlist: deps.config.tenancy.allowlist,
        statementTimeoutMs: deps.config.database.statementTimeoutMs,
        idleInTransactionTimeoutMs: deps.config.database.idleInTransactionTimeoutMs,
      }),
      loaders: new LoaderRegistry(),
      authError,
      tokens: deps.tokens,
      passwords: deps.passwords,
      config: deps.config,
      defaultTenantId: deps.defaultTenantId,
      admin: deps.admin,
      authLimits: deps.authLimits,
    };
    return context;
  };
}
