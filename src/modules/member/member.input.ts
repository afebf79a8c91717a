import { Field, InputType } from 'type-graphql';
import { COMBINATORS, DateTimeFilter, EnumFilter, IDFilter } from '../../graphql/filter.js';
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

const MembershipRoleFilter = EnumFilter('MembershipRole', MembershipRole);

@InputType({ description: 'Every given condition must hold; omitted or null ones match anything.' })
export class MemberFilter {
  @Field(() => IDFilter, { nullable: true, description: "The member's user id." })
  user?: IDFilter | null;

  @Field(() => MembershipRoleFilter, { nullable: true })
  role?: InstanceType<typeof MembershipRoleFilter> | null;

  @Field(() => DateTimeFilter, { nullable: true })
  joinedAt?: DateTimeFilter | null;

  @Field(() => [MemberFilter], { nullable: true, description: COMBINATORS.and })
  and?: MemberFilter[] | null;

  @Field(() => [MemberFilter], { nullable: true, description: COMBINATORS.or })
  or?: MemberFilter[] | null;

  @Field(() => MemberFilter, { nullable: true, description: COMBINATORS.not })
  not?: MemberFilter | null;
}
