import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { LoginInput, SignUpInput } from './account.input.js';
import { login, logout, refreshSession, signUp } from './account.service.js';
import { AuthPayload } from './account.type.js';

@Resolver(() => AuthPayload)
export class AccountResolver {
  @Mutation(() => AuthPayload, { description: 'Creates an account and signs it in.' })
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

  @Mutation(() => Boolean, { description: 'Revokes the sign-in this refresh token belongs to.' })
  logout(
    @Arg('refreshToken', () => String) refreshToken: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return logout(ctx, refreshToken);
  }
}
