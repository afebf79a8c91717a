import { ArgsType, Field, ID } from 'type-graphql';
import { ConnectionArgs } from '../../graphql/connection.js';
import { TaskFilter, TaskOrder } from './task.input.js';

@ArgsType()
export class TasksArgs extends ConnectionArgs {
  @Field(() => ID)
  projectId!: string;

  @Field(() => TaskFilter, { nullable: true })
  filter?: TaskFilter | null;

  @Field(() => TaskOrder, {
    nullable: true,
    description: 'Defaults to oldest first (CREATED_AT ASC).',
  })
  orderBy?: TaskOrder | null;
}
