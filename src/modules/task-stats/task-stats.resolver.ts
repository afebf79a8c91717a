import { LocalDateResolver } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { Project } from '../project/project.type.js';
import { User } from '../user/user.type.js';
import {
  assigneeUser,
  overdueTasks,
  tasksByAssignee,
  tasksByStatus,
  totalTasks,
} from './task-stats.service.js';
import { TaskAssigneeCount, TaskStats, TaskStatusCount } from './task-stats.type.js';

@Resolver(() => Project)
export class ProjectTaskStatsResolver {
  @FieldResolver(() => TaskStats, { description: "Counts over the project's tasks." })
  taskStats(@Root() project: Project): TaskStats {
    return { projectId: project.id };
  }
}

@Resolver(() => TaskStats)
export class TaskStatsResolver {
  @FieldResolver(() => Int, { description: 'All tasks of the project.' })
  total(@Root() stats: TaskStats, @Ctx() ctx: GraphQLContext): Promise<number> {
    return totalTasks(ctx, stats);
  }

  @FieldResolver(() => [TaskStatusCount], {
    description: 'One entry per status, in the order of TaskStatus, zero counts included.',
  })
  byStatus(@Root() stats: TaskStats, @Ctx() ctx: GraphQLContext): Promise<TaskStatusCount[]> {
    return tasksByStatus(ctx, stats);
  }

  @FieldResolver(() => [TaskAssigneeCount], {
    description:
      'One entry per assignee with tasks, most tasks first; the unassigned tasks as user null.',
  })
  byAssignee(@Root() stats: TaskStats, @Ctx() ctx: GraphQLContext): Promise<TaskAssigneeCount[]> {
    return tasksByAssignee(ctx, stats);
  }

  @FieldResolver(() => Int, {
    description: 'Tasks not DONE whose due date is before asOf.',
  })
  overdue(
    @Root() stats: TaskStats,
    @Arg('asOf', () => LocalDateResolver, {
      nullable: true,
      description: "Defaults to today in UTC (the database's clock).",
    })
    asOf: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<number> {
    return overdueTasks(ctx, stats, asOf ?? null);
  }
}

@Resolver(() => TaskAssigneeCount)
export class TaskAssigneeCountResolver {
  @FieldResolver(() => User, { nullable: true, description: 'Null for the unassigned tasks.' })
  user(@Root() count: TaskAssigneeCount, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return assigneeUser(ctx, count);
  }
}
