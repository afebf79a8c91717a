import { ArgsType, Field } from 'type-graphql';
import { ConnectionArgs } from '../../graphql/connection.js';

@ArgsType()
export class NotificationsArgs extends ConnectionArgs {
  @Field(() => Boolean, { defaultValue: false, description: 'Only notifications not yet read.' })
  unreadOnly!: boolean;
}
