import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ConnectionType } from '../../graphql/connection.js';
import { MembershipRole } from '../member/member.type.js';
import { TenantPlan, TenantStatus } from '../tenant/tenant.type.js';

@ObjectType({
  description:
    'Platform-operator reads, across tenants. Every field needs a platform-admin session and ' +
    'leaves one audit row.',
})
export class AdminQuery {}

@ObjectType({
  description:
    'Platform-operator changes. Each one needs a platform-admin session and a reason, must be ' +
    'the only field of its operation, and leaves exactly one audit row with the change.',
})
export class AdminMutation {}

@ObjectType({ description: 'Count limits; null means unlimited (or, for overrides, the plan’s).' })
export class TenantLimits {
  @Field(() => Int, { nullable: true })
  maxMembers!: number | null;

  @Field(() => Int, { nullable: true })
  maxProjects!: number | null;

  @Field(() => Int, { nullable: true })
  maxTasks!: number | null;

  @Field(() => Int, { nullable: true })
  requestsPerMinute!: number | null;
}

@ObjectType({ description: 'What a tenant holds right now.' })
export class TenantUsage {
  @Field(() => Int)
  members!: number;

  @Field(() => Int)
  projects!: number;

  @Field(() => Int)
  tasks!: number;

  @Field(() => Int)
  comments!: number;

  @Field(() => Number, {
    description: 'Approximate bytes of its project, task and comment rows (pg_column_size).',
  })
  storageBytes!: number;

  @Field(() => Date, {
    nullable: true,
    description: 'Latest change to the tenant or any of its projects, tasks or comments.',
  })
  lastActivityAt!: Date | null;
}

@ObjectType({ description: 'A tenant as platform operators see it.' })
export class AdminTenant {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => String)
  name!: string;

  @Field(() => TenantPlan)
  plan!: TenantPlan;

  @Field(() => TenantStatus)
  status!: TenantStatus;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  @Field(() => TenantLimits, { description: 'The limits in force: overrides, else the plan’s.' })
  limits!: TenantLimits;

  @Field(() => TenantLimits, { description: 'Operator overrides; null fields follow the plan.' })
  limitOverrides!: TenantLimits;

  @Field(() => TenantUsage)
  usage!: TenantUsage;
}

@ObjectType({ description: 'A member of a tenant, with the account’s email.' })
export class AdminTenantMember {
  @Field(() => ID)
  userId!: string;

  @Field(() => String)
  email!: string;

  @Field(() => String)
  name!: string;

  @Field(() => MembershipRole)
  role!: MembershipRole;

  @Field(() => Date)
  joinedAt!: Date;
}

@ObjectType({ description: 'One tenant in detail.' })
export class AdminTenantDetail extends AdminTenant {
  @Field(() => [AdminTenantMember])
  members!: AdminTenantMember[];
}

@ObjectType({ description: 'What deleteTenant removed.' })
export class DeletedTenant {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => TenantUsage, { description: 'What the tenant held just before it was deleted.' })
  removed!: TenantUsage;
}

@ObjectType({ description: 'One use of the bypass role (or a platform-admin grant).' })
export class AuditEntry {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { nullable: true })
  tenantId!: string | null;

  @Field(() => ID, { nullable: true, description: 'The operator; null for command-line grants.' })
  actorId!: string | null;

  @Field(() => String)
  action!: string;

  @Field(() => String)
  reason!: string;

  @Field(() => String, { nullable: true })
  requestId!: string | null;

  @Field(() => GraphQLJSONObject)
  details!: Record<string, unknown>;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType({ description: 'A project found by a cross-tenant search.' })
export class AdminProjectHit {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => String)
  tenantSlug!: string;

  @Field(() => ID)
  id!: string;

  @Field(() => String)
  key!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType({ description: 'A membership of an account found by a cross-tenant search.' })
export class AdminUserMembership {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => String)
  tenantSlug!: string;

  @Field(() => MembershipRole)
  role!: MembershipRole;
}

@ObjectType({ description: 'An account found by a cross-tenant search.' })
export class AdminUserHit {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  email!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Boolean)
  isPlatformAdmin!: boolean;

  @Field(() => [AdminUserMembership])
  memberships!: AdminUserMembership[];
}

@ObjectType('AdminTenantConnection')
export class AdminTenantConnection extends ConnectionType('AdminTenant', () => AdminTenant) {}

@ObjectType('AuditEntryConnection')
export class AuditEntryConnection extends ConnectionType('AuditEntry', () => AuditEntry) {}
