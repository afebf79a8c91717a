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
  let nodes: readonly FieldNode[] = info.fieldNodes;
  let type = getNamedType(info.returnType);
  let field: GraphQLField<unknown, unknown> | undefined;
  for (const name of path) {
    if (!isObjectType(type)) return [];
    field = type.getFields()[name];
    if (!field) return [];
    nodes = nodes.flatMap((node) => fieldsNamed(node.selectionSet, name, info));
    type = getNamedType(field.type);
  }
  const target = field;
  if (!target) return [];
  return nodes.map((node) => getArgumentValues(target, node, info.variableValues));
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
