import {
  getVariableValues,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

const fragmentsByDocument = new WeakMap<DocumentNode, Record<string, FragmentDefinitionNode>>();

/** The document's fragments by name; once per document (Apollo keeps parsed documents). */
export function fragmentsOf(
  document: DocumentNode,
): Readonly<Record<string, FragmentDefinitionNode>> {
  let fragments = fragmentsByDocument.get(document);
  if (!fragments) {
    fragments = {};
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        fragments[definition.name.value] = definition;
      }
    }
    fragmentsByDocument.set(document, fragments);
  }
  return fragments;
}

type Coerced = Record<string, unknown> | undefined;
const coercedByInput = new WeakMap<object, Map<OperationDefinitionNode, Coerced>>();

/**
 * The operation's variables as execution will see them (coerced, defaults filled in), or
 * undefined when they do not coerce (execution then refuses the operation). The cost limit and
 * the planner both need them; the request's variables are coerced once.
 */
export function coercedVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  input: Record<string, unknown> | undefined,
): Coerced {
  const byOperation = input ? coercedByInput.get(input) : undefined;
  if (byOperation?.has(operation)) return byOperation.get(operation);
  const { coerced, errors } = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    input ?? {},
  );
  const result = errors ? undefined : coerced;
  if (input) {
    coercedByInput.set(
      input,
      (byOperation ?? new Map<OperationDefinitionNode, Coerced>()).set(operation, result),
    );
  }
  return result;
}
