import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { ProjectStatusValue } from '../../db/schema.js';
import { ConnectionType, type Connection } from '../../graphql/connection.js';
import type { Task } from '../task/task.type.js';
import { Node } from '../node/node.type.js';

export const ProjectStatus = {
  DRAFT: 'DRAFT',
  SUBMITTED: 'SUBMITTED',
  APPROVED: 'APPROVED',
  REJECTED: 'REJECTED',
  ACTIVE: 'ACTIVE',
  COMPLETED: 'COMPLETED',
  ARCHIVED: 'ARCHIVED',
} as const satisfies Record<ProjectStatusValue, ProjectStatusValue>;
export type ProjectStatus = ProjectStatusValue;
registerEnumType(ProjectStatus, { name: 'ProjectStatus' });

@ObjectType({ description: 'A project of the current tenant.', implements: Node })
export class Project {
  @Field(() => ID)
  id!: string;

  @Field(() => String, {
    description: 'Unique per tenant: an upper-case letter, then 1–9 A–Z/0–9.',
  })
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => ProjectStatus)
  status!: ProjectStatus;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  /** Resolved to `createdBy` through the user loader. */
  createdById!: string | null;

  /** Project.tasks pages fetched with the project, by page (see tasksAhead). */
  taskPages?: Map<string, Connection<Task>>;
}

@ObjectType('ProjectConnection')
export class ProjectConnection extends ConnectionType('Project', () => Project) {}
