import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { MAX_NODE_IDS, findNode, findNodes } from './node.service.js';
import { Node } from './node.type.js';

@Resolver()
export class NodeResolver {
  @Query(() => Node, {
    nullable: true,
    description:
      'A project, task or comment of the current tenant by id. Null when missing or not yours to see; BAD_USER_INPUT when the id is not a uuid.',
  })
  node(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Node | null> {
    return findNode(ctx, id);
  }

  @Query(() => [Node], {
    nullable: 'items',
    description: `node(id:) for up to ${MAX_NODE_IDS} ids at once: one entry per id, in order.`,
  })
  nodes(
    @Arg('ids', () => [ID]) ids: string[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<(Node | null)[]> {
    return findNodes(ctx, ids);
  }
}
