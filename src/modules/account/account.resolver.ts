import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import {
  ChangePasswordInput,
  LoginInput,
  ResetPasswordInput,
  SignUpInput,
} from './account.input.js';
import {
  changePassword,
  login,
  logout,
  refreshSession,
  requestPasswordReset,
  resendVerification,
  resetPassword,
  signOutEverywhere,
  signUp,
  verifyEmail,
} from './account.service.js';
import { AuthPayload } from './account.type.js';

@Resolver(() => AuthPayload)
export class AccountResolver {
  @Mutation(() => AuthPayload, {
    description:
      'Creates an account and signs it in. Its email starts unverified: a link is mailed to it ' +
      '(verifyEmail). Until then the account can create and use its own tenants, but nobody ' +
      'can invite or provision it by email.',
  })
  signUp(
    @Arg('input', () => SignUpInput) input: SignUpInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return signUp(ctx, input);
  }

  @Mutation(() => AuthPayload)
  login(
    @Arg('input', () => LoginInput) input: LoginInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return login(ctx, input);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Exchanges a refresh token for a new pair. Each refresh token works once: presenting it ' +
      'again signs out every session of that sign-in.',
  })
  refreshToken(
    @Arg('token', () => String) token: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return refreshSession(ctx, token);
  }

  @Mutation(() => Boolean, {
    description:
      'Revokes the sign-in this refresh token belongs to; its access tokens stop working at ' +
      'once too.',
  })
  logout(
    @Arg('refreshToken', () => String) refreshToken: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return logout(ctx, refreshToken);
  }

  @Mutation(() => Boolean, {
    description:
      'Proves the address with the token mailed by signUp or resendVerification. Works once; ' +
      'needs no sign-in.',
  })
  verifyEmail(
    @Arg('token', () => String) token: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return verifyEmail(ctx, token);
  }

  @Mutation(() => Boolean, {
    description:
      'Mails a new verification link to the signed-in account. False when the address is ' +
      'already verified (nothing is sent). Rate-limited per client address and per recipient.',
  })
  resendVerification(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    return resendVerification(ctx);
  }

  @Mutation(() => Boolean, {
    description:
      'Needs the current password. Signs out every session (all refresh tokens, and access ' +
      'tokens issued before the change): sign in again with the new password.',
  })
  changePassword(
    @Arg('input', () => ChangePasswordInput) input: ChangePasswordInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return changePassword(ctx, input);
  }

  @Mutation(() => Boolean, {
    description:
      'Mails a single-use reset link to the address if an account has it. Always true (unless ' +
      'rate-limited), whether or not the address has an account.',
  })
  requestPasswordReset(
    @Arg('email', () => String) email: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return requestPasswordReset(ctx, email);
  }

  @Mutation(() => Boolean, {
    description:
      'Sets a new password with the token from requestPasswordReset (single use, short-lived). ' +
      'Signs out every session of the account, and counts as proof of its email address.',
  })
  resetPassword(
    @Arg('input', () => ResetPasswordInput) input: ResetPasswordInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return resetPassword(ctx, input);
  }

  @Mutation(() => Boolean, {
    description:
      'Ends every session of the signed-in account: refresh tokens are revoked and access ' +
      'tokens issued before now are refused from the next operation on.',
  })
  signOutEverywhere(@Ctx() ctx: GraphQLContext): Promise<boolean> {
    return signOutEverywhere(ctx);
  }
}
