import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
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
