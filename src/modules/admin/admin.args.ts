import { ArgsType, Field } from 'type-graphql';
import { ConnectionArgs } from '../../graphql/connection.js';
import { AdminTenantFilter, AuditLogFilter } from './admin.input.js';

@ArgsType()
export class AdminTenantsArgs extends ConnectionArgs {
  @Field(() => AdminTenantFilter, { nullable: true })
  filter?: AdminTenantFilter | null;
}

@ArgsType()
export class AuditLogArgs extends ConnectionArgs {
  @Field(() => AuditLogFilter, { nullable: true })
  filter?: AuditLogFilter | null;
}
