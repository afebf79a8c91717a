import { Field, ID, ObjectType } from 'type-graphql';
import { MembershipRole } from '../member/member.type.js';
import { ProjectStatus } from '../project/project.type.js';

@ObjectType({ description: 'One allowed step of the project workflow, and who may take it.' })
export class WorkflowEdge {
  @Field(() => ProjectStatus)
  from!: ProjectStatus;

  @Field(() => ProjectStatus)
  to!: ProjectStatus;

  @Field(() => MembershipRole, { description: 'The lowest role that may take this step.' })
  minimumRole!: MembershipRole;
}

@ObjectType({ description: 'A recorded change of a project status.' })
export class ProjectTransition {
  @Field(() => ID)
  id!: string;

  @Field(() => ProjectStatus)
  from!: ProjectStatus;

  @Field(() => ProjectStatus)
  to!: ProjectStatus;

  @Field(() => String)
  comment!: string;

  @Field(() => Date)
  createdAt!: Date;

  /** Resolved into `actor` through loadUser. */
  actorId!: string | null;
}
