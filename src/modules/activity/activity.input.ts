import { Field, ID, InputType } from 'type-graphql';
import { ActivityAction, ActivityEntityType } from './activity.type.js';

@InputType({ description: 'Every given condition must hold; omitted or null ones match anything.' })
export class ActivityFilter {
  @Field(() => ActivityEntityType, { nullable: true })
  entityType?: ActivityEntityType | null;

  @Field(() => ActivityAction, { nullable: true })
  action?: ActivityAction | null;

  @Field(() => ID, { nullable: true, description: 'Changes made by this user.' })
  actorId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Changes of this one entity.' })
  entityId?: string | null;
}
