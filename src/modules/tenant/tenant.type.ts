import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { PlanValue, TenantStatusValue } from '../../db/schema.js';
import { MembershipRole } from '../member/member.type.js';

export const TenantPlan = {
  FREE: 'free',
  PRO: 'pro',
  ENTERPRISE: 'enterprise',
} as const satisfies Record<string, PlanValue>;
export type TenantPlan = (typeof TenantPlan)[keyof typeof TenantPlan];

export const TenantStatus = {
  ACTIVE: 'active',
  SUSPENDED: 'suspended',
} as const satisfies Record<string, TenantStatusValue>;
export type TenantStatus = (typeof TenantStatus)[keyof typeof TenantStatus];

registerEnumType(TenantPlan, { name: 'TenantPlan' });
registerEnumType(TenantStatus, {
  name: 'TenantStatus',
  description: 'A suspended tenant answers TENANT_SUSPENDED to every operation that names it.',
});

@ObjectType({ description: 'An organisation: every project, task and comment belongs to one.' })
export class Tenant {
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

  @Field(() => MembershipRole, { description: 'Your role in this tenant.' })
  myRole!: MembershipRole;
}
