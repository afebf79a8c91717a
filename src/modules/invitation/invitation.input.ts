import { Field, InputType } from 'type-graphql';
import { MembershipRole } from '../member/member.type.js';

@InputType({ description: 'Whom to invite to the current tenant, and as what.' })
export class InviteMemberInput {
  @Field(() => String, {
    description: 'Where the invitation is mailed; stored trimmed and in lower case.',
  })
  email!: string;

  @Field(() => MembershipRole, { description: 'Only owners invite OWNERs.' })
  role!: MembershipRole;
}
