import { LocalDateResolver } from 'graphql-scalars';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { TaskPriorityValue, TaskStatusValue } from '../../db/schema.js';
import { ConnectionType } from '../../graphql/connection.js';
import { Node } from '../node/node.type.js';

export const TaskStatus = {
  TODO: 'TODO',
  IN_PROGRESS: 'IN_PROGRESS',
  DONE: 'DONE',
} as const satisfies Record<TaskStatusValue, TaskStatusValue>;
export type TaskStatus = TaskStatusValue;
registerEnumType(TaskStatus, { name: 'TaskStatus' });

export const TaskPriority = {
  LOW: 'LOW',
  MEDIUM: 'MEDIUM',
  HIGH: 'HIGH',
  URGENT: 'URGENT',
} as const satisfies Record<TaskPriorityValue, TaskPriorityValue>;
export type TaskPriority = TaskPriorityValue;
registerEnumType(TaskPriority, { name: 'TaskPriority' });

@ObjectType({ description: 'A task in a project.', implements: Node })
export class Task {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  title!: string;

  @Field(() => String)
  description!: string;

  @Field(() => TaskStatus)
  status!: TaskStatus;

  @Field(() => TaskPriority)
  priority!: TaskPriority;

  @Field(() => LocalDateResolver, { nullable: true, description: 'A calendar date, YYYY-MM-DD.' })
  dueDate!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  /** Resolved to `project` through the project loader. */
  projectId!: string;

  /** Resolved to `assignee` through the user loader. */
  assigneeId!: string | null;
}

@ObjectType('TaskConnection')
export class TaskConnection extends ConnectionType('Task', () => Task) {}
