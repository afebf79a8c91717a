import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { Member } from '../member/member.type.js';
import { User } from '../user/user.type.js';
import { InviteMemberInput } from './invitation.input.js';
import {
  acceptInvitation,
  invitationInviter,
  inviteMember,
  listInvitations,
  resendInvitation,
  revokeInvitation,
} from './invitation.service.js';
import { Invitation } from './invitation.type.js';

@Resolver(() => Invitation)
export class InvitationResolver {
  @Query(() => [Invitation], {
    description:
      'Open invitations of the current tenant (PENDING, and EXPIRED ones to resend), newest ' +
      'first. Owners and admins only.',
  })
  invitations(@Ctx() ctx: GraphQLContext): Promise<Invitation[]> {
    return listInvitations(ctx);
  }

  @FieldResolver(() => User, {
    nullable: true,
    description: 'Who sent the current link; null once they are no longer a member.',
  })
  invitedBy(@Root() invitation: Invitation, @Ctx() ctx: GraphQLContext): Promise<User | null> {
    return invitationInviter(ctx, invitation);
  }

  @Mutation(() => Invitation, {
    description:
      'Owners and admins invite an address to the current tenant; only owners invite OWNERs. ' +
      'A single-use link is mailed to it (valid INVITATION_TTL_SECONDS, 7 days by default) and ' +
      'nobody joins until it is used (acceptInvitation). The answer is the same whether or not ' +
      'the address has an account. Inviting an address with an open invitation refreshes that ' +
      "one (the old link stops working); a current member's address is refused (CONFLICT). " +
      'Rate-limited per client address and per recipient, like other account emails.',
  })
  inviteMember(
    @Arg('input', () => InviteMemberInput) input: InviteMemberInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Invitation> {
    return inviteMember(ctx, input);
  }

  @Mutation(() => Member, {
    description:
      'Joins the tenant of the invitation whose mailed token this is, as the signed-in account ' +
      '(any address: the token proves the invited one is read by you). Sign up first if you have ' +
      'no account; accepting verifies your address when it is the invited one. Works once. An ' +
      'existing member keeps their role unless the invitation grants more. Send it without a ' +
      'tenant header; myTenants lists the tenant afterwards.',
  })
  acceptInvitation(
    @Arg('token', () => String) token: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Member> {
    return acceptInvitation(ctx, token);
  }

  @Mutation(() => Invitation, {
    description:
      'Mails a new link (with a new expiry) for an open invitation; the previous link stops ' +
      'working. Rate-limited like inviteMember.',
  })
  resendInvitation(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Invitation> {
    return resendInvitation(ctx, id);
  }

  @Mutation(() => Boolean, {
    description: 'Withdraws an open invitation: its link stops working.',
  })
  revokeInvitation(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return revokeInvitation(ctx, id);
  }
}
