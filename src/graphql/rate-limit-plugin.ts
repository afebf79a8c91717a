import type { ApolloServerPlugin } from '@apollo/server';
import { RateLimitedError } from '../errors.js';
import {
  findRequestsPerMinute,
  type CallerRateLimiter,
  type TenantRateLimiter,
} from '../tenancy/rate-limit.js';
import type { GraphQLContext } from './context.js';

/**
 * Charges every operation that acts in a tenant to that tenant's budget. Only a verified member's
 * operation is charged (after app.set_operation_context accepted the membership), so nobody can
 * spend another tenant's budget by naming it: an operation in no tenant, or in one the caller may
 * not use, is charged to the caller's own budget (CallerRateLimiter) instead. Registered after the
 * transaction plugin, whose didResolveOperation has decided READ ONLY by the time this one opens
 * the transaction.
 */
export function tenantRateLimitPlugin(
  limiter: TenantRateLimiter,
  callers: CallerRateLimiter,
): ApolloServerPlugin<GraphQLContext> {
  const chargeCaller = (ctx: GraphQLContext) =>
    callers.consume(ctx.session?.userId ?? ctx.apiKey?.prefix, ctx.clientAddress);
  return {
    requestDidStart() {
      return Promise.resolve({
        // An operation whose own context statement verified the membership keeps it remembered
        // (for LIMIT_TTL_MS from now): a busy member's operations stay keyed by their tenant
        // (budget, pool share) instead of falling back to their own key every 30 s. A refused
        // one refreshes nothing, so a removed member is forgotten at most 30 s after its last
        // verified operation.
        willSendResponse({ contextValue }) {
          const { claim, stats } = contextValue.db;
          if (claim !== undefined && stats.tenantId !== undefined) {
            limiter.rememberVerified(claim, stats.tenantId);
          }
          return Promise.resolve();
        },
        async didResolveOperation({ contextValue }) {
          const { db } = contextValue;
          const { claim } = db;
          if (claim === undefined) return chargeCaller(contextValue);
          let tenantId = limiter.verifiedTenant(claim);
          if (tenantId === undefined) {
            try {
              ({ tenantId } = await db.tenant());
            } catch {
              // Not a member, suspended…: the fields report that themselves.
              return chargeCaller(contextValue);
            }
            limiter.rememberVerified(claim, tenantId);
          }
          try {
            // The tenant's limit is read (and a transaction opened for it) only when not known:
            // an operation that reads no table, such as `{ __typename }`, then needs no database.
            await limiter.consume(tenantId, async () =>
              findRequestsPerMinute(await db.transaction()),
            );
          } catch (error) {
            if (error instanceof RateLimitedError) throw error;
            // A remembered member may have been refused this time: the fields report that.
            if (
              !(await db.tenant().then(
                () => true,
                () => false,
              ))
            )
              return;
            throw error;
          }
        },
      });
    },
  };
}
