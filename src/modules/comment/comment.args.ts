import { ArgsType, Field, ID } from 'type-graphql';

@ArgsType()
export class UpdateCommentArgs {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  body!: string;
}
