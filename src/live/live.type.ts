import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Task } from '../modules/task/task.type.js';

export const TaskChangeKind = {
  CREATED: 'CREATED',
  UPDATED: 'UPDATED',
  DELETED: 'DELETED',
} as const;
export type TaskChangeKind = (typeof TaskChangeKind)[keyof typeof TaskChangeKind];
registerEnumType(TaskChangeKind, { name: 'TaskChangeKind' });

@ObjectType({ description: 'A task of the watched project was created, updated or deleted.' })
export class TaskChange {
  @Field(() => TaskChangeKind)
  kind!: TaskChangeKind;

  @Field(() => ID)
  taskId!: string;

  @Field(() => ID)
  projectId!: string;

  @Field(() => Task, {
    nullable: true,
    description: 'The task as it is when the change is delivered; null when it was deleted.',
  })
  task!: Task | null;
}
