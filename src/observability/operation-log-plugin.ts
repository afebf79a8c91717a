import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLContext } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';

function errorCodes(errors: readonly { extensions?: Record<string, unknown> }[] | undefined) {
  return (errors ?? []).map((e) =>
    typeof e.extensions?.code === 'string' ? e.extensions.code : 'UNKNOWN',
  );
}

/**
 * One structured log line and one metrics sample per GraphQL operation, written once its
 * transaction has ended so the line carries the final outcome and the database time. Variables,
 * the query text and headers are never logged: they carry passwords and tokens.
 */
export function operationLogPlugin(
  metrics: Metrics | undefined,
  log: Logger,
): ApolloServerPlugin<GraphQLContext> {
  return {
    requestDidStart() {
      const started = performance.now();
      return Promise.resolve({
        willSendResponse({ contextValue, response, operation, operationName }) {
          const { db } = contextValue;
          void db.settled
            // NOTE: a failed COMMIT appends its error right after the transaction settles; one
            // macrotask later it is in the response.
            .then(() => new Promise((resolve) => setImmediate(resolve)))
            .then(() => {
              const errors =
                response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
              const codes = errorCodes(errors);
              const outcome = codes.length > 0 ? 'error' : 'success';
              const durationMs = performance.now() - started;
              const fields = {
                operationName: operationName ?? undefined,
                operationType: operation?.operation,
                tenantId: db.stats.tenantId,
                userId: contextValue.session?.userId,
                // Which key, by its visible prefix (never the secret or its hash).
                apiKey: contextValue.apiKey?.prefix,
                outcome,
                errorCodes: codes.length > 0 ? codes : undefined,
                durationMs: Math.round(durationMs * 10) / 10,
                dbMs: Math.round(db.stats.dbTimeMs * 10) / 10,
                dbQueries: db.stats.queries,
                transaction: db.stats.outcome,
              };
              if (log.isLevelEnabled('info')) contextValue.log.info(fields, 'operation');
              metrics?.recordOperation({
                operationName: fields.operationName,
                operationType: fields.operationType,
                tenantId: fields.tenantId,
                outcome,
                errorCodes: codes,
                durationMs,
                dbTimeMs: db.stats.dbTimeMs,
                transaction: db.stats.outcome,
              });
            });
          return Promise.resolve();
        },
      });
    },
  };
}
