import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { Project, ProjectStatus } from '../project/project.type.js';
import { loadUser } from '../user/user.service.js';
import { User } from '../user/user.type.js';
import {
  allowedTransitions,
  projectTransitions,
  projectWorkflow,
  transitionProject,
} from './workflow.service.js';
import { ProjectTransitionsArgs } from './workflow.args.js';
import { ProjectTransition, WorkflowEdge } from './workflow.type.js';

@Resolver(() => Project)
export class ProjectWorkflowResolver {
  @Query(() => [WorkflowEdge], {
    description: 'Every allowed status change and the lowest role that may make it.',
  })
  projectWorkflow(@Ctx() ctx: GraphQLContext): Promise<WorkflowEdge[]> {
    return projectWorkflow(ctx);
  }

  @Mutation(() => Project, {
    description:
      'Moves a project along the workflow. INVALID_TRANSITION lists the allowed targets.',
  })
  transitionProject(
    @Arg('id', () => ID) id: string,
    @Arg('to', () => ProjectStatus) to: ProjectStatus,
    @Arg('comment', () => String, { nullable: true }) comment: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Project> {
    return transitionProject(ctx, id, to, comment);
  }

  @FieldResolver(() => [ProjectStatus], {
    description: 'Statuses you may move this project to now.',
  })
  allowedTransitions(
    @Root() project: Project,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProjectStatus[]> {
    return allowedTransitions(ctx, project);
  }

  @FieldResolver(() => [ProjectTransition], {
    description: 'Status changes, oldest first; `first` of them (50 unless asked), at most 100.',
  })
  transitions(
    @Root() project: Project,
    @Args(() => ProjectTransitionsArgs) args: ProjectTransitionsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ProjectTransition[]> {
    return projectTransitions(ctx, project, args);
  }
}

@Resolver(() => ProjectTransition)
export class ProjectTransitionResolver {
  @FieldResolver(() => User, { nullable: true })
  async actor(
    @Root() transition: ProjectTransition,
    @Ctx() ctx: GraphQLContext,
  ): Promise<User | null> {
    return transition.actorId ? ((await loadUser(ctx, transition.actorId)) ?? null) : null;
  }
}
