import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, OperationTypeNode, type OperationDefinitionNode } from 'graphql';
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
  // Platform operators work across tenants; their fields name the tenant they act on.
  'admin',
]);

/** Top-level fields that work with no valid token (a refused token is then ignored). */
export const TOKEN_OPTIONAL_FIELDS = new Set([
  '__typename',
  'signUp',
  'login',
  'refreshToken',
  'logout',
]);

function topLevelFields(operation: OperationDefinitionNode): string[] | undefined {
  const names: string[] = [];
  for (const selection of operation.selectionSet.selections) {
    // Fragments at the top level are rare; treat them as needing everything.
    if (selection.kind !== Kind.FIELD) return undefined;
    names.push(selection.name.value);
  }
  return names;
}

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
          contextValue.db.setReadOnly(operation.operation !== OperationTypeNode.MUTATION);
          const fields = topLevelFields(operation);
          if (contextValue.authError && !fields?.every((f) => TOKEN_OPTIONAL_FIELDS.has(f))) {
            throw contextValue.authError;
          }
          const { tenancy } = contextValue.config;
          if (tenancy.enabled && tenancy.required && !contextValue.db.hasTenant) {
            if (!fields?.every((f) => ACCOUNT_FIELDS.has(f))) {
              throw new TenantRequiredError(contextValue.db.tenantHint);
            }
          }
          return Promise.resolve();
        },
        async willSendResponse({ contextValue, response, operation }) {
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
              operation?.operation === OperationTypeNode.MUTATION &&
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
