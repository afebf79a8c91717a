import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { AuthPayload } from '../account/account.type.js';
import { CreateTenantInput } from './tenant.input.js';
import { createOwnTenant, currentTenant, listMyTenants, switchTenant } from './tenant.service.js';
import { Tenant } from './tenant.type.js';

@Resolver(() => Tenant)
export class TenantResolver {
  @Mutation(() => Tenant, { description: 'Creates a tenant with you as its owner.' })
  createTenant(
    @Arg('input', () => CreateTenantInput) input: CreateTenantInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Tenant> {
    return createOwnTenant(ctx, input);
  }

  @Query(() => [Tenant], { description: 'Every tenant you belong to.' })
  myTenants(@Ctx() ctx: GraphQLContext): Promise<Tenant[]> {
    return listMyTenants(ctx);
  }

  @Query(() => Tenant, {
    nullable: true,
    description: 'The tenant this request is for; null when the request names none.',
  })
  currentTenant(@Ctx() ctx: GraphQLContext): Promise<Tenant | null> {
    return currentTenant(ctx);
  }

  @Mutation(() => AuthPayload, {
    description: 'A session whose token is bound to this tenant: no tenant header needed.',
  })
  switchTenant(
    @Arg('tenantId', () => ID) tenantId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AuthPayload> {
    return switchTenant(ctx, tenantId);
  }
}
