import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../logger.js';
import type { GraphQLContext } from './context.js';
import { createFormatError } from './errors.js';
import {
  limitParseOptions,
  limitValidationRules,
  queryLimitsPlugin,
  QUERY_LIMITS,
  type QueryLimits,
} from './limits.js';
import { operationTransactionPlugin } from './operation-plugin.js';
import { stringifyResult } from './planner/planned-data.js';
import { queryPlannerPlugin } from './planner/plugin.js';

export function createApolloServer(
  schema: GraphQLSchema,
  options: {
    log: Logger;
    production: boolean;
    /** Defaults to off in production, on otherwise. */
    introspection?: boolean;
    /** Depth, alias, directive, token and cost limits; today's defaults when omitted. */
    limits?: QueryLimits;
    /** Added after the built-in ones (operation logging and metrics). */
    plugins?: ApolloServerPlugin<GraphQLContext>[];
    /** Answer the read operations it covers with one planned statement (on unless false). */
    queryPlanner?: boolean;
    /** Whether the database is a Citus cluster, known once the API has asked (see the planner). */
    onCitus?: () => boolean;
  },
): ApolloServer<GraphQLContext> {
  const limits = options.limits ?? QUERY_LIMITS;
  return new ApolloServer<GraphQLContext>({
    schema,
    formatError: createFormatError(options.log),
    includeStacktraceInErrorResponses: false,
    introspection: options.introspection ?? !options.production,
    // main.ts owns shutdown: it drains in-flight requests first, then stops Apollo. Apollo's own
    // SIGTERM handler would stop it at once, failing requests still being read.
    stopOnTerminationSignals: false,
    // No "Did you mean …?" in production: suggestions map the schema for whoever probes it.
    hideSchemaDetailsFromClientErrors: options.production,
    // Compact JSON: Apollo pretty-prints by default, which for a nested page is a third more
    // bytes to build, send and parse. Planned data goes out as PostgreSQL wrote it.
    stringifyResult,
    // Batching stays off (Apollo's default): one HTTP request, one operation, one transaction.
    allowBatchedHttpRequests: false,
    parseOptions: limitParseOptions(limits),
    validationRules: limitValidationRules(limits),
    // Apollo's default landing page loads from a CDN; tenantql never calls outside hosts.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Apollo installs cache control by default: it wraps every field resolver to compute a
      // Cache-Control header that per-user, per-tenant responses must never carry anyway.
      ApolloServerPluginCacheControlDisabled(),
      queryLimitsPlugin(limits),
      operationTransactionPlugin(options.log),
      ...(options.plugins ?? []),
      ...(options.queryPlanner === false ? [] : [queryPlannerPlugin(options.log, options.onCitus)]),
    ],
    logger: {
      debug: (m) => options.log.debug(m),
      info: (m) => options.log.info(m),
      warn: (m) => options.log.warn(m),
      error: (m) => options.log.error(m),
    },
  });
}
