import { HeaderMap, type ApolloServerPlugin, type GraphQLResponse } from '@apollo/server';
import {
  getVariableValues,
  GraphQLError,
  Kind,
  OperationTypeNode,
  type FragmentDefinitionNode,
} from 'graphql';
import { CompiledQuery } from 'kysely';
import { toAppError } from '../../db/errors.js';
import type { Logger } from '../../logger.js';
import type { GraphQLContext } from '../context.js';
import { createFormatError } from '../errors.js';
import { compilePlan, type Plan } from './compile.js';
import { PlannedData } from './planned-data.js';

/** Plans kept, per document and operation name; the oldest is dropped past this. */
const PLAN_CACHE_SIZE = 1000;

/**
 * Answers a read operation the planner covers with one statement that builds its `data` in
 * PostgreSQL (see compile.ts), in the operation's own transaction, after every other plugin has
 * done its part (limits, budgets, READ ONLY). Anything else, and any operation whose arguments or
 * tenant the fields would refuse, goes through graphql-js as before, which then gives the
 * field's own answer or error.
 */
export function queryPlannerPlugin(log: Logger): ApolloServerPlugin<GraphQLContext> {
  const plans = new Map<string, Plan | null>();
  const formatError = createFormatError(log);

  const planFor = (key: string, compile: () => Plan | undefined): Plan | null => {
    let plan = plans.get(key);
    if (plan === undefined) {
      plan = compile() ?? null;
      if (plans.size >= PLAN_CACHE_SIZE) {
        const oldest = plans.keys().next();
        if (!oldest.done) plans.delete(oldest.value);
      }
      plans.set(key, plan);
    }
    return plan;
  };

  return {
    requestDidStart() {
      return Promise.resolve({
        async responseForOperation({
          operation,
          document,
          schema,
          queryHash,
          request,
          contextValue,
        }) {
          const { db } = contextValue;
          if (operation.operation !== OperationTypeNode.QUERY) return null;
          const plan = planFor(`${queryHash}:${request.operationName ?? ''}`, () => {
            const fragments: Record<string, FragmentDefinitionNode> = {};
            for (const definition of document.definitions) {
              if (definition.kind === Kind.FRAGMENT_DEFINITION) {
                fragments[definition.name.value] = definition;
              }
            }
            return compilePlan(schema, operation, fragments);
          });
          if (!plan) return null;
          if (plan.kind === 'constant') return response({ data: { ...plan.data } });
          // No tenant, or no caller: the fields answer TENANT_REQUIRED or UNAUTHENTICATED.
          if (!db.hasTenant || (db.userId === undefined && !db.isApiKey)) return null;
          const coerced = getVariableValues(
            schema,
            operation.variableDefinitions ?? [],
            request.variables ?? {},
            { maxErrors: 1 },
          );
          if (coerced.errors) return null;
          const parameters = plan.bind(coerced.coerced);
          if (!parameters) return null;

          const tenant = db.routingTenant();
          const known = typeof tenant === 'string';
          let data: string | undefined;
          try {
            const trx = await db.transaction();
            const started = performance.now();
            const { rows } = await trx.executeQuery<{ data: string }>(
              CompiledQuery.raw(plan.text(known), known ? [tenant, ...parameters] : parameters),
            );
            // Timed like every other statement (QueryTimer): a failed one is not.
            db.stats.dbTimeMs += performance.now() - started;
            db.stats.queries += 1;
            data = rows[0]?.data;
            // The membership check every read makes (memberRead); settled by now, no round trip.
            await db.tenant();
          } catch (error) {
            // A tenant the caller may not use, or no connection to be had: the fields give
            // their own error, from the same verdict, in this same (unharmed) transaction.
            if (
              await db.tenant().then(
                () => false,
                () => true,
              )
            ) {
              return null;
            }
            return failed(operation.selectionSet.selections, error);
          }
          if (data === undefined) return null;
          // NOTE: Apollo types data as a plain record; PlannedData stands in for one until
          // stringifyResult (server.ts) writes its text out.
          return response({ data: new PlannedData(data) as unknown as Record<string, unknown> });
        },
      });
    },
  };

  /**
   * The statement failed (a timeout, the server went away): the transaction is aborted, so
   * graphql-js could only fail again. The error is reported as its field would have reported it.
   */
  function failed(
    selections: readonly { kind: Kind; alias?: { value: string }; name?: { value: string } }[],
    error: unknown,
  ): GraphQLResponse {
    const [first] = selections;
    const key = first?.alias?.value ?? first?.name?.value;
    const known = toAppError(error);
    const graphqlError = new GraphQLError(known?.message ?? 'planned read failed', {
      path: key === undefined ? undefined : [key],
      originalError: error instanceof Error ? error : undefined,
    });
    return response({ data: null, errors: [formatError(graphqlError.toJSON(), graphqlError)] });
  }
}

function response(
  singleResult: Extract<GraphQLResponse['body'], { kind: 'single' }>['singleResult'],
): GraphQLResponse {
  return {
    http: { status: undefined, headers: new HeaderMap() },
    body: { kind: 'single', singleResult },
  };
}
