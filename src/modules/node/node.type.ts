import { Field, ID, InterfaceType } from 'type-graphql';

/** The domain types `node(id:)` and `search` answer with. */
export type NodeTypeName = 'Project' | 'Task' | 'Comment';

/**
 * Which type a value answered as a Node (or a search result) is. The services build plain
 * objects, not class instances, so type-graphql's instanceof test cannot tell them apart; a
 * symbol key never reaches a response.
 */
const NODE_TYPE = Symbol('nodeType');

export type Tagged<T> = T & { [NODE_TYPE]: NodeTypeName };

export function tagNode<T extends object>(typename: NodeTypeName, value: T): Tagged<T> {
  return Object.assign(value, { [NODE_TYPE]: typename });
}

export function nodeTypeOf(value: unknown): NodeTypeName | undefined {
  return typeof value === 'object' && value !== null && NODE_TYPE in value
    ? (value as Tagged<object>)[NODE_TYPE]
    : undefined;
}

@InterfaceType({
  description:
    'An object with an id of its own (Relay). The id is the uuid the type has everywhere else; ' +
    'node(id:) and nodes(ids:) find it in any of the implementing types.',
  resolveType: (value: unknown) => nodeTypeOf(value),
})
export abstract class Node {
  @Field(() => ID)
  id!: string;
}
