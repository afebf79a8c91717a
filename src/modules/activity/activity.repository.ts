import { sql } from 'kysely';
import { fetchPage, type Page, type PageRequest, type SortKey } from '../../db/keyset.js';
import { filterExpression, type Condition, type FilterColumn } from '../../db/filter.js';
import type { TenantKey, Tx } from '../../db/operation.js';

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

/** What an activity filter's fields compare (filter names, see activity.service.ts). */
export const ACTIVITY_FILTER = {
  id: { column: 'id', type: 'uuid' },
  entityType: { column: 'entity_type', type: 'text' },
  entity: { column: 'entity_id', type: 'uuid' },
  action: { column: 'action', type: 'text' },
  actor: { column: 'actor_id', type: 'uuid', nullable: true },
  apiKey: { column: 'api_key_id', type: 'uuid', nullable: true },
  label: { column: 'label', type: 'text', nullable: true },
  createdAt: { column: 'created_at', type: 'timestamptz' },
} as const satisfies Record<string, FilterColumn>;

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

/**
 * The current tenant's activity (RLS shows it to owners and admins only). The tenant is named
 * for the (tenant_id, created_at, id) index, as in project.repository.ts.
 */
export function findActivityPage(
  trx: Tx,
  tenantId: TenantKey,
  filter: Condition | undefined,
  page: PageRequest,
): Promise<Page<ActivityRow>> {
  const base = trx.selectFrom('app.activity').select(COLUMNS).where('tenant_id', '=', tenantId);
  return fetchPage(
    trx,
    filter ? base.where((eb) => filterExpression(eb, filter, ACTIVITY_FILTER)) : base,
    page,
  );
}
