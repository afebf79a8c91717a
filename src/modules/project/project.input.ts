import { Field, InputType, registerEnumType } from 'type-graphql';
import { OrderDirection } from '../../graphql/connection.js';
import {
  COMBINATORS,
  DateTimeFilter,
  EnumFilter,
  IDFilter,
  OptionalIDFilter,
  StringFilter,
} from '../../graphql/filter.js';
import type { SortDirection } from '../../db/keyset.js';
import type { ProjectOrderFieldValue } from './project.repository.js';
import { ProjectStatus } from './project.type.js';

export const ProjectOrderField = {
  CREATED_AT: 'CREATED_AT',
  NAME: 'NAME',
  KEY: 'KEY',
  UPDATED_AT: 'UPDATED_AT',
} as const satisfies Record<ProjectOrderFieldValue, ProjectOrderFieldValue>;
registerEnumType(ProjectOrderField, { name: 'ProjectOrderField' });

const ProjectStatusFilter = EnumFilter('ProjectStatus', ProjectStatus);

@InputType()
export class CreateProjectInput {
  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'Matches ^[A-Z][A-Z0-9]{1,9}$; unique per tenant.' })
  key!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType({ description: 'Only the fields given are changed.' })
export class UpdateProjectInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  key?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => ProjectStatus, { nullable: true })
  status?: ProjectStatus | null;
}

@InputType({
  description:
    'Every given condition must hold; omitted or null ones match anything. `status` is a ' +
    'shorthand for `statusIs: { eq: … }`.',
})
export class ProjectFilter {
  @Field(() => ProjectStatus, { nullable: true })
  status?: ProjectStatus | null;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive substring of the name or key.',
  })
  search?: string | null;

  @Field(() => IDFilter, { nullable: true })
  id?: IDFilter | null;

  @Field(() => ProjectStatusFilter, { nullable: true, description: 'The status, by operators.' })
  statusIs?: InstanceType<typeof ProjectStatusFilter> | null;

  @Field(() => StringFilter, { nullable: true })
  key?: StringFilter | null;

  @Field(() => StringFilter, { nullable: true })
  name?: StringFilter | null;

  @Field(() => StringFilter, { nullable: true })
  description?: StringFilter | null;

  @Field(() => OptionalIDFilter, {
    nullable: true,
    description: "The creator's user id; null once their account is deleted.",
  })
  createdBy?: OptionalIDFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  createdAt?: DateTimeFilter | null;

  @Field(() => DateTimeFilter, { nullable: true })
  updatedAt?: DateTimeFilter | null;

  @Field(() => [ProjectFilter], { nullable: true, description: COMBINATORS.and })
  and?: ProjectFilter[] | null;

  @Field(() => [ProjectFilter], { nullable: true, description: COMBINATORS.or })
  or?: ProjectFilter[] | null;

  @Field(() => ProjectFilter, { nullable: true, description: COMBINATORS.not })
  not?: ProjectFilter | null;
}

@InputType({ description: 'One key of an ordering; the id breaks ties.' })
export class ProjectOrder {
  @Field(() => ProjectOrderField, { defaultValue: ProjectOrderField.CREATED_AT })
  field!: ProjectOrderFieldValue;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: SortDirection;
}
