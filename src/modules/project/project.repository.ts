import { sql } from 'kysely';
import { fetchPage, type Page, type PageRequest, type SortKey } from '../../db/keyset.js';
import { filterExpression, type Condition, type FilterColumn } from '../../db/filter.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { ProjectStatusValue } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { anyId } from '../../db/any-id.js';

export type ProjectOrderFieldValue = 'CREATED_AT' | 'UPDATED_AT' | 'NAME' | 'KEY';

export const PROJECT_SORT: Record<ProjectOrderFieldValue, SortKey> = {
  CREATED_AT: { expression: sql.ref('created_at'), type: 'timestamptz' },
  UPDATED_AT: { expression: sql.ref('updated_at'), type: 'timestamptz' },
  NAME: { expression: sql.ref('name'), type: 'text' },
  KEY: { expression: sql.ref('key'), type: 'text' },
};

const PROJECT_COLUMNS = [
  'id',
  'key',
  'name',
  'description',
  'status',
  'created_by',
  'created_at',
  'updated_at',
] as const;

export interface ProjectRow {
  id: string;
  key: string;
  name: string;
  description: string;
  status: ProjectStatusValue;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

/** What a project filter's fields compare (filter names, see project.service.ts). */
export const PROJECT_FILTER = {
  id: { column: 'id', type: 'uuid' },
  status: { column: 'status', type: 'text' },
  key: { column: 'key', type: 'text' },
  name: { column: 'name', type: 'text' },
  description: { column: 'description', type: 'text' },
  createdBy: { column: 'created_by', type: 'uuid', nullable: true },
  createdAt: { column: 'created_at', type: 'timestamptz' },
  updatedAt: { column: 'updated_at', type: 'timestamptz' },
} as const satisfies Record<string, FilterColumn>;

// Every statement names its tenant (`tenant_id = $n`, see OperationDatabase.routingTenant): for
// the (tenant_id, …) indexes, and so that Citus sends it to the one shard holding that tenant.
// RLS stays the guard: a tenant that is not current matches no row whatever is named here.

export function findProjectsByIds(
  trx: Tx,
  tenantId: TenantKey,
  ids: readonly string[],
): Promise<ProjectRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return trx
    .selectFrom('app.projects')
    .select(PROJECT_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', anyId(ids))
    .execute();
}

export function findProjectById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<ProjectRow | undefined> {
  return trx
    .selectFrom('app.projects')
    .select(PROJECT_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function getProjectById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<ProjectRow> {
  const row = await findProjectById(trx, tenantId, id);
  if (!row) throw new NotFoundError('Project', id);
  return row;
}

export function findProjectPage(
  trx: Tx,
  tenantId: TenantKey,
  filter: Condition | undefined,
  page: PageRequest,
): Promise<Page<ProjectRow>> {
  const base = trx
    .selectFrom('app.projects')
    .select(PROJECT_COLUMNS)
    .where('tenant_id', '=', tenantId);
  return fetchPage(
    trx,
    filter ? base.where((eb) => filterExpression(eb, filter, PROJECT_FILTER)) : base,
    page,
  );
}

export function insertProject(
  trx: Tx,
  tenantId: string,
  values: { key: string; name: string; description: string },
): Promise<ProjectRow> {
  return trx
    .insertInto('app.projects')
    .values({ ...values, tenant_id: tenantId })
    .returning(PROJECT_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Undefined when no such project is visible and writable here. */
export function updateProjectById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
  changes: { key?: string; name?: string; description?: string; status?: ProjectStatusValue },
): Promise<ProjectRow | undefined> {
  if (Object.keys(changes).length === 0) return findProjectById(trx, tenantId, id);
  return trx
    .updateTable('app.projects')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returning(PROJECT_COLUMNS)
    .executeTakeFirst();
}

/** Tasks and comments go with it (foreign keys cascade). False when nothing was deleted. */
export async function deleteProjectById(
  trx: Tx,
  tenantId: TenantKey,
  id: string,
): Promise<boolean> {
  const result = await trx
    .deleteFrom('app.projects')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
