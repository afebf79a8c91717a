import { Args, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { SearchArgs } from './search.args.js';
import { search, searchHighlight } from './search.service.js';
import { HighlightPart, SearchConnection, SearchEdge } from './search.type.js';

@Resolver(() => SearchEdge)
export class SearchResolver {
  @Query(() => SearchConnection, {
    description:
      "Full-text search over the current tenant's project names and descriptions, task titles " +
      'and descriptions and comment bodies. Exact title (or project name) matches first, then ' +
      'by rank. BAD_USER_INPUT for a blank or too long query; a query of only stop words finds ' +
      'nothing.',
  })
  search(
    @Args(() => SearchArgs) args: SearchArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SearchConnection> {
    return search(ctx, args);
  }

  @FieldResolver(() => [HighlightPart], {
    description:
      'The matching words in their context (a passage of up to 35 words), cut into pieces; ' +
      'computed only when selected.',
  })
  highlight(@Root() edge: SearchEdge, @Ctx() ctx: GraphQLContext): Promise<HighlightPart[]> {
    return searchHighlight(ctx, edge);
  }
}
