import { pageArgs, toConnection, type Connection } from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { optionalId } from '../../graphql/validate.js';
import { requireTenantAdmin } from '../../tenancy/permissions.js';
import type { ActivityArgs } from './activity.args.js';
import { ACTIVITY_SORT, findActivityPage, type ActivityRow } from './activity.repository.js';
import type { Activity, ActivityAction, ActivityEntityType } from './activity.type.js';

const ORDER = 'NEWEST';

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
  const { first, after } = pageArgs(args, ORDER, ACTIVITY_SORT.type);
  const filter = args.filter;
  const page = await findActivityPage(
    await ctx.db.transaction(),
    {
      entityType: filter?.entityType ?? null,
      action: filter?.action ?? null,
      actorId: optionalId('filter.actorId', filter?.actorId),
      entityId: optionalId('filter.entityId', filter?.entityId),
    },
    { sort: ACTIVITY_SORT, direction: 'DESC', first, after },
  );
  return toConnection(page, ORDER, toActivity);
}
