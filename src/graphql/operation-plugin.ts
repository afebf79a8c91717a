import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, OperationTypeNode } from 'graphql';
import { createFormatError } from './errors.js';
import type { GraphQLContext } from './context.js';
import type { Logger } from '../logger.js';
import { TenantRequiredError } from '../errors.js';

/** Top-level fields that work without a tenant even when TENANT_REQUIRED is on. */
export const ACCOUNT_FIELDS = new Set([
  '__typename',
  '__schema',
  '__type',
  'signUp',
  'login',
  'refreshToken',
  'logout',
  'me',
  'myTenants',
  'createTenant',
  'switchTenant',
]);

/**
 * Ends every operation's transaction: commit when the operation succeeded, roll back when any
 * field failed. A rolled-back mutation reports no data, so no client mistakes undone writes for
 * done ones. A failed commit replaces the result with its error.
 */
export function operationTransactionPlugin(log: Logger): ApolloServerPlugin<GraphQLContext> {
  const formatError = createFormatError(log);
  return {
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ contextValue, operation }) {
          if (!operation) return Promise.resolve();
          contextValue.operation.type = operation.operation;
          const { tenancy } = contextValue.config;
          if (tenancy.enabled && tenancy.required && !contextValue.db.hasTenant) {
            const needsTenant = operation.selectionSet.selections.some(
              (s) => s.kind !== Kind.FIELD || !ACCOUNT_FIELDS.has(s.name.value),
            );
            if (needsTenant) throw new TenantRequiredError(contextValue.db.tenantHint);
          }
          return Promise.resolve();
        },
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== 'single') {
            await contextValue.db.finish(false);
            return;
          }
          const result = response.body.singleResult;
          const failed = (result.errors?.length ?? 0) > 0;
          try {
            await contextValue.db.finish(!failed);
            if (
              failed &&
              contextValue.operation.type === OperationTypeNode.MUTATION &&
              contextValue.db.opened
            ) {
              result.data = null;
            }
          } catch (error) {
            result.data = null;
            result.errors = [
              ...(result.errors ?? []),
              formatError({ message: 'commit failed' }, error),
            ];
          }
        },
      });
    },
  };
}
