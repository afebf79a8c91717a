import { ArgsType, Field, ID } from 'type-graphql';
import { ConnectionArgs, SORT_DESCRIPTION } from '../../graphql/connection.js';
import { TaskFilter, TaskOrder } from './task.input.js';

@ArgsType()
export class TasksArgs extends ConnectionArgs {
  @Field(() => ID)
  projectId!: string;

  @Field(() => TaskFilter, { nullable: true })
  filter?: TaskFilter | null;

  @Field(() => TaskOrder, {
    nullable: true,
    description: 'One key; see sort for several. Defaults to oldest first (CREATED_AT ASC).',
  })
  orderBy?: TaskOrder | null;

  @Field(() => [TaskOrder], { nullable: true, description: SORT_DESCRIPTION })
  sort?: TaskOrder[] | null;
}

/** Project.tasks: the same filter and orderings as `tasks`. */
@ArgsType()
export class ProjectTasksArgs extends ConnectionArgs {
  @Field(() => TaskFilter, { nullable: true })
  filter?: TaskFilter | null;

  @Field(() => [TaskOrder], { nullable: true, description: SORT_DESCRIPTION })
  sort?: TaskOrder[] | null;
}
