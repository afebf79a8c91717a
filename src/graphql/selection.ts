import {
  getArgumentValues,
  getNamedType,
  isObjectType,
  Kind,
  type FieldNode,
  type GraphQLField,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';

/** Field nodes named `name` in a selection set, looking through fragments. */
function fieldsNamed(
  selectionSet: SelectionSetNode | undefined,
  name: string,
  info: GraphQLResolveInfo,
  seen = new Set<string>(),
): FieldNode[] {
  const found: FieldNode[] = [];
  for (const selection of selectionSet?.selections ?? []) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === name) found.push(selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      found.push(...fieldsNamed(selection.selectionSet, name, info, seen));
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = info.fragments[selection.name.value];
      found.push(...fieldsNamed(fragment?.selectionSet, name, info, seen));
    }
  }
  return found;
}

/** The field nodes at `path` below the field being resolved, and the last field's definition. */
function nodesBelow(info: GraphQLResolveInfo, path: readonly string[]) {
  let nodes: readonly FieldNode[] = info.fieldNodes;
  let type = getNamedType(info.returnType);
  let field: GraphQLField<unknown, unknown> | undefined;
  for (const name of path) {
    if (!isObjectType(type)) return undefined;
    field = type.getFields()[name];
    if (!field) return undefined;
    nodes = nodes.flatMap((node) => fieldsNamed(node.selectionSet, name, info));
    type = getNamedType(field.type);
  }
  return field && { nodes, field };
}

/** Names of the fields selected in `selectionSet`, looking through fragments. */
function selectedNames(
  selectionSet: SelectionSetNode | undefined,
  info: GraphQLResolveInfo,
  names: Set<string>,
  seen = new Set<string>(),
): Set<string> {
  for (const selection of selectionSet?.selections ?? []) {
    if (selection.kind === Kind.FIELD) names.add(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) {
      selectedNames(selection.selectionSet, info, names, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      selectedNames(info.fragments[selection.name.value]?.selectionSet, info, names, seen);
    }
  }
  return names;
}

/**
 * The names of the fields selected on the field at `path` below the field being resolved, in
 * every place it is selected (aliases, fragments): what its resolvers will read of its value.
 * Empty when it is not selected.
 */
export function fieldsBelow(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const node of nodesBelow(info, path)?.nodes ?? []) {
    selectedNames(node.selectionSet, info, names);
  }
  return names;
}

/**
 * The arguments of the field at `path` below the field being resolved (`edges.node.comments`
 * below a tasks connection), once per place it is selected (aliases, fragments), with variables
 * and defaults applied. For fetching ahead: what graphql-js will ask of the children. Skip and
 * include directives are not evaluated, so a skipped field may still be counted.
 */
export function argumentsBelow(
  info: GraphQLResolveInfo,
  path: readonly string[],
): Record<string, unknown>[] {
  const below = nodesBelow(info, path);
  if (!below) return [];
  return below.nodes.map((node) => getArgumentValues(below.field, node, info.variableValues));
}

/**
 * The arguments of the field at `path`, when it is selected below with one set of arguments;
 * undefined when not selected, or selected (under aliases) with several.
 */
export function soleArgumentsBelow(
  info: GraphQLResolveInfo,
  path: readonly string[],
): Record<string, unknown> | undefined {
  const asked = new Map(argumentsBelow(info, path).map((args) => [JSON.stringify(args), args]));
  return asked.size === 1 ? [...asked.values()][0] : undefined;
}
