import { ArgsType, Field } from 'type-graphql';
import { ConnectionArgs } from '../../graphql/connection.js';
import { ActivityFilter } from './activity.input.js';

@ArgsType()
export class ActivityArgs extends ConnectionArgs {
  @Field(() => ActivityFilter, { nullable: true })
  filter?: ActivityFilter | null;
}
