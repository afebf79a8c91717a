import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import type { Connection } from '../../graphql/connection.js';
import { TaskCommentsArgs } from '../comment/comment.args.js';
import { taskComments } from '../comment/comment.service.js';
import { Comment, CommentConnection } from '../comment/comment.type.js';
import { Project } from '../project/project.type.js';
import { User } from '../user/user.type.js';
import { TasksArgs } from './task.args.js';
import { CreateTaskInput, UpdateTaskInput } from './task.input.js';
import {
  createTask,
  deleteTask,
  findTask,
  listTasks,
  taskAssignee,
  taskProject,
  updateTask,
} from './task.service.js';
import { Task, TaskConnection } from './task.type.js';

@Resolver(() => Task)
export class TaskResolver {
  @Query(() => TaskConnection, { description: 'Tasks of one project.' })
  tasks(
    @Args(() => TasksArgs) args: TasksArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Task>> {
    return listTasks(ctx, args);
  }

  @Query(() => Task, { nullable: true, description: 'Null when missing or not yours to see.' })
  task(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Task | null> {
    return findTask(ctx, id);
  }

  @Mutation(() => Task)
  createTask(
    @Arg('input', () => CreateTaskInput) input: CreateTaskInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Task> {
    return createTask(ctx, input);
  }

  @Mutation(() => Task)
  updateTask(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateTaskInput) input: UpdateTaskInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Task> {
    return updateTask(ctx, id, input);
  }

  @Mutation(() => Boolean, { description: 'Deletes its comments too.' })
  deleteTask(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return deleteTask(ctx, id);
  }

  @FieldResolver(() => Project)
  project(@Root() task: Task, @Ctx() ctx: GraphQLContext): Promise<Project> {
    return taskProject(ctx, task);
  }

  @FieldResolver(() => User, { nullable: true })
  assignee(@Root() task: Task, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return taskAssignee(ctx, task);
  }

  @FieldResolver(() => CommentConnection)
  comments(
    @Root() task: Task,
    @Args(() => TaskCommentsArgs) args: TaskCommentsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<Comment>> {
    return taskComments(ctx, task, args);
  }
}
