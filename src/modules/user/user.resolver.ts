import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { currentUser } from './user.service.js';
import { User } from './user.type.js';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  me(@Ctx() ctx: GraphQLContext): Promise<User | null> {
    return currentUser(ctx);
  }
}
