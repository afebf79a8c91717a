import { Args, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { Connection } from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { loadUser } from '../user/user.service.js';
import { User } from '../user/user.type.js';
import { ActivityArgs } from './activity.args.js';
import { listActivity } from './activity.service.js';
import { Activity, ActivityConnection } from './activity.type.js';

@Resolver(() => Activity)
export class ActivityResolver {
  @Query(() => ActivityConnection, {
    description:
      "The current tenant's activity log, newest first. Owners and admins only (FORBIDDEN otherwise).",
  })
  activity(
    @Args(() => ActivityArgs) args: ActivityArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Activity>> {
    return listActivity(ctx, args);
  }

  @FieldResolver(() => User, {
    nullable: true,
    description: 'Who made the change; null once their account is deleted.',
  })
  async actor(@Root() activity: Activity, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return activity.actorId ? ((await loadUser(ctx, activity.actorId)) ?? null) : null;
  }
}
