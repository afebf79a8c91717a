import { Field, InputType } from 'type-graphql';
import { MembershipRole } from './member.type.js';

@InputType({
  description:
    'Deprecated with addMember: the same as InviteMemberInput (an invitation is mailed).',
})
export class AddMemberInput {
  @Field(() => String)
  email!: string;

  @Field(() => MembershipRole)
  role!: MembershipRole;
}
