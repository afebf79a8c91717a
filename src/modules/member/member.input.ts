import { Field, InputType } from 'type-graphql';
import { MembershipRole } from './member.type.js';

@InputType({ description: 'Adds an existing account to the current tenant.' })
export class AddMemberInput {
  @Field(() => String)
  email!: string;

  @Field(() => MembershipRole)
  role!: MembershipRole;
}
