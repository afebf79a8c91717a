import { Field, ID, InputType } from 'type-graphql';
import {
  COMBINATORS,
  DateTimeFilter,
  EnumFilter,
  IDFilter,
  OptionalIDFilter,
  StringFilter,
} from '../../graphql/filter.js';
import { ActivityAction, ActivityEntityType } from './activity.type.js';

const ActivityEntityTypeFilter = EnumFilter('ActivityEntityType', ActivityEntityType);
const ActivityActionFilter = EnumFilter('ActivityAction', ActivityAction);

@InputType({
  description:
    'Every given condition must hold; omitted or null ones match anything. `entityType`, ' +
    '`action`, `actorId` and `entityId` are shorthands for `entityTypeIs`, `actionIs`, `actor` ' +
    'and `entity` with `eq`.',
})
export class ActivityFilter {
  @Field(() => ActivityEntityType, { nullable: true })
  entityType?: ActivityEntityType | null;

  @Field(() => ActivityAction, { nullable: true })
  action?: ActivityAction | null;

  @Field(() => ID, { nullable: true, description: 'Changes made by this user.' })
  actorId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Changes of this one entity.' })
  entityId?: string | null;

  @Field(() => IDFilter, { nullable: true })
  id?: IDFilter | null;

  @Field(() => ActivityEntityTypeFilter, { nullable: true })
  entityTypeIs?: InstanceType<typeof ActivityEntityTypeFilter> | null;

  @Field(() => IDFilter, { nullable: true, description: "The entity's id." })
  entity?: IDFilter | null;

  @Field(() => ActivityActionFilter, { nullable: true })
  actionIs?: InstanceType<typeof ActivityActionFilter> | null;

  @Field(() => OptionalIDFilter, {
    nullable: true,
    description: 'Who made the change; null once their account is deleted.',
  })
  actor?: OptionalIDFilter | null;

  @Field(() => OptionalIDFilter, {
    nullable: true,
    description: 'The API key the change was made with; null for a person.',
  })
  apiKey?: OptionalIDFilter | null;

  @Field(() => StringFilter, { nullable: true })
  label?: StringFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  createdAt?: DateTimeFilter | null;

  @Field(() => [ActivityFilter], { nullable: true, description: COMBINATORS.and })
  and?: ActivityFilter[] | null;

  @Field(() => [ActivityFilter], { nullable: true, description: COMBINATORS.or })
  or?: ActivityFilter[] | null;

  @Field(() => ActivityFilter, { nullable: true, description: COMBINATORS.not })
  not?: ActivityFilter | null;
}
