import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType } from '../../graphql/connection.js';

export const NotificationKind = {
  TASK_ASSIGNED: 'TASK_ASSIGNED',
  TASK_COMMENTED: 'TASK_COMMENTED',
  PROJECT_STATUS_CHANGED: 'PROJECT_STATUS_CHANGED',
  MEMBER_ADDED: 'MEMBER_ADDED',
} as const;
export type NotificationKind = (typeof NotificationKind)[keyof typeof NotificationKind];
registerEnumType(NotificationKind, {
  name: 'NotificationKind',
  valuesConfig: {
    TASK_ASSIGNED: { description: 'A task was assigned to you.' },
    TASK_COMMENTED: { description: 'Someone commented on a task you created or are assigned.' },
    PROJECT_STATUS_CHANGED: { description: 'A project you created changed status.' },
    MEMBER_ADDED: { description: 'You were added to this tenant.' },
  },
});

@ObjectType({ description: 'Something that happened in the current tenant that concerns you.' })
export class Notification {
  @Field(() => ID)
  id!: string;

  @Field(() => NotificationKind)
  kind!: NotificationKind;

  @Field(() => String, { description: 'A sentence to show as is.' })
  message!: string;

  @Field(() => Boolean)
  read!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  /** Resolved into `actor`, `project` and `task` through the batched loaders. */
  actorId!: string | null;
  projectId!: string | null;
  taskId!: string | null;
}

@ObjectType('NotificationConnection')
export class NotificationConnection extends ConnectionType('Notification', () => Notification) {}

export const NotificationChannel = { WEBHOOK: 'WEBHOOK', EMAIL: 'EMAIL' } as const;
export type NotificationChannel = (typeof NotificationChannel)[keyof typeof NotificationChannel];
registerEnumType(NotificationChannel, {
  name: 'NotificationChannel',
  description: 'External channels; in-app notifications are always on.',
});

export const NotificationDeliveryStatus = {
  PENDING: 'PENDING',
  DELIVERED: 'DELIVERED',
  DEAD: 'DEAD',
} as const;
export type NotificationDeliveryStatus =
  (typeof NotificationDeliveryStatus)[keyof typeof NotificationDeliveryStatus];
registerEnumType(NotificationDeliveryStatus, {
  name: 'NotificationDeliveryStatus',
  valuesConfig: {
    PENDING: { description: 'Not yet delivered; attempted again at nextAttemptAt.' },
    DELIVERED: { description: 'Acknowledged by the receiver (any 2xx) or the mail server.' },
    DEAD: { description: 'Given up after the last attempt, or its channel went away.' },
  },
});

@ObjectType({ description: 'A signed HTTP POST per notification to a URL of the tenant.' })
export class WebhookSettings {
  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => String, { nullable: true })
  url!: string | null;

  @Field(() => [NotificationKind], { description: 'The kinds sent; others are not.' })
  kinds!: NotificationKind[];

  @Field(() => Boolean, {
    description:
      'Whether a signing secret exists. It is shown once, when created or rotated, never again.',
  })
  secretSet!: boolean;

  @Field(() => Date, {
    nullable: true,
    description: 'Until when the secret replaced by the last rotation still signs deliveries too.',
  })
  previousSecretExpiresAt!: Date | null;
}

@ObjectType({ description: "An email per notification to its recipient's address." })
export class EmailSettings {
  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => [NotificationKind])
  kinds!: NotificationKind[];

  @Field(() => Boolean, {
    description: 'False when the server has no SMTP_URL: emails are then written to its log.',
  })
  smtpConfigured!: boolean;
}

@ObjectType({ description: "The current tenant's notification channels." })
export class NotificationSettings {
  @Field(() => Boolean, { description: 'In-app notifications are always on.' })
  inApp!: boolean;

  @Field(() => WebhookSettings)
  webhook!: WebhookSettings;

  @Field(() => EmailSettings)
  email!: EmailSettings;
}

@ObjectType()
export class UpdateNotificationSettingsPayload {
  @Field(() => NotificationSettings)
  settings!: NotificationSettings;

  @Field(() => String, {
    nullable: true,
    description:
      'The webhook signing secret, when this update configured the webhook for the first time. ' +
      'Store it now: it is never shown again (rotateWebhookSecret makes a new one).',
  })
  webhookSecret!: string | null;
}

@ObjectType()
export class RotateWebhookSecretPayload {
  @Field(() => NotificationSettings)
  settings!: NotificationSettings;

  @Field(() => String, {
    description:
      'The new signing secret (Standard Webhooks form, whsec_<base64>), shown only now. The ' +
      'replaced one keeps signing too until settings.webhook.previousSecretExpiresAt.',
  })
  webhookSecret!: string;
}

@ObjectType({ description: 'One notification sent, or to be sent, through one external channel.' })
export class NotificationDelivery {
  @Field(() => ID, {
    description: 'Also the idempotency key: the webhook body `id` and `Idempotency-Key` header.',
  })
  id!: string;

  @Field(() => NotificationChannel)
  channel!: NotificationChannel;

  @Field(() => NotificationKind)
  kind!: NotificationKind;

  @Field(() => NotificationDeliveryStatus)
  status!: NotificationDeliveryStatus;

  @Field(() => Int)
  attempts!: number;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Int, { nullable: true })
  lastHttpStatus!: number | null;

  @Field(() => Date, { nullable: true, description: 'When the next attempt is due (PENDING).' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => ID, { nullable: true, description: 'Null once the notification was deleted.' })
  notificationId!: string | null;
}

@ObjectType('NotificationDeliveryConnection')
export class NotificationDeliveryConnection extends ConnectionType(
  'NotificationDelivery',
  () => NotificationDelivery,
) {}
