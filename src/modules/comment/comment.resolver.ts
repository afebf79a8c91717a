import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { Task } from '../task/task.type.js';
import { User } from '../user/user.type.js';
import { UpdateCommentArgs } from './comment.args.js';
import { AddCommentInput } from './comment.input.js';
import {
  addComment,
  commentAuthor,
  commentTask,
  deleteComment,
  updateComment,
} from './comment.service.js';
import { Comment } from './comment.type.js';

@Resolver(() => Comment)
export class CommentResolver {
  @Mutation(() => Comment, { description: 'Comments as the signed-in user.' })
  addComment(
    @Arg('input', () => AddCommentInput) input: AddCommentInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Comment> {
    return addComment(ctx, input);
  }

  @Mutation(() => Comment, { description: 'Author or tenant admin only.' })
  updateComment(
    @Args(() => UpdateCommentArgs) { id, body }: UpdateCommentArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Comment> {
    return updateComment(ctx, id, body);
  }

  @Mutation(() => Boolean, { description: 'Author or tenant admin only.' })
  deleteComment(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return deleteComment(ctx, id);
  }

  @FieldResolver(() => Task)
  task(@Root() comment: Comment, @Ctx() ctx: GraphQLContext): Promise<Task> {
    return commentTask(ctx, comment);
  }

  @FieldResolver(() => User, { nullable: true })
  author(@Root() comment: Comment, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return commentAuthor(ctx, comment);
  }
}
