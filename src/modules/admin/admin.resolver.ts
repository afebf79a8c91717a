import type { GraphQLResolveInfo } from 'graphql';
import {
  Arg,
  Args,
  Ctx,
  FieldResolver,
  ID,
  Info,
  Int,
  Mutation,
  Query,
  Resolver,
} from 'type-graphql';
import type { Connection } from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { AdminTenantsArgs, AuditLogArgs } from './admin.args.js';
import {
  ChangePlanInput,
  DeleteTenantInput,
  ProvisionTenantInput,
  SetTenantLimitsInput,
  TenantActionInput,
} from './admin.input.js';
import {
  adminMutationNamespace,
  adminNamespace,
  auditLog,
  changePlan,
  deleteTenant,
  listTenants,
  provisionTenant,
  reactivateTenant,
  searchAllProjects,
  searchAllUsers,
  setTenantLimits,
  suspendTenant,
  tenantDetail,
} from './admin.service.js';
import {
  AdminProjectHit,
  AdminUserHit,
  AdminMutation,
  AdminQuery,
  AdminTenant,
  AdminTenantConnection,
  AdminTenantDetail,
  AuditEntry,
  AuditEntryConnection,
  DeletedTenant,
} from './admin.type.js';

/** The two entry points of the bypass path: nothing else in the schema reaches it. */
@Resolver()
export class AdminResolver {
  @Query(() => AdminQuery, {
    description: 'Platform operators only (FORBIDDEN otherwise): reads across tenants.',
  })
  admin(@Ctx() ctx: GraphQLContext): Promise<object> {
    return adminNamespace(ctx);
  }

  @Mutation(() => AdminMutation, {
    name: 'admin',
    description: 'Platform operators only (FORBIDDEN otherwise): one audited change per operation.',
  })
  adminMutation(@Ctx() ctx: GraphQLContext, @Info() info: GraphQLResolveInfo): Promise<object> {
    return adminMutationNamespace(ctx, info);
  }
}

@Resolver(() => AdminQuery)
export class AdminQueryResolver {
  @FieldResolver(() => AdminTenantConnection, { description: 'Every tenant, with its usage.' })
  tenants(
    @Args(() => AdminTenantsArgs) args: AdminTenantsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<AdminTenant>> {
    return listTenants(ctx, args);
  }

  @FieldResolver(() => AdminTenantDetail, { nullable: true })
  tenant(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminTenantDetail | null> {
    return tenantDetail(ctx, id);
  }

  @FieldResolver(() => [AdminProjectHit], {
    description: 'Projects of every tenant whose name or key contains the text; newest first.',
  })
  searchProjects(
    @Arg('text', () => String) text: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminProjectHit[]> {
    return searchAllProjects(ctx, text, first);
  }

  @FieldResolver(() => [AdminUserHit], {
    description: 'Accounts whose email or name contains the text, with their tenants.',
  })
  searchUsers(
    @Arg('text', () => String) text: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminUserHit[]> {
    return searchAllUsers(ctx, text, first);
  }

  @FieldResolver(() => AuditEntryConnection, { description: 'Newest first.' })
  auditLog(
    @Args(() => AuditLogArgs) args: AuditLogArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Connection<AuditEntry>> {
    return auditLog(ctx, args);
  }
}

@Resolver(() => AdminMutation)
export class AdminMutationResolver {
  @FieldResolver(() => AdminTenantDetail, {
    description: 'A tenant and its owner (an existing account, or a new one) in one call.',
  })
  provisionTenant(
    @Arg('input', () => ProvisionTenantInput) input: ProvisionTenantInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminTenantDetail> {
    return provisionTenant(ctx, input);
  }

  @FieldResolver(() => AdminTenant, {
    description: 'Its members then get TENANT_SUSPENDED on every operation naming it.',
  })
  suspendTenant(
    @Arg('input', () => TenantActionInput) input: TenantActionInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminTenant> {
    return suspendTenant(ctx, input);
  }

  @FieldResolver(() => AdminTenant)
  reactivateTenant(
    @Arg('input', () => TenantActionInput) input: TenantActionInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminTenant> {
    return reactivateTenant(ctx, input);
  }

  @FieldResolver(() => AdminTenant)
  changePlan(
    @Arg('input', () => ChangePlanInput) input: ChangePlanInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminTenant> {
    return changePlan(ctx, input);
  }

  @FieldResolver(() => AdminTenant)
  setTenantLimits(
    @Arg('input', () => SetTenantLimitsInput) input: SetTenantLimitsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AdminTenant> {
    return setTenantLimits(ctx, input);
  }

  @FieldResolver(() => DeletedTenant, {
    description: 'Removes every row of the tenant (its audit trail stays). Irreversible.',
  })
  deleteTenant(
    @Arg('input', () => DeleteTenantInput) input: DeleteTenantInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<DeletedTenant> {
    return deleteTenant(ctx, input);
  }
}
