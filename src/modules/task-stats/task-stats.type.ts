import { Field, Int, ObjectType } from 'type-graphql';
import { TaskStatus } from '../task/task.type.js';

@ObjectType({
  description:
    "Counts over a project's tasks, computed in SQL. Each part is its own statement, run only " +
    'when selected and shared by every project of the operation.',
})
export class TaskStats {
  /** Whose tasks: the parts are field resolvers loading by it. */
  projectId!: string;
}

@ObjectType({ description: 'How many of the tasks have one status.' })
export class TaskStatusCount {
  @Field(() => TaskStatus)
  status!: TaskStatus;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'How many of the tasks one member is assigned.' })
export class TaskAssigneeCount {
  /** Resolved to `user` through the user loader; null for the unassigned tasks. */
  userId!: string | null;

  @Field(() => Int)
  count!: number;
}
