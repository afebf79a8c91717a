import { ArgsType, Field, ID } from 'type-graphql';
import { ConnectionArgs, SORT_DESCRIPTION } from '../../graphql/connection.js';
import { CommentFilter, CommentOrder } from './comment.input.js';

/** Task.comments. */
@ArgsType()
export class TaskCommentsArgs extends ConnectionArgs {
  @Field(() => CommentFilter, { nullable: true })
  filter?: CommentFilter | null;

  @Field(() => [CommentOrder], { nullable: true, description: SORT_DESCRIPTION })
  sort?: CommentOrder[] | null;
}

@ArgsType()
export class UpdateCommentArgs {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  body!: string;
}
