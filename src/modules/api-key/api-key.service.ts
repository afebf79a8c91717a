import type { Kysely } from 'kysely';
import { newApiKey } from '../../auth/api-key.js';
import type { TenantContext } from '../../db/operation.js';
import type { Database } from '../../db/schema.js';
import { BadUserInputError, ForbiddenError, NotFoundError } from '../../errors.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { requireId, requireText } from '../../graphql/validate.js';
import type { Logger } from '../../logger.js';
import { isTenantAdmin } from '../../tenancy/permissions.js';
import type { CreateApiKeyInput } from './api-key.input.js';
import {
  findApiKey,
  findApiKeys,
  insertApiKey,
  recordApiKeyUse,
  revokeApiKey as markRevoked,
  type ApiKeyRow,
  type ApiKeyUse,
} from './api-key.repository.js';
import type { ApiKey, CreatedApiKey } from './api-key.type.js';

const NAME_RULE = { min: 1, max: 100 };
/** The shortest flush interval honoured, so a setting of 0 cannot spin. */
const MIN_FLUSH_INTERVAL_MS = 100;

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
  };
}

/**
 * Owners and admins manage keys, and only as themselves: an operation running under a key may
 * not mint, list or revoke keys, so a leaked key cannot outlive its own revocation (the insert
 * and update policies refuse it too).
 */
async function requireKeyManager(ctx: GraphQLContext): Promise<TenantContext> {
  const actor = await ctx.db.tenant();
  if (actor.apiKeyId) {
    throw new ForbiddenError(
      'API keys cannot manage API keys. Sign in as a tenant owner or admin to do this.',
    );
  }
  if (!isTenantAdmin(actor.role)) {
    throw new ForbiddenError('Only a tenant owner or admin can manage API keys.');
  }
  return actor;
}

export async function createApiKey(
  ctx: GraphQLContext,
  input: CreateApiKeyInput,
): Promise<CreatedApiKey> {
  const actor = await requireKeyManager(ctx);
  const name = requireText('name', input.name, NAME_RULE);
  if (input.role === 'owner' && actor.role !== 'owner') {
    throw new ForbiddenError('Only owners create OWNER keys.');
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw new BadUserInputError('expiresAt', 'expiresAt must be in the future (or null: never).');
  }
  const { key, hash, prefix } = newApiKey();
  const row = await insertApiKey(await ctx.db.transaction(), {
    tenantId: actor.tenantId,
    name,
    role: input.role,
    prefix,
    secretHash: hash,
    createdBy: actor.userId,
    expiresAt,
  });
  return { key, apiKey: toApiKey(row) };
}

/** The current tenant's keys that were not revoked; never their secrets. */
export async function listApiKeys(ctx: GraphQLContext): Promise<ApiKey[]> {
  const actor = await requireKeyManager(ctx);
  const rows = await findApiKeys(await ctx.db.transaction(), actor.tenantId);
  return rows.map(toApiKey);
}

/**
 * Revokes a key of the current tenant: refused from the next operation on. Only owners revoke
 * OWNER keys. True for a key revoked already, so a retried call succeeds; NOT_FOUND for a key of
 * another tenant, as for one that does not exist.
 */
export async function revokeApiKey(ctx: GraphQLContext, rawId: string): Promise<boolean> {
  const actor = await requireKeyManager(ctx);
  const id = requireId('id', rawId);
  const trx = await ctx.db.transaction();
  const found = await findApiKey(trx, actor.tenantId, id);
  if (!found) throw new NotFoundError('ApiKey', id);
  if (found.role === 'owner' && actor.role !== 'owner') {
    throw new ForbiddenError('Only owners revoke OWNER keys.');
  }
  if (found.revoked_at) return true;
  // A concurrent revoke may win the row; the key is revoked either way.
  await markRevoked(trx, actor.tenantId, id);
  return true;
}

/**
 * Remembers when each API key was last accepted and writes those times in one statement every
 * `intervalMs` (and on close). Queries run READ ONLY, and a write per request would cost a round
 * trip and a row lock on a key every request of a busy client shares.
 */
export class ApiKeyUseRecorder {
  readonly #pending = new Map<string, ApiKeyUse>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.#timer = setInterval(() => void this.flush(), Math.max(MIN_FLUSH_INTERVAL_MS, intervalMs));
    this.#timer.unref();
  }

  record(tenantId: string, id: string): void {
    this.#pending.set(`${tenantId} ${id}`, { tenantId, id, usedAt: new Date() });
  }

  /** Writes what is pending; a failure is logged and the times are kept for the next attempt. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#pending.size === 0) return;
    const uses = [...this.#pending.values()];
    this.#pending.clear();
    this.#flushing = recordApiKeyUse(this.db, uses)
      .catch((error: unknown) => {
        this.log.warn({ err: error, keys: uses.length }, 'could not record API key last use');
        for (const use of uses) {
          const id = `${use.tenantId} ${use.id}`;
          if (!this.#pending.has(id)) this.#pending.set(id, use);
        }
      })
      .finally(() => {
        this.#flushing = undefined;
      });
    await this.#flushing;
  }

  /** Stops the timer and writes what is pending (graceful shutdown, before the pool closes). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
