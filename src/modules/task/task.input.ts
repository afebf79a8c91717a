import { LocalDateResolver } from 'graphql-scalars';
import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import type { SortDirection } from '../../db/keyset.js';
import { OrderDirection } from '../../graphql/connection.js';
import type { TaskOrderFieldValue } from './task.repository.js';
import { TaskPriority, TaskStatus } from './task.type.js';

export const TaskOrderField = {
  CREATED_AT: 'CREATED_AT',
  TITLE: 'TITLE',
  DUE_DATE: 'DUE_DATE',
} as const satisfies Record<TaskOrderFieldValue, TaskOrderFieldValue>;
registerEnumType(TaskOrderField, {
  name: 'TaskOrderField',
  valuesConfig: { DUE_DATE: { description: 'Tasks without a due date come last (ASC).' } },
});

@InputType()
export class CreateTaskInput {
  @Field(() => ID)
  projectId!: string;

  @Field(() => String)
  title!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => TaskStatus, { nullable: true, description: 'Defaults to TODO.' })
  status?: TaskStatus | null;

  @Field(() => TaskPriority, { nullable: true, description: 'Defaults to MEDIUM.' })
  priority?: TaskPriority | null;

  @Field(() => ID, { nullable: true, description: 'A member of the current tenant.' })
  assigneeId?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  dueDate?: string | null;
}

@InputType({
  description: 'Only the fields given are changed; null clears assigneeId and dueDate.',
})
export class UpdateTaskInput {
  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => TaskStatus, { nullable: true })
  status?: TaskStatus | null;

  @Field(() => TaskPriority, { nullable: true })
  priority?: TaskPriority | null;

  @Field(() => ID, { nullable: true })
  assigneeId?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  dueDate?: string | null;
}

@InputType()
export class TaskFilter {
  @Field(() => TaskStatus, { nullable: true })
  status?: TaskStatus | null;

  @Field(() => ID, { nullable: true, description: 'Omitted or null: any assignee.' })
  assigneeId?: string | null;
}

@InputType()
export class TaskOrder {
  @Field(() => TaskOrderField, { defaultValue: TaskOrderField.CREATED_AT })
  field!: TaskOrderFieldValue;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: SortDirection;
}
