import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import type { Connection } from '../../graphql/connection.js';
import { ProjectTasksArgs } from '../task/task.args.js';
import { projectTasks } from '../task/task.service.js';
import { Task, TaskConnection } from '../task/task.type.js';
import { loadUser } from '../user/user.service.js';
import { User } from '../user/user.type.js';
import { ProjectsArgs } from './project.args.js';
import { CreateProjectInput, UpdateProjectInput } from './project.input.js';
import {
  createProject,
  deleteProject,
  findProject,
  listProjects,
  updateProject,
} from './project.service.js';
import { Project, ProjectConnection } from './project.type.js';

@Resolver(() => Project)
export class ProjectResolver {
  @Query(() => ProjectConnection, { description: "The current tenant's projects." })
  projects(
    @Args(() => ProjectsArgs) args: ProjectsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Project>> {
    return listProjects(ctx, args);
  }

  @Query(() => Project, { nullable: true, description: 'Null when missing or not yours to see.' })
  project(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Project | null> {
    return findProject(ctx, id);
  }

  @Mutation(() => Project)
  createProject(
    @Arg('input', () => CreateProjectInput) input: CreateProjectInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Project> {
    return createProject(ctx, input);
  }

  @Mutation(() => Project)
  updateProject(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateProjectInput) input: UpdateProjectInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Project> {
    return updateProject(ctx, id, input);
  }

  @Mutation(() => Boolean, { description: 'Deletes its tasks and comments too. Owner or admin.' })
  deleteProject(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return deleteProject(ctx, id);
  }

  @FieldResolver(() => User, { nullable: true })
  async createdBy(@Root() project: Project, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return project.createdById ? ((await loadUser(ctx, project.createdById)) ?? null) : null;
  }

  @FieldResolver(() => TaskConnection)
  tasks(
    @Root() project: Project,
    @Args(() => ProjectTasksArgs) args: ProjectTasksArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Task>> {
    return projectTasks(ctx, project, args);
  }
}
