import {
  Arg,
  Ctx,
  ID,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from 'type-graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { Notification } from '../modules/notification/notification.type.js';
import { liveSession, notificationStream, taskChangeStream } from './live.service.js';
import { TaskChange } from './live.type.js';

type Subscribe = SubscribeResolverData<unknown, Record<string, unknown>, GraphQLContext>;

@Resolver()
export class LiveResolver {
  @Subscription(() => Notification, {
    description: 'Your new notifications in the current tenant, as they are created.',
    subscribe: ({ context }: Subscribe) => notificationStream(context),
  })
  notificationAdded(@Root() notification: Notification, @Ctx() ctx: GraphQLContext): Notification {
    liveSession(ctx);
    return notification;
  }

  @Subscription(() => TaskChange, {
    description:
      'Tasks of this project of the current tenant as they are created, updated and deleted.',
    subscribe: ({ context, args }: Subscribe) => taskChangeStream(context, args.projectId),
  })
  taskChanged(
    @Root() change: TaskChange,
    @Arg('projectId', () => ID) _projectId: string,
    @Ctx() ctx: GraphQLContext,
  ): TaskChange {
    liveSession(ctx);
    return change;
  }
}
