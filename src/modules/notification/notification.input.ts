import { Field, InputType } from 'type-graphql';
import { NotificationKind } from './notification.type.js';

@InputType({ description: 'Only the fields given are changed.' })
export class WebhookSettingsInput {
  @Field(() => Boolean, { nullable: true, description: 'Enabling needs a URL.' })
  enabled?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      'https (or http where the server allows it) on a public address; null removes it, which ' +
      'needs the webhook disabled.',
  })
  url?: string | null;

  @Field(() => [NotificationKind], { nullable: true, description: 'At least one kind.' })
  kinds?: NotificationKind[] | null;
}

@InputType({ description: 'Only the fields given are changed.' })
export class EmailSettingsInput {
  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;

  @Field(() => [NotificationKind], { nullable: true, description: 'At least one kind.' })
  kinds?: NotificationKind[] | null;
}

@InputType()
export class UpdateNotificationSettingsInput {
  @Field(() => WebhookSettingsInput, { nullable: true })
  webhook?: WebhookSettingsInput | null;

  @Field(() => EmailSettingsInput, { nullable: true })
  email?: EmailSettingsInput | null;
}
