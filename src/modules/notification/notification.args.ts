import { ArgsType, Field } from 'type-graphql';
import { ConnectionArgs } from '../../graphql/connection.js';
import { NotificationChannel, NotificationDeliveryStatus } from './notification.type.js';

@ArgsType()
export class NotificationsArgs extends ConnectionArgs {
  @Field(() => Boolean, { defaultValue: false, description: 'Only notifications not yet read.' })
  unreadOnly!: boolean;
}

@ArgsType()
export class NotificationDeliveriesArgs extends ConnectionArgs {
  @Field(() => NotificationDeliveryStatus, { nullable: true })
  status?: NotificationDeliveryStatus | null;

  @Field(() => NotificationChannel, { nullable: true })
  channel?: NotificationChannel | null;
}
