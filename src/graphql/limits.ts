import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType,
  isCompositeType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
  isObjectType,
  isInterfaceType,
} from 'graphql';
import { AppError, type ErrorCode } from '../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './connection.js';

/**
 * What one operation may ask for. The reference operation of the benchmark (a project, 20 tasks,
 * 10 comments each) has depth 8, no aliases, about 60 tokens and cost 702.
 */
export const QUERY_LIMITS = {
  /** Nested selection sets, fragments flattened. */
  maxDepth: 15,
  maxAliases: 30,
  maxDirectives: 20,
  /**
   * Lexical tokens of the document: graphql-js's parser stops counting past it, before building
   * a large AST or validating it (validating many copies of one field takes quadratic time).
   */
  maxTokens: 5_000,
  /** Fields weighted by the page sizes of the lists around them (see operationCost). */
  maxCost: 50_000,
} as const;

/** A query refused by one of QUERY_LIMITS; HTTP 400, like other request errors. */
export class QueryLimitError extends AppError {
  constructor(code: ErrorCode, message: string, limit: number) {
    super(code, message, { limit, http: { status: 400 } });
  }
}

/**
 * graphql-armor's rules report through ValidationContext; the errors they make say "Syntax
 * Error", so each rejection is replaced by a coded error of our own.
 */
function rejectWith(code: ErrorCode, message: string, limit: number) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null) => {
        context?.reportError(new QueryLimitError(code, message, limit));
      },
    ],
  };
}

/**
 * Parser options for Apollo. NOTE: an error thrown by a plugin before parsing becomes an opaque
 * HTTP 500 in Apollo, so the token limit is graphql-js's own; it answers GRAPHQL_PARSE_FAILED
 * with the message "Document contains more than N tokens".
 */
export function limitParseOptions(limits = QUERY_LIMITS): { maxTokens: number } {
  return { maxTokens: limits.maxTokens };
}

export function limitValidationRules(limits = QUERY_LIMITS): ValidationRule[] {
  return [
    maxDepthRule({
      n: limits.maxDepth,
      flattenFragments: true,
      ...rejectWith(
        'QUERY_TOO_DEEP',
        `The query nests deeper than ${limits.maxDepth} levels.`,
        limits.maxDepth,
      ),
    }),
    maxAliasesRule({
      n: limits.maxAliases,
      // armor exempts aliases of __typename by default; they cost little, but count them anyway.
      allowList: [],
      ...rejectWith(
        'TOO_MANY_ALIASES',
        `The query uses more than ${limits.maxAliases} aliases.`,
        limits.maxAliases,
      ),
    }),
    maxDirectivesRule({
      n: limits.maxDirectives,
      ...rejectWith(
        'TOO_MANY_DIRECTIVES',
        `The query uses more than ${limits.maxDirectives} directives.`,
        limits.maxDirectives,
      ),
    }),
  ];
}

interface CostInput {
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  limit: number;
}

/** The page size a field with a `first` argument will fetch, as pageSize() will see it. */
function pageSizeOf(
  args: readonly { name: { value: string }; value: ValueNode }[],
  variables: Record<string, unknown>,
  hasFirst: boolean,
): number {
  if (!hasFirst) return 1;
  const arg = args.find((a) => a.name.value === 'first');
  let value: unknown = DEFAULT_PAGE_SIZE;
  if (arg?.value.kind === Kind.INT) value = Number(arg.value.value);
  else if (arg?.value.kind === Kind.VARIABLE) value = variables[arg.value.name.value];
  // Larger values are refused by the resolver (BAD_USER_INPUT); cost counts what could run.
  return typeof value === 'number' && value >= 1 ? Math.min(value, MAX_PAGE_SIZE) : 1;
}

/**
 * Every field counts once per row it may be resolved for: a field inside `tasks(first: 20)`
 * counts 20 times. Stops counting past the limit, so a document built to blow up when fragments
 * are expanded costs no more than the limit to refuse.
 */
function selectionCost(
  input: CostInput,
  type: GraphQLCompositeType,
  selectionSet: SelectionSetNode,
  multiplier: number,
  total: { cost: number },
): void {
  for (const selection of selectionSet.selections) {
    if (total.cost > input.limit) return;
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = input.fragments.get(selection.name.value);
      if (fragment) selectionCost(input, type, fragment.selectionSet, multiplier, total);
      continue;
    }
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      selectionCost(input, type, selection.selectionSet, multiplier, total);
      continue;
    }
    total.cost += multiplier;
    if (!selection.selectionSet) continue;
    const fields = isObjectType(type) || isInterfaceType(type) ? type.getFields() : {};
    const field = fields[selection.name.value];
    if (!field) continue;
    const named = getNamedType(field.type);
    if (!isCompositeType(named)) continue;
    const hasFirst = field.args.some((a) => a.name === 'first');
    const size = pageSizeOf(selection.arguments ?? [], input.variables, hasFirst);
    selectionCost(input, named, selection.selectionSet, multiplier * size, total);
  }
}

/**
 * Apollo plugin: refuses operations that could fetch too many rows, once variables are known
 * (validation rules cannot see them). Runs after validation, before any resolver.
 */
export function queryLimitsPlugin(limits = QUERY_LIMITS): ApolloServerPlugin {
  return {
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ document, operation, schema, request }) {
          if (!operation) return Promise.resolve();
          const root = schema.getRootType(operation.operation);
          if (!root) return Promise.resolve();
          const fragments = new Map<string, FragmentDefinitionNode>();
          for (const definition of document.definitions) {
            if (definition.kind === Kind.FRAGMENT_DEFINITION) {
              fragments.set(definition.name.value, definition);
            }
          }
          const total = { cost: 0 };
          const input = {
            fragments,
            variables: request.variables ?? {},
            limit: limits.maxCost,
          };
          selectionCost(input, root, operation.selectionSet, 1, total);
          if (total.cost > limits.maxCost) {
            throw new QueryLimitError(
              'QUERY_TOO_COMPLEX',
              `The query could fetch more than ${limits.maxCost} values; ask for smaller pages or fewer fields.`,
              limits.maxCost,
            );
          }
          return Promise.resolve();
        },
      });
    },
  };
}
