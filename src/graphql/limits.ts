import type { ApolloServerPlugin } from '@apollo/server';
import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  isAbstractType,
  isCompositeType,
  isListType,
  isObjectType,
  isUnionType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type NamedTypeNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from '../config.js';
import { AppError, type ErrorCode } from '../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './connection.js';
import { coercedVariables, fragmentsOf } from './operation-inputs.js';

export type { QueryLimits };

/** Today's limits; each can be changed with its QUERY_MAX_* setting (src/config.ts). */
export const QUERY_LIMITS: Readonly<QueryLimits> = DEFAULT_QUERY_LIMITS;

/** Which limit refused an operation, as `extensions.limit` names it. */
export type LimitName = 'depth' | 'aliases' | 'directives' | 'cost';

/**
 * Rows a list field without `first` is counted for, when something other than the request bounds
 * its length. A list not named here and without `first` counts as a full page (MAX_PAGE_SIZE), so
 * a new unbounded list is never counted once.
 */
export const LIST_BOUNDS: Readonly<Record<string, number>> = {
  // A tenant's members: the largest plan with a member limit allows 250 (sql/0008_admin.sql).
  // Enterprise tenants have no limit; their members are still counted as 250 each time.
  'Query.members': 250,
  'AdminTenant.members': 250,
  // Seven statuses: at most 42 steps between them.
  'Query.projectWorkflow': 50,
  // One entry per task status.
  'TaskStats.byStatus': 3,
  // One per member (counted as the largest plan with a member limit, as members is), and the
  // unassigned tasks.
  'TaskStats.byAssignee': 251,
  // A passage of at most 35 words: 35 matches and the 36 gaps around them.
  'SearchEdge.highlight': 71,
};

/**
 * What a field costs beyond the values it returns, per row it is resolved for: the fields that
 * read many rows to answer with a few. An aggregate reads every task of its project, priced as a
 * default page of them; search ranks every match of the tenant before it cuts a page.
 */
export const FIELD_SURCHARGES: Readonly<Record<string, number>> = {
  'TaskStats.total': DEFAULT_PAGE_SIZE,
  'TaskStats.byStatus': DEFAULT_PAGE_SIZE,
  'TaskStats.byAssignee': DEFAULT_PAGE_SIZE,
  'TaskStats.overdue': DEFAULT_PAGE_SIZE,
  'Query.search': MAX_PAGE_SIZE,
  // ts_headline parses the hit's whole text again.
  'SearchEdge.highlight': 10,
};

/**
 * A query refused by one of the limits; HTTP 400, like other request errors. `extensions` name the
 * limit, its maximum and what this operation measured, so a client knows how far to cut.
 */
export class QueryLimitError extends AppError {
  constructor(
    code: ErrorCode,
    readonly limit: LimitName,
    readonly maximum: number,
    readonly measured: number,
    message: string,
  ) {
    super(code, message, { limit, maximum, measured, http: { status: 400 } });
  }
}

/** Large counts (fragments that double at each level) stay finite and JSON-serialisable. */
function saturate(value: number): number {
  return Math.min(value, Number.MAX_SAFE_INTEGER);
}

/**
 * Parser options for Apollo and the WebSocket path. NOTE: an error thrown by a plugin before
 * parsing becomes an opaque HTTP 500 in Apollo, so the token limit is graphql-js's own; it answers
 * GRAPHQL_PARSE_FAILED with the message "Document contains more than N tokens".
 */
export function limitParseOptions(limits: QueryLimits = QUERY_LIMITS): { maxTokens: number } {
  return { maxTokens: limits.maxTokens };
}

interface Shape {
  depth: number;
  aliases: number;
  directives: number;
}

/**
 * Depth (fragments flattened), aliases and directives of each operation, every fragment spread
 * counted where it is spread. Each fragment is measured once, so a document built to blow up when
 * its fragments are expanded costs one pass over its text to measure.
 */
function shapeRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map<string, Shape>();

    function fragmentShape(name: string): Shape {
      const known = fragments.get(name);
      if (known) return known;
      // A cycle (refused by NoFragmentCyclesRule, which runs alongside) counts as nothing here.
      fragments.set(name, { depth: 0, aliases: 0, directives: 0 });
      const fragment = context.getFragment(name);
      const shape = fragment
        ? setShape(fragment.selectionSet, fragment.directives?.length ?? 0)
        : { depth: 0, aliases: 0, directives: 0 };
      fragments.set(name, shape);
      return shape;
    }

    function setShape(set: SelectionSetNode, ownDirectives = 0): Shape {
      const shape = { depth: 0, aliases: 0, directives: ownDirectives };
      for (const selection of set.selections) {
        shape.directives += selection.directives?.length ?? 0;
        let inner: Shape;
        if (selection.kind === Kind.FIELD) {
          // Introspection is bounded by the schema, not by anyone's data.
          if (selection.name.value === '__schema') continue;
          if (selection.alias) shape.aliases++;
          inner = selection.selectionSet ? setShape(selection.selectionSet) : shape0();
          inner = { ...inner, depth: inner.depth + 1 };
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          inner = setShape(selection.selectionSet);
        } else {
          inner = fragmentShape(selection.name.value);
        }
        shape.depth = Math.max(shape.depth, inner.depth);
        shape.aliases = saturate(shape.aliases + inner.aliases);
        shape.directives = saturate(shape.directives + inner.directives);
      }
      return shape;
    }

    return {
      OperationDefinition(operation) {
        const shape = setShape(operation.selectionSet, operation.directives?.length ?? 0);
        const refuse = (code: ErrorCode, limit: LimitName, maximum: number, measured: number) =>
          context.reportError(
            new QueryLimitError(
              code,
              limit,
              maximum,
              measured,
              `The query has ${measured} ${limit === 'depth' ? 'levels of nesting' : limit}; at most ${maximum} are allowed.`,
            ),
          );
        if (shape.depth > limits.maxDepth) {
          refuse('QUERY_TOO_DEEP', 'depth', limits.maxDepth, shape.depth);
        } else if (shape.aliases > limits.maxAliases) {
          refuse('TOO_MANY_ALIASES', 'aliases', limits.maxAliases, shape.aliases);
        } else if (shape.directives > limits.maxDirectives) {
          refuse('TOO_MANY_DIRECTIVES', 'directives', limits.maxDirectives, shape.directives);
        }
      },
    };
  };
}

function shape0(): Shape {
  return { depth: 0, aliases: 0, directives: 0 };
}

export function limitValidationRules(limits: QueryLimits = QUERY_LIMITS): ValidationRule[] {
  return [shapeRule(limits)];
}

interface CostWalk {
  schema: GraphQLSchema;
  fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  /** The operation's variables as execution will see them: coerced, defaults filled in. */
  variables: Record<string, unknown>;
  /** Cost of a selection set for one row of a type; a set is costed once per type it meets. */
  memo: Map<SelectionSetNode, Map<string, number>>;
}

/** The field's arguments as the resolver will see them; undefined when execution refuses them. */
function argumentsOf(
  walk: CostWalk,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
): Record<string, unknown> | undefined {
  try {
    return getArgumentValues(field, node, walk.variables);
  } catch {
    return undefined;
  }
}

/**
 * Rows a field with a `first` (or `last`) argument fetches, as the resolver will see its
 * arguments: `last`, when given, is the page size, as the connections read it.
 */
function pageRows(walk: CostWalk, field: GraphQLField<unknown, unknown>, node: FieldNode): number {
  const args = argumentsOf(walk, field, node);
  // Execution refuses these arguments itself; count the most they could ask for meanwhile.
  if (!args) return MAX_PAGE_SIZE;
  let first = args.last ?? args.first;
  if (first === null || first === undefined) {
    // null asks for the field's default page size.
    const fallback = field.args.find((a) => a.name === 'first')?.defaultValue;
    first = typeof fallback === 'number' ? fallback : MAX_PAGE_SIZE;
  }
  // Outside 1…MAX_PAGE_SIZE the resolver refuses (BAD_USER_INPUT) before fetching anything.
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 1) return 1;
  return Math.min(first, MAX_PAGE_SIZE);
}

/**
 * Rows a field taking a list of ids fetches (nodes(ids:)): one per id. Past MAX_PAGE_SIZE ids the
 * resolver refuses (BAD_USER_INPUT) before fetching anything: counted as the cap, like `first`.
 */
function idRows(walk: CostWalk, field: GraphQLField<unknown, unknown>, node: FieldNode): number {
  let ids: unknown;
  try {
    ids = getArgumentValues(field, node, walk.variables).ids;
  } catch {
    return MAX_PAGE_SIZE;
  }
  if (!Array.isArray(ids)) return MAX_PAGE_SIZE;
  return Math.min(Math.max(ids.length, 1), MAX_PAGE_SIZE);
}

/** Rows of `field` each of its selections is resolved for. */
function rowsOf(
  walk: CostWalk,
  parent: GraphQLCompositeType,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
): number {
  if (field.args.some((a) => a.name === 'first')) return pageRows(walk, field, node);
  if (field.args.some((a) => a.name === 'ids')) return idRows(walk, field, node);
  if (!isListType(getNullableType(field.type))) return 1;
  const bound = LIST_BOUNDS[`${parent.name}.${field.name}`];
  if (bound !== undefined) return bound;
  // A connection's edges: its `first` was counted on the field that returned the connection.
  if (field.name === 'edges' && isObjectType(parent) && parent.getFields().pageInfo) return 1;
  return MAX_PAGE_SIZE;
}

/**
 * Conditions in a filter argument: each operator (or plain shorthand field) counts one, through
 * and/or/not at any depth; an `in` list counts once, an empty list not at all.
 */
export function filterConditions(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (Array.isArray(value) && value.length === 0) return 0;
  if (Array.isArray(value)) {
    const nested = value.some((v) => typeof v === 'object' && v !== null && !(v instanceof Date));
    return nested ? saturate(value.reduce((sum: number, v) => sum + filterConditions(v), 0)) : 1;
  }
  if (typeof value === 'object' && !(value instanceof Date)) {
    return saturate(Object.values(value).reduce((sum: number, v) => sum + filterConditions(v), 0));
  }
  return 1;
}

/**
 * A filter makes the database test rows it does not return: each condition counts like one more
 * field selected on every row of the page.
 */
function filterCost(walk: CostWalk, field: GraphQLField<unknown, unknown>, node: FieldNode) {
  if (!field.args.some((a) => a.name === 'filter')) return 0;
  return filterConditions(argumentsOf(walk, field, node)?.filter);
}

function fieldCost(walk: CostWalk, parent: GraphQLCompositeType, node: FieldNode): number {
  // __typename costs one; __schema and __type are bounded by the schema, not by anyone's data.
  if (node.name.value.startsWith('__') || isUnionType(parent)) return 1;
  const own = 1 + (FIELD_SURCHARGES[`${parent.name}.${node.name.value}`] ?? 0);
  if (!node.selectionSet) return own;
  const field = parent.getFields()[node.name.value];
  if (!field) return own;
  const type = getNamedType(field.type);
  if (!isCompositeType(type)) return own;
  const perRow = setCost(walk, node.selectionSet, type) + filterCost(walk, field, node);
  return saturate(own + rowsOf(walk, parent, field, node) * perRow);
}

/** Whether a fragment on `condition` selects anything for an object of `type`. */
function applies(walk: CostWalk, condition: NamedTypeNode | undefined, type: GraphQLCompositeType) {
  if (!condition || isAbstractType(type)) return true;
  const target = walk.schema.getType(condition.name.value);
  if (!target) return false;
  return target === type || (isAbstractType(target) && walk.schema.isSubType(target, type));
}

/**
 * Cost of a selection set for one object of a concrete type: each field counts once, times the
 * rows of the lists it sits in. Fragments count for the type they select on and only where they
 * apply; under an interface or union the most expensive possible type is counted.
 */
function setCost(walk: CostWalk, set: SelectionSetNode, type: GraphQLCompositeType): number {
  if (isAbstractType(type)) {
    const possible = walk.schema.getPossibleTypes(type);
    // An abstract type nobody implements yet resolves nothing; counting its selection as if it
    // applied keeps the cost from ever being zero.
    if (possible.length === 0) return concreteCost(walk, set, type);
    return Math.max(...possible.map((p) => concreteCost(walk, set, p)));
  }
  return concreteCost(walk, set, type);
}

function concreteCost(walk: CostWalk, set: SelectionSetNode, type: GraphQLCompositeType): number {
  let byType = walk.memo.get(set);
  const known = byType?.get(type.name);
  if (known !== undefined) return known;
  if (!byType) {
    byType = new Map<string, number>();
    walk.memo.set(set, byType);
  }
  // A fragment cycle (refused by validation) counts as nothing while it is being costed.
  byType.set(type.name, 0);
  let cost = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      cost += fieldCost(walk, type, selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (applies(walk, selection.typeCondition, type)) {
        cost += concreteCost(walk, selection.selectionSet, type);
      }
    } else {
      const fragment = walk.fragments[selection.name.value];
      if (fragment && applies(walk, fragment.typeCondition, type)) {
        cost += concreteCost(walk, fragment.selectionSet, type);
      }
    }
    cost = saturate(cost);
  }
  byType.set(type.name, cost);
  return cost;
}

/**
 * Every field counts once per row it may be resolved for: a field inside `tasks(first: 20)`
 * counts 20 times, inside `projects(first: 10) { … tasks(first: 20) }` 200 times. Page sizes come
 * from the coerced variables, so a variable's default counts as what it is. Undefined when the
 * variables do not coerce: execution then refuses the operation before any resolver runs.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown> | undefined,
): number | undefined {
  // Without variables the cost is the document's own, and Apollo hands a repeated document over
  // as the same parsed object: walked once, not per request.
  if (operation.variableDefinitions?.length) {
    return walkedCost(schema, document, operation, rawVariables);
  }
  let bySchema = costWithoutVariables.get(schema);
  if (!bySchema) costWithoutVariables.set(schema, (bySchema = new WeakMap()));
  if (bySchema.has(operation)) return bySchema.get(operation);
  const cost = walkedCost(schema, document, operation, undefined);
  bySchema.set(operation, cost);
  return cost;
}

const costWithoutVariables = new WeakMap<
  GraphQLSchema,
  WeakMap<OperationDefinitionNode, number | undefined>
>();

function walkedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown> | undefined,
): number | undefined {
  const root = schema.getRootType(operation.operation);
  if (!root) return undefined;
  const variables = coercedVariables(schema, operation, rawVariables);
  if (!variables) return undefined;
  const fragments = fragmentsOf(document);
  const walk: CostWalk = { schema, fragments, variables, memo: new Map() };
  return setCost(walk, operation.selectionSet, root);
}

/** QUERY_TOO_COMPLEX when the operation could fetch more than `limits.maxCost` values. */
export function checkOperationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown> | undefined,
  limits: QueryLimits = QUERY_LIMITS,
): void {
  const cost = operationCost(schema, document, operation, rawVariables);
  if (cost === undefined || cost <= limits.maxCost) return;
  throw new QueryLimitError(
    'QUERY_TOO_COMPLEX',
    'cost',
    limits.maxCost,
    cost,
    `The query could fetch ${cost} values; at most ${limits.maxCost} are allowed. Ask for smaller pages (first) or fewer fields.`,
  );
}

/**
 * Apollo plugin: refuses operations that could fetch too many rows, once variables are known
 * (validation rules cannot see them). Runs after validation, before any resolver.
 */
export function queryLimitsPlugin(limits: QueryLimits = QUERY_LIMITS): ApolloServerPlugin {
  return {
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ document, operation, schema, request }) {
          if (operation) checkOperationCost(schema, document, operation, request.variables, limits);
          return Promise.resolve();
        },
      });
    },
  };
}
