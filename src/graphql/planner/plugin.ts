import { HeaderMap, type ApolloServerPlugin, type GraphQLResponse } from '@apollo/server';
import { GraphQLError, OperationTypeNode } from 'graphql';
import { toAppError } from '../../db/errors.js';
import type { Logger } from '../../logger.js';
import type { GraphQLContext } from '../context.js';
import { createFormatError } from '../errors.js';
import { coercedVariables, fragmentsOf } from '../operation-inputs.js';
import { compilePlan, type Plan, type StatementPlan } from './compile.js';
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
export function queryPlannerPlugin(
  log: Logger,
  /**
   * Whether the database is a Citus cluster. There a statement that reads the tenant from the
   * context setting (app.current_tenant_id(), when the caller's tenant is not known before the
   * round trip: an API key, a tenant named by slug) cannot be routed to one shard and is refused
   * ("complex joins"), so only statements naming the tenant as a parameter are planned.
   */
  onCitus: () => boolean = () => false,
): ApolloServerPlugin<GraphQLContext> {
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
          const plan = planFor(`${queryHash}:${request.operationName ?? ''}`, () =>
            compilePlan(schema, operation, fragmentsOf(document)),
          );
          if (!plan) return null;
          if (plan.kind === 'constant') return response({ data: { ...plan.data } });
          // No tenant, or no caller: the fields answer TENANT_REQUIRED or UNAUTHENTICATED.
          if (!db.hasTenant || (db.userId === undefined && !db.isApiKey)) return null;
          const variables = coercedVariables(schema, operation, request.variables);
          if (!variables) return null;
          const parameters = plan.bind(variables);
          if (!parameters) return null;

          const tenant = db.routingTenant();
          const known = typeof tenant === 'string';
          if (!known && onCitus()) return null;
          let rows: { data: string }[];
          try {
            // One round trip: the context statement and this statement (see soleRead).
            rows = await db.soleRead<{ data: string }>(
              plan.text(known),
              known ? [tenant, ...parameters] : parameters,
              { transactionBlock: onCitus() },
            );
          } catch (error) {
            return failed(plan, error);
          }
          const [row] = rows;
          if (!row) return null;
          // NOTE: Apollo types data as a plain record; PlannedData stands in for one until
          // stringifyResult (server.ts) writes its text out.
          return response({
            data: new PlannedData(row.data) as unknown as Record<string, unknown>,
          });
        },
      });
    },
  };

  /**
   * The tenant was refused (not a member, suspended, signed out…) or the statement failed: the
   * transaction has ended, so the answer is built here as graphql-js builds it, every reading
   * root field failing with that error (as each would from the same verdict), in order, and a
   * non-null one nulling the whole data.
   */
  function failed(plan: StatementPlan, error: unknown): GraphQLResponse {
    const known = toAppError(error);
    const errors = plan.roots
      .filter((root) => root.reads)
      .map(({ key, node }) => {
        const graphqlError = new GraphQLError(known?.message ?? 'planned read failed', {
          nodes: [node],
          path: [key],
          originalError: error instanceof Error ? error : undefined,
        });
        return formatError(graphqlError.toJSON(), graphqlError);
      });
    const data = plan.roots.some((root) => root.reads && root.nonNull)
      ? null
      : Object.fromEntries(
          plan.roots.map(({ key, reads }) => [key, reads ? null : plan.rootTypeName]),
        );
    // The status and headers the error asks for (401 with WWW-Authenticate…), as Apollo sets
    // them from a field's error.
    const http = known?.extensions.http as
      { status?: number; headers?: ReadonlyMap<string, string> } | undefined;
    return response({ data, errors }, http?.status, http?.headers);
  }
}

function response(
  singleResult: Extract<GraphQLResponse['body'], { kind: 'single' }>['singleResult'],
  status?: number,
  headers?: ReadonlyMap<string, string>,
): GraphQLResponse {
  return {
    http: { status, headers: new HeaderMap(headers ? [...headers] : []) },
    body: { kind: 'single', singleResult },
  };
}
