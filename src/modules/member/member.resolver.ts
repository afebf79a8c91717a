import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { User } from '../user/user.type.js';
import { AddMemberInput, MemberFilter } from './member.input.js';
import { inviteAsMember } from '../invitation/invitation.service.js';
import { changeMemberRole, listMembers, memberUser, removeMember } from './member.service.js';
import { Member, MembershipRole } from './member.type.js';

@Resolver(() => Member)
export class MemberResolver {
  @Query(() => [Member], { description: 'Members of the current tenant, longest-standing first.' })
  members(
    @Arg('filter', () => MemberFilter, { nullable: true }) filter: MemberFilter | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Member[]> {
    return listMembers(ctx, filter);
  }

  @FieldResolver(() => User)
  user(@Root() member: Member, @Ctx() ctx: GraphQLContext): Promise<User> {
    return memberUser(ctx, member);
  }

  @Mutation(() => Member, {
    deprecationReason:
      'Use inviteMember: addMember no longer adds anyone, it sends the same invitation.',
    description:
      'Sends an invitation to the address, exactly like inviteMember: no account is looked up ' +
      'and nobody joins until the mailed link is used (acceptInvitation). Answered the same ' +
      'whether or not the address has an account: a Member for the pending invitation, whose ' +
      'role is the invited role, joinedAt when it was sent, and user a placeholder (id: the ' +
      "invitation's id, email and name: the invited address, emailVerified: false).",
  })
  addMember(
    @Arg('input', () => AddMemberInput) input: AddMemberInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Member> {
    return inviteAsMember(ctx, input);
  }

  @Mutation(() => Member, { description: 'The last owner cannot be demoted.' })
  changeMemberRole(
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => MembershipRole) role: MembershipRole,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Member> {
    return changeMemberRole(ctx, userId, role);
  }

  @Mutation(() => Boolean, {
    description: 'Removes a member, or yourself (leaving). The last owner cannot be removed.',
  })
  removeMember(
    @Arg('userId', () => ID) userId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return removeMember(ctx, userId);
  }
}
