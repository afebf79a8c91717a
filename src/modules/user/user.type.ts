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

  @Field(() => Boolean, {
    description:
      'Whether the owner of the address proved it (verifyEmail, a password reset, an accepted ' +
      'invitation). Until then nobody else can reach the account by email.',
  })
  emailVerified!: boolean;
}
