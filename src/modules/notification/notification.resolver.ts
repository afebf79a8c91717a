import {
  Arg,
  Args,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import type { Connection } from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { loadProject } from '../project/project.service.js';
import { Project } from '../project/project.type.js';
import { loadTask } from '../task/task.service.js';
import { Task } from '../task/task.type.js';
import { loadUser } from '../user/user.service.js';
import { User } from '../user/user.type.js';
import { NotificationDeliveriesArgs, NotificationsArgs } from './notification.args.js';
import { UpdateNotificationSettingsInput } from './notification.input.js';
import {
  getNotificationSettings,
  listNotificationDeliveries,
  listNotifications,
  markNotificationsRead,
  redeliverNotification,
  rotateWebhookSecret,
  unreadNotificationCount,
  updateNotificationSettings,
} from './notification.service.js';
import {
  Notification,
  NotificationConnection,
  NotificationDelivery,
  NotificationDeliveryConnection,
  NotificationSettings,
  RotateWebhookSecretPayload,
  UpdateNotificationSettingsPayload,
} from './notification.type.js';

@Resolver(() => Notification)
export class NotificationResolver {
  @Query(() => NotificationConnection, {
    description: 'Your notifications in the current tenant, newest first.',
  })
  notifications(
    @Args(() => NotificationsArgs) args: NotificationsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Notification>> {
    return listNotifications(ctx, args);
  }

  @Query(() => Int)
  unreadNotificationCount(@Ctx() ctx: GraphQLContext): Promise<number> {
    return unreadNotificationCount(ctx);
  }

  @Mutation(() => Int, {
    description: 'Marks these (or, without ids, all) read; returns how many changed.',
  })
  markNotificationsRead(
    @Arg('ids', () => [ID], { nullable: true }) ids: string[] | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<number> {
    return markNotificationsRead(ctx, ids);
  }

  @Query(() => NotificationSettings, {
    description: "The current tenant's notification channels. Owners and admins only.",
  })
  notificationSettings(@Ctx() ctx: GraphQLContext): Promise<NotificationSettings> {
    return getNotificationSettings(ctx);
  }

  @Mutation(() => UpdateNotificationSettingsPayload, {
    description: 'Changes webhook and email settings. Owners and admins only.',
  })
  updateNotificationSettings(
    @Arg('input', () => UpdateNotificationSettingsInput) input: UpdateNotificationSettingsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UpdateNotificationSettingsPayload> {
    return updateNotificationSettings(ctx, input);
  }

  @Mutation(() => RotateWebhookSecretPayload, {
    description:
      'Replaces the webhook signing secret and returns the new one, once. The replaced secret ' +
      'keeps signing too (a second signature in webhook-signature) for overlapSeconds ' +
      '(WEBHOOK_SECRET_OVERLAP_SECONDS unless given; 0 ends it at once; at most 7 days).',
  })
  rotateWebhookSecret(
    @Arg('overlapSeconds', () => Int, { nullable: true }) overlapSeconds: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RotateWebhookSecretPayload> {
    return rotateWebhookSecret(ctx, overlapSeconds);
  }

  @Mutation(() => Boolean, {
    description:
      'Sends a failed or dead webhook or email delivery again, from its first attempt (after ' +
      'fixing the endpoint). Owners and admins; NOT_FOUND for a delivered one or one in flight.',
  })
  redeliverNotification(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return redeliverNotification(ctx, id);
  }

  @Query(() => NotificationDeliveryConnection, {
    description:
      'Webhook and email deliveries of the current tenant, newest first. Owners and admins only.',
  })
  notificationDeliveries(
    @Args(() => NotificationDeliveriesArgs) args: NotificationDeliveriesArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<NotificationDelivery>> {
    return listNotificationDeliveries(ctx, args);
  }

  @FieldResolver(() => User, { nullable: true })
  async actor(@Root() n: Notification, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return n.actorId ? ((await loadUser(ctx, n.actorId)) ?? null) : null;
  }

  @FieldResolver(() => Project, { nullable: true, description: 'Null once deleted.' })
  async project(@Root() n: Notification, @Ctx() ctx: GraphQLContext): Promise<Project | null> {
    return n.projectId ? ((await loadProject(ctx, n.projectId)) ?? null) : null;
  }

  @FieldResolver(() => Task, { nullable: true, description: 'Null once deleted.' })
  async task(@Root() n: Notification, @Ctx() ctx: GraphQLContext): Promise<Task | null> {
    return n.taskId ? ((await loadTask(ctx, n.taskId)) ?? null) : null;
  }
}
