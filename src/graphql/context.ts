import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OperationTypeNode } from 'graphql';
import type { Kysely } from 'kysely';
import type { PasswordHasher } from '../auth/password.js';
import type { TokenService } from '../auth/jwt.js';
import type { Config } from '../config.js';
import { OperationDatabase } from '../db/operation.js';
import type { Database } from '../db/schema.js';
import { UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { resolveTenant, tenantHint } from '../tenancy/resolve.js';
import { LoaderRegistry } from './loaders.js';

/** Long-lived collaborators, built once at startup. Resolvers reach them only through the context. */
export interface AppDependencies {
  config: Config;
  log: Logger;
  db: Kysely<Database>;
  tokens: TokenService;
  passwords: PasswordHasher;
}

/** Who is calling, from verified token claims only. */
export interface Session {
  userId: string;
  /** The tenant the token is bound to (switchTenant), if any. */
  tenantId: string | undefined;
}

export interface GraphQLContext {
  requestId: string;
  log: Logger;
  session: Session | undefined;
  /** The operation's one transaction. The pool itself is out of reach. */
  db: OperationDatabase;
  loaders: LoaderRegistry;
  /**
   * Set once the operation is known; queries then run READ ONLY. A holder rather than a field:
   * Apollo shallow-copies the context for each operation, so a field written by a plugin lands on
   * the copy while the transaction reads the original.
   */
  operation: { type: OperationTypeNode | undefined };
  tokens: TokenService;
  passwords: PasswordHasher;
  config: Config;
}

export interface RequestParts {
  headers: IncomingHttpHeaders;
  search: URLSearchParams;
  requestId?: string;
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

/** Builds the context of one GraphQL operation: verified session, tenant, lazy transaction. */
export function createContextFactory(deps: AppDependencies) {
  const hint = tenantHint(deps.config.tenancy);
  return async (request: RequestParts): Promise<GraphQLContext> => {
    const requestId = request.requestId ?? randomUUID();
    const token = bearerToken(request.headers);
    const claims = token ? await deps.tokens.verifyAccess(token) : undefined;
    const session: Session | undefined = claims
      ? { userId: claims.userId, tenantId: claims.tenantId }
      : undefined;
    const tenant = resolveTenant(deps.config.tenancy, {
      headers: request.headers,
      search: request.search,
      host: request.headers.host,
      claimTenantId: session?.tenantId,
    });
    const operation: GraphQLContext['operation'] = { type: undefined };
    const context: GraphQLContext = {
      requestId,
      log: deps.log.child({ requestId }),
      session,
      db: new OperationDatabase(deps.db, {
        userId: session?.userId,
        tenant,
        readOnly: () => operation.type !== OperationTypeNode.MUTATION,
        tenantHint: hint,
        allowlist: deps.config.tenancy.allowlist,
      }),
      loaders: new LoaderRegistry(),
      operation,
      tokens: deps.tokens,
      passwords: deps.passwords,
      config: deps.config,
    };
    return context;
  };
}
