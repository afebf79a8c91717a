import { LocalDateResolver } from 'graphql-scalars';
import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import type { SortDirection } from '../../db/keyset.js';
import { OrderDirection } from '../../graphql/connection.js';
import {
  COMBINATORS,
  DateTimeFilter,
  EnumFilter,
  IDFilter,
  OptionalDateFilter,
  OptionalIDFilter,
  OrderedEnumFilter,
  StringFilter,
} from '../../graphql/filter.js';
import type { TaskOrderFieldValue } from './task.repository.js';
import { TaskPriority, TaskStatus } from './task.type.js';

export const TaskOrderField = {
  CREATED_AT: 'CREATED_AT',
  TITLE: 'TITLE',
  DUE_DATE: 'DUE_DATE',
  UPDATED_AT: 'UPDATED_AT',
  PRIORITY: 'PRIORITY',
} as const satisfies Record<TaskOrderFieldValue, TaskOrderFieldValue>;
registerEnumType(TaskOrderField, {
  name: 'TaskOrderField',
  valuesConfig: {
    DUE_DATE: { description: 'Tasks without a due date come last (ASC) or first (DESC).' },
    PRIORITY: { description: 'LOW, MEDIUM, HIGH, URGENT (ASC).' },
  },
});

const TaskStatusFilter = EnumFilter('TaskStatus', TaskStatus);
const TaskPriorityFilter = OrderedEnumFilter('TaskPriority', TaskPriority);

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

@InputType({
  description:
    'Every given condition must hold; omitted or null ones match anything. `status` and ' +
    '`assigneeId` are shorthands for `statusIs: { eq: … }` and `assignee: { eq: … }`.',
})
export class TaskFilter {
  @Field(() => TaskStatus, { nullable: true })
  status?: TaskStatus | null;

  @Field(() => ID, { nullable: true, description: 'Omitted or null: any assignee.' })
  assigneeId?: string | null;

  @Field(() => IDFilter, { nullable: true })
  id?: IDFilter | null;

  @Field(() => TaskStatusFilter, { nullable: true, description: 'The status, by operators.' })
  statusIs?: InstanceType<typeof TaskStatusFilter> | null;

  @Field(() => TaskPriorityFilter, { nullable: true })
  priority?: InstanceType<typeof TaskPriorityFilter> | null;

  @Field(() => StringFilter, { nullable: true })
  title?: StringFilter | null;

  @Field(() => StringFilter, { nullable: true })
  description?: StringFilter | null;

  @Field(() => OptionalIDFilter, {
    nullable: true,
    description: "The assignee's user id; `isNull: true` for unassigned tasks.",
  })
  assignee?: OptionalIDFilter | null;

  @Field(() => OptionalDateFilter, { nullable: true })
  dueDate?: OptionalDateFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  createdAt?: DateTimeFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  updatedAt?: DateTimeFilter | null;

  @Field(() => [TaskFilter], { nullable: true, description: COMBINATORS.and })
  and?: TaskFilter[] | null;

  @Field(() => [TaskFilter], { nullable: true, description: COMBINATORS.or })
  or?: TaskFilter[] | null;

  @Field(() => TaskFilter, { nullable: true, description: COMBINATORS.not })
  not?: TaskFilter | null;
}

@InputType({ description: 'One key of an ordering; the id breaks ties.' })
export class TaskOrder {
  @Field(() => TaskOrderField, { defaultValue: TaskOrderField.CREATED_AT })
  field!: TaskOrderFieldValue;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: SortDirection;
}
