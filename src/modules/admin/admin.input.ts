import { Field, ID, InputType, Int } from 'type-graphql';
import { TenantPlan, TenantStatus } from '../tenant/tenant.type.js';

const REASON = 'Why: recorded in the audit log; required, not blank.';

@InputType({ description: 'The owner of a new tenant: an existing account, or a new one.' })
export class ProvisionOwnerInput {
  @Field(() => String, { description: 'An existing account with this email becomes the owner.' })
  email!: string;

  @Field(() => String, { nullable: true, description: 'For a new account only.' })
  name?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'For a new account only (required then): its initial password.',
  })
  password?: string | null;
}

@InputType()
export class ProvisionTenantInput {
  @Field(() => String)
  slug!: string;

  @Field(() => String)
  name!: string;

  @Field(() => TenantPlan, { nullable: true, description: 'Defaults to FREE.' })
  plan?: TenantPlan | null;

  @Field(() => ProvisionOwnerInput)
  owner!: ProvisionOwnerInput;

  @Field(() => String, { description: REASON })
  reason!: string;
}

@InputType()
export class TenantActionInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => String, { description: REASON })
  reason!: string;
}

@InputType()
export class ChangePlanInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => TenantPlan)
  plan!: TenantPlan;

  @Field(() => String, { description: REASON })
  reason!: string;
}

@InputType({
  description:
    'Per-tenant overrides of the plan’s limits. A field left out is unchanged; null returns it ' +
    'to the plan’s value.',
})
export class SetTenantLimitsInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => Int, { nullable: true })
  maxMembers?: number | null;

  @Field(() => Int, { nullable: true })
  maxProjects?: number | null;

  @Field(() => Int, { nullable: true })
  maxTasks?: number | null;

  @Field(() => Int, { nullable: true })
  requestsPerMinute?: number | null;

  @Field(() => String, { description: REASON })
  reason!: string;
}

@InputType()
export class DeleteTenantInput {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => String, { description: 'The tenant’s slug, typed back as confirmation.' })
  confirmSlug!: string;

  @Field(() => String, { description: REASON })
  reason!: string;
}

@InputType()
export class AdminTenantFilter {
  @Field(() => TenantStatus, { nullable: true })
  status?: TenantStatus | null;

  @Field(() => TenantPlan, { nullable: true })
  plan?: TenantPlan | null;

  @Field(() => String, { nullable: true, description: 'Part of the slug or name.' })
  search?: string | null;
}

@InputType()
export class AuditLogFilter {
  @Field(() => ID, { nullable: true })
  tenantId?: string | null;

  @Field(() => String, { nullable: true, description: 'Exact action, e.g. "tenant.suspend".' })
  action?: string | null;

  @Field(() => ID, { nullable: true })
  actorId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Inclusive.' })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Exclusive.' })
  until?: Date | null;
}
