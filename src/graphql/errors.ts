import { randomUUID } from 'node:crypto';
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { toAppError } from '../db/errors.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';

/** Codes produced by the GraphQL machinery itself for problems in the request. */
const REQUEST_ERROR_CODES = new Set<string>([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.BAD_USER_INPUT,
  ApolloServerErrorCode.BAD_REQUEST,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
  'INTROSPECTION_DISABLED',
]);

const APP_ERROR_CODES = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'TENANT_REQUIRED',
  'TENANT_NOT_ALLOWED',
  'TENANT_SUSPENDED',
  'RATE_LIMITED',
  'QUOTA_EXCEEDED',
  'SERVICE_UNAVAILABLE',
  'INVALID_TRANSITION',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COMPLEX',
  'TOO_MANY_ALIASES',
  'TOO_MANY_DIRECTIVES',
] satisfies ErrorCode[]);

/**
 * Coded errors pass through; database errors become the coded error they mean; anything else is a
 * bug: logged with an id and replaced by a generic message, so no stack trace or SQL reaches a client.
 */
export function createFormatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    // Apollo wraps errors of validation rules (the query limits) in its own ValidationError.
    const known =
      toAppError(original) ??
      (original instanceof GraphQLError && original.originalError instanceof AppError
        ? original.originalError
        : undefined);
    if (known) {
      return {
        message: known.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...known.extensions, http: undefined },
      };
    }
    // Errors thrown while building the context reach here as copies, no longer AppError instances.
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && (REQUEST_ERROR_CODES.has(code) || APP_ERROR_CODES.has(code))) {
      const extensions = { ...formatted.extensions };
      delete extensions.stacktrace;
      delete extensions.http;
      return {
        message: formatted.message.replace(/^Context creation failed: /, ''),
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...extensions, code },
      };
    }
    const errorId = randomUUID();
    log.error({ err: original, errorId, path: formatted.path }, 'unexpected error in operation');
    return {
      message: `Internal server error. Quote error id ${errorId} when reporting it.`,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
    };
  };
}
