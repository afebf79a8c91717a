import { Field, InputType, registerEnumType } from 'type-graphql';
import { OrderDirection } from '../../graphql/connection.js';
import type { SortDirection } from '../../db/keyset.js';
import type { ProjectOrderFieldValue } from './project.repository.js';
import { ProjectStatus } from './project.type.js';

export const ProjectOrderField = {
  CREATED_AT: 'CREATED_AT',
  NAME: 'NAME',
  KEY: 'KEY',
} as const satisfies Record<ProjectOrderFieldValue, ProjectOrderFieldValue>;
registerEnumType(ProjectOrderField, { name: 'ProjectOrderField' });

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

@InputType()
export class ProjectFilter {
  @Field(() => ProjectStatus, { nullable: true })
  status?: ProjectStatus | null;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive substring of the name or key.',
  })
  search?: string | null;
}

@InputType()
export class ProjectOrder {
  @Field(() => ProjectOrderField, { defaultValue: ProjectOrderField.CREATED_AT })
  field!: ProjectOrderFieldValue;

  @Field(() => OrderDirection, { defaultValue: OrderDirection.ASC })
  direction!: SortDirection;
}
