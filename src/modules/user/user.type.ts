import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType({
  description: 'A person with an account. Email is visible to yourself and your tenants.',
})
export class User {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  email!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Date)
  createdAt!: Date;
}
