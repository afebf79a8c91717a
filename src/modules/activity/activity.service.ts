import {
  pageArgs,
  toConnection,
  type Connection,
  type Ordering,
} from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { readFilter, rulesFor, type FilterRule } from '../../graphql/filter.js';
import { requireTenantAdmin } from '../../tenancy/permissions.js';
import type { ActivityArgs } from './activity.args.js';
import {
  ACTIVITY_FILTER,
  ACTIVITY_SORT,
  findActivityPage,
  type ActivityRow,
} from './activity.repository.js';
import type { Activity, ActivityAction, ActivityEntityType } from './activity.type.js';

const ORDER: Ordering = { tag: 'NEWEST', keys: [{ sort: ACTIVITY_SORT, direction: 'DESC' }] };

/** The fields of ActivityFilter: operator inputs by their names, the older plain ones as `eq`. */
const ACTIVITY_FILTER_RULES: Readonly<Record<string, FilterRule>> = {
  ...rulesFor(ACTIVITY_FILTER),
  entityType: { field: 'entityType', column: ACTIVITY_FILTER.entityType, shorthand: true },
  entityTypeIs: { field: 'entityType', column: ACTIVITY_FILTER.entityType },
  action: { field: 'action', column: ACTIVITY_FILTER.action, shorthand: true },
  actionIs: { field: 'action', column: ACTIVITY_FILTER.action },
  actorId: { field: 'actor', column: ACTIVITY_FILTER.actor, shorthand: true },
  entityId: { field: 'entity', column: ACTIVITY_FILTER.entity, shorthand: true },
};

/** The triggers store column names; clients know the API's camelCase field names. */
function camelCase(column: string): string {
  return column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function toActivity(row: ActivityRow): Activity {
  return {
    id: row.id,
    entityType: row.entity_type as ActivityEntityType,
    entityId: row.entity_id,
    action: row.action as ActivityAction,
    changedFields: row.changed_fields.map(camelCase),
    label: row.label,
    apiKeyId: row.api_key_id,
    createdAt: row.created_at,
    actorId: row.actor_id,
  };
}

/** Owners and admins only: the log shows what every member did. */
export async function listActivity(
  ctx: GraphQLContext,
  args: ActivityArgs,
): Promise<Connection<Activity>> {
  await requireTenantAdmin(ctx.db);
  const page = await findActivityPage(
    await ctx.db.transaction(),
    ctx.db.routingTenant(),
    readFilter(args.filter, ACTIVITY_FILTER_RULES),
    pageArgs(args, ORDER),
  );
  return toConnection(page, ORDER, toActivity);
}
