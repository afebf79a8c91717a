import type { ApolloServerPlugin } from '@apollo/server';
import { RateLimitedError } from '../errors.js';
import { findRequestsPerMinute, type TenantRateLimiter } from '../tenancy/rate-limit.js';
import type { GraphQLContext } from './context.js';

/**
 * Charges every operation that acts in a tenant to that tenant's budget. Only a verified member's
 * operation is charged (after app.set_operation_context accepted the membership), so nobody can
 * spend another tenant's budget by naming it. Registered after the transaction plugin, whose
 * didResolveOperation has decided READ ONLY by the time this one opens the transaction.
 */
export function tenantRateLimitPlugin(
  limiter: TenantRateLimiter,
): ApolloServerPlugin<GraphQLContext> {
  return {
    requestDidStart() {
      return Promise.resolve({
        async didResolveOperation({ contextValue }) {
          const { db } = contextValue;
          const { claim } = db;
          if (claim === undefined) return;
          let tenantId = limiter.verifiedTenant(claim);
          if (tenantId === undefined) {
            try {
              ({ tenantId } = await db.tenant());
            } catch {
              return; // not a member, suspended…: the fields report that themselves
            }
            limiter.rememberVerified(claim, tenantId);
          }
          const trx = await db.transaction();
          try {
            await limiter.consume(tenantId, () => findRequestsPerMinute(trx));
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
