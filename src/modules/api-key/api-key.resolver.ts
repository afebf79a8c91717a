import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { CreateApiKeyInput } from './api-key.input.js';
import { createApiKey, listApiKeys, revokeApiKey } from './api-key.service.js';
import { ApiKey, CreatedApiKey } from './api-key.type.js';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Query(() => [ApiKey], {
    description:
      "The current tenant's API keys that were not revoked, oldest first, without secrets. " +
      'Owners and admins, signed in as themselves (not with a key).',
  })
  apiKeys(@Ctx() ctx: GraphQLContext): Promise<ApiKey[]> {
    return listApiKeys(ctx);
  }

  @Mutation(() => CreatedApiKey, {
    description:
      'Creates a key for the current tenant. The response holds the secret, once. Owners and ' +
      'admins, signed in as themselves; only owners create OWNER keys.',
  })
  createApiKey(
    @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatedApiKey> {
    return createApiKey(ctx, input);
  }

  @Mutation(() => Boolean, {
    description:
      'Revokes a key: every later request with it is UNAUTHENTICATED. Only owners revoke OWNER ' +
      'keys. True also when it was revoked already.',
  })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return revokeApiKey(ctx, id);
  }
}
