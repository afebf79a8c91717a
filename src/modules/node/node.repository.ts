import { sql } from 'kysely';
import { anyId } from '../../db/any-id.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { NodeTypeName } from './node.type.js';

export interface NodeLocation {
  typename: NodeTypeName;
  id: string;
}

/**
 * Which table holds each id, in one statement: a primary-key probe per table, each naming its
 * tenant (see project.repository.ts). Ids hidden by RLS or absent are simply not returned.
 */
export function findNodeLocations(
  trx: Tx,
  tenantId: TenantKey,
  ids: readonly string[],
): Promise<NodeLocation[]> {
  if (ids.length === 0) return Promise.resolve([]);
  const of = (table: 'app.projects' | 'app.tasks' | 'app.comments', typename: NodeTypeName) =>
    trx
      .selectFrom(table)
      .select([sql<NodeTypeName>`${typename}::text`.as('typename'), 'id'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', anyId(ids));
  return of('app.projects', 'Project')
    .unionAll(of('app.tasks', 'Task'))
    .unionAll(of('app.comments', 'Comment'))
    .execute();
}
