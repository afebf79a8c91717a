import { sql } from 'kysely';
import { fetchPage, type Page, type PageRequest, type SortKey } from '../../db/keyset.js';
import type { Tx } from '../../db/operation.js';

export const ACTIVITY_SORT: SortKey = {
  expression: sql.ref('created_at'),
  type: 'timestamptz',
};

export interface ActivityRow {
  id: string;
  entity_type: string;
  entity_id: string;
  action: string;
  changed_fields: string[];
  label: string | null;
  actor_id: string | null;
  api_key_id: string | null;
  created_at: Date;
}

export interface ActivityRowFilter {
  entityType: string | null;
  action: string | null;
  actorId: string | null;
  entityId: string | null;
}

const COLUMNS = [
  'id',
  'entity_type',
  'entity_id',
  'action',
  'changed_fields',
  'label',
  'actor_id',
  'api_key_id',
  'created_at',
] as const;

/** The current tenant's activity (RLS shows it to owners and admins only). */
export function findActivityPage(
  trx: Tx,
  filter: ActivityRowFilter,
  page: PageRequest,
): Promise<Page<ActivityRow>> {
  let base = trx.selectFrom('app.activity').select(COLUMNS);
  if (filter.entityType) base = base.where('entity_type', '=', filter.entityType);
  if (filter.action) base = base.where('action', '=', filter.action);
  if (filter.actorId) base = base.where('actor_id', '=', filter.actorId);
  if (filter.entityId) base = base.where('entity_id', '=', filter.entityId);
  return fetchPage(trx, base, page);
}
