import { Field, ID, InputType } from 'type-graphql';

@InputType()
export class AddCommentInput {
  @Field(() => ID)
  taskId!: string;

  @Field(() => String)
  body!: string;
}
