import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { decodeJwt } from 'jose';
import type { Kysely } from 'kysely';
import type { OidcIssuers } from '../auth/oidc.js';
import {
  ApiKeyNotAllowedError,
  isApiKeyToken,
  parseApiKey,
  type ApiKeyCredential,
} from '../auth/api-key.js';
import type { PasswordHasher } from '../auth/password.js';
import type { TokenService } from '../auth/jwt.js';
import type { Config } from '../config.js';
import type { AdminDatabase } from '../db/admin.js';
import { addressBudgetKey, clientAddress } from '../http/client-address.js';
import { OperationDatabase } from '../db/operation.js';
import type { Database } from '../db/schema.js';
import { UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FairShare } from '../db/fair-share.js';
import type { ExternalAccounts } from '../modules/account/identity.service.js';
import type { AuthRateLimiter, TenantRateLimiter } from '../tenancy/rate-limit.js';
import type { LiveSession } from '../live/hub.js';
import { resolveTenant, tenantHint } from '../tenancy/resolve.js';
import { LoaderRegistry } from './loaders.js';

/** Long-lived collaborators, built once at startup. Resolvers reach them only through the context. */
export interface AppDependencies {
  config: Config;
  log: Logger;
  db: Kysely<Database>;
  tokens: TokenService;
  /** Identity providers whose access tokens are accepted (OIDC_ISSUERS), and their users. */
  oidc: OidcIssuers;
  externalAccounts: ExternalAccounts;
  passwords: PasswordHasher;
  /** With tenancy off: the one tenant that every new account joins. */
  defaultTenantId: string | undefined;
  /** The audited bypass pool, when configured; only the admin fields use it. */
  admin: AdminDatabase | undefined;
  /** Budgets of login, signUp and refreshToken (memory, or Redis shared by every instance). */
  authLimits: AuthRateLimiter;
  /** Tenants' request budgets; it also remembers verified memberships (see fairShareKey). */
  tenantLimits: TenantRateLimiter;
  /** Each tenant's share of the API pool. */
  fairShare: FairShare | undefined;
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

/**
 * Whose share of the pool an operation spends: its tenant once the caller's membership there is
 * known (remembered by the rate limiter for 30 s); until then, and for operations in no tenant,
 * the caller's own, so naming someone else's tenant never spends that tenant's share.
 */
function fairShareKey(
  limits: TenantRateLimiter,
  claim: string | undefined,
  /** The user, or an API key's prefix. */
  caller: string | undefined,
  address: string | undefined,
): string {
  const tenantId = claim === undefined ? undefined : limits.verifiedTenant(claim);
  if (tenantId) return `tenant:${tenantId}`;
  if (caller) return `caller:${caller}`;
  return `address:${address === undefined ? 'local' : addressBudgetKey(address)}`;
}

/** iss as the token claims it, unverified: only to choose who verifies the token. */
function claimedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    throw new UnauthenticatedError('The token is invalid. Sign in again.');
  }
}

/** A verified bearer token: who is calling, and what the context statement checks it against. */
interface Authenticated {
  session: Session | undefined;
  /** An API key, which the context statement checks (it acts as the key's creator). */
  apiKey?: ApiKeyCredential | undefined;
  /** When the token was issued: tokens from before the account's tokens_valid_after are refused. */
  tokenIssuedAtMs: number | undefined;
  /** The tenantql sign-in (refresh-token family) it came from; its logout ends the token. */
  sessionId: string | undefined;
}

/**
 * The session a bearer token stands for, built from the claims its verifier checked. The
 * unverified issuer only picks the verifier: tenantql's own tokens (JWT_ISSUER), or a configured
 * identity provider's, whose tokens never carry a tenant. An API key (`tq_…`) has no session of
 * its own: the context statement finds its creator and tenant.
 */
async function authenticate(deps: AppDependencies, token: string): Promise<Authenticated> {
  // A `tq_…` token is an API key: never tried as a JWT.
  if (isApiKeyToken(token)) {
    return {
      session: undefined,
      apiKey: parseApiKey(token),
      tokenIssuedAtMs: undefined,
      sessionId: undefined,
    };
  }
  // A client sends one token until it expires: a token verified before needs no decoding at all.
  const known = deps.tokens.knownAccess(token);
  const issuer = known ? deps.config.auth.issuer : claimedIssuer(token);
  if (issuer === deps.config.auth.issuer) {
    const claims = known ?? (await deps.tokens.verifyAccess(token));
    return {
      session: { userId: claims.userId, tenantId: claims.tenantId },
      tokenIssuedAtMs: claims.issuedAtMs,
      sessionId: claims.sessionId,
    };
  }
  const provider = issuer === undefined ? undefined : deps.oidc.get(issuer);
  if (provider) {
    const identity = await provider.verify(token);
    return {
      session: { userId: await deps.externalAccounts.userIdFor(identity), tenantId: undefined },
      // signOutEverywhere and a password change end the provider's current tokens too.
      tokenIssuedAtMs: identity.issuedAtMs,
      sessionId: undefined,
    };
  }
  throw new UnauthenticatedError(
    'The token was issued neither by tenantql nor by an identity provider this API accepts.',
  );
}

/**
 * The session of a person signed in with a token, for account-level fields: UNAUTHENTICATED
 * without one (with the reason the token was refused, if it was), FORBIDDEN for an API key.
 */
export function requirePerson(ctx: GraphQLContext): Session {
  if (ctx.authError) throw ctx.authError;
  if (ctx.apiKey) throw new ApiKeyNotAllowedError();
  if (!ctx.session) throw new UnauthenticatedError();
  return ctx.session;
}

/** What the lazy `log` of a context is made from; shared by Apollo's copies of the context. */
interface RequestLog {
  requestLog: { root: Logger; bindings: { requestId: string; clientAddress: string | undefined } };
}

const requestLogs = new WeakMap<RequestLog['requestLog'], Logger>();

/**
 * Holds the context's `log`, made on first use: pino serialises a child's bindings when it is
 * made, so only operations that log pay for it. On the prototype rather than the object: Apollo
 * copies each request's context with Object.assign, which would call an own getter (and make the
 * child) for every request. The copies share `requestLog`, so one request gets one child.
 */
const CONTEXT_PROTOTYPE = {
  get log(): Logger {
    const { requestLog } = this as unknown as RequestLog;
    let log = requestLogs.get(requestLog);
    if (!log) {
      log = requestLog.root.child(requestLog.bindings);
      requestLogs.set(requestLog, log);
    }
    return log;
  },
};

/** Builds the context of one GraphQL operation: verified session, tenant, lazy transaction. */
export function createContextFactory(deps: AppDependencies) {
  const hint = tenantHint(deps.config.tenancy);
  return async (request: RequestParts): Promise<GraphQLContext> => {
    const requestId = request.requestId ?? randomUUID();
    let authenticated: Authenticated | undefined;
    let authError: UnauthenticatedError | undefined;
    try {
      const token = bearerToken(request.headers);
      authenticated = token ? await authenticate(deps, token) : undefined;
    } catch (error) {
      // Refused later, unless the operation only has fields that need no token (a client whose
      // access token expired must still reach refreshToken and login).
      if (!(error instanceof UnauthenticatedError)) throw error;
      authError = error;
    }
    const session = authenticated?.session;
    const apiKey = authenticated?.apiKey;
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
    const db: OperationDatabase = new OperationDatabase(deps.db, {
      userId: session?.userId,
      tokenIssuedAtMs: authenticated?.tokenIssuedAtMs,
      sessionId: authenticated?.sessionId,
      apiKey: apiKey && {
        hash: apiKey.hash,
        used: (tenantId, keyId) => deps.apiKeyUse?.record(tenantId, keyId),
      },
      tenant,
      tenantHint: hint,
      allowlist: deps.config.tenancy.allowlist,
      statementTimeoutMs: deps.config.database.statementTimeoutMs,
      idleInTransactionTimeoutMs: deps.config.database.idleInTransactionTimeoutMs,
      fairShare: deps.fairShare && {
        gate: deps.fairShare,
        key: () =>
          fairShareKey(deps.tenantLimits, db.claim, session?.userId ?? apiKey?.prefix, address),
      },
    });
    const fields: Omit<GraphQLContext, 'log'> & RequestLog = {
      requestId,
      clientAddress: address,
      requestLog: { root: deps.log, bindings: { requestId, clientAddress: address } },
      session,
      apiKey,
      db,
      loaders: new LoaderRegistry(),
      authError,
      tokens: deps.tokens,
      passwords: deps.passwords,
      config: deps.config,
      defaultTenantId: deps.defaultTenantId,
      admin: deps.admin,
      authLimits: deps.authLimits,
    };
    const context = Object.assign(Object.create(CONTEXT_PROTOTYPE) as GraphQLContext, fields);
    return context;
  };
}
