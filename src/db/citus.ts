import type pg from 'pg';

/**
 * How each table of schema app lives on a Citus cluster (docs/operations.md, "Scaling out").
 * test/db/distributable.test.ts fails when a table is missing here or the order breaks a key.
 */

/** Copied to every node: small, read by every tenant's statements, referenced by tenant tables. */
export const CITUS_REFERENCE_TABLES = ['plans', 'tenants', 'users', 'project_workflow'] as const;

/** Stay on the coordinator (Citus-managed local tables): accounts' and operators' rows. */
export const CITUS_COORDINATOR_TABLES = [
  'audit_log',
  'refresh_tokens',
  'account_tokens',
  'account_emails',
  'external_identities',
] as const;

/**
 * Distributed by tenant_id, all co-located with the first, so every join and foreign key between
 * them stays on one node. Each comes after every table it references.
 */
export const CITUS_DISTRIBUTED_TABLES = [
  'memberships',
  'projects',
  'tasks',
  'comments',
  'project_transitions',
  'notifications',
  'notification_channels',
  'notification_deliveries',
  'api_keys',
  'activity',
  'invitations',
  'live_events',
] as const;

/** Where distribute() reports each step. */
export type Progress = (message: string) => void;

const SAVED_KEYS = 'tenantql_meta.citus_foreign_keys';

/**
 * Makes a migrated database on a Citus coordinator distributed: reference tables, coordinator
 * tables and tenant tables co-located on tenant_id, as listed above. Idempotent: a table Citus
 * already manages is left alone, and a run that stopped halfway carries on where it stopped.
 *
 * Foreign keys between app tables are set aside first (kept in tenantql_meta.citus_foreign_keys
 * until they are back) and created again once every table is in place: Citus accepts a key only
 * between tables it already manages, in ways that depend on the order (a reference table's keys
 * to a local table, a distributed table's keys to anything not yet distributed).
 *
 * Runs as a superuser on the coordinator (the migration connection). Triggers on distributed
 * tables need citus.enable_unsafe_triggers, set here for this session; they only ever touch rows
 * of their own tenant, which live on the same node (docs/operations.md, "Scaling out").
 */
export async function distribute(client: pg.ClientBase, progress: Progress): Promise<void> {
  const { rows: citus } = await client.query<{ version: string }>(
    `select extversion as version from pg_extension where extname = 'citus'`,
  );
  if (!citus[0]) {
    throw new Error(
      'The citus extension is not installed in this database: this is no Citus coordinator.',
    );
  }
  progress(`citus ${citus[0].version}`);
  await client.query(`set citus.enable_unsafe_triggers = on`);
  await client.query(`set citus.multi_shard_modify_mode = 'sequential'`);
  const managed = async (): Promise<Set<string>> => {
    const { rows } = await client.query<{ name: string }>(
      `select c.relname as name from pg_dist_partition p
         join pg_class c on c.oid = p.logicalrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app'`,
    );
    return new Set(rows.map((r) => r.name));
  };

  const all = [...CITUS_REFERENCE_TABLES, ...CITUS_COORDINATOR_TABLES, ...CITUS_DISTRIBUTED_TABLES];
  const before = await managed();
  const { rows: pending } = await client.query<{ saved: string | null }>(
    `select to_regclass('${SAVED_KEYS}')::text as saved`,
  );
  if (all.every((table) => before.has(table)) && pending[0]?.saved === null) {
    await setRoleSettings(client);
    progress('already distributed');
    return;
  }
  await client.query(`create table if not exists ${SAVED_KEYS} (
    table_name text not null, name text not null, definition text not null,
    primary key (table_name, name))`);
  const { rowCount } = await client.query(
    `insert into ${SAVED_KEYS} (table_name, name, definition)
     select c.relname, f.conname, pg_get_constraintdef(f.oid)
       from pg_constraint f join pg_class c on c.oid = f.conrelid
       join pg_namespace n on n.oid = c.relnamespace
      where f.contype = 'f' and n.nspname = 'app'
     on conflict do nothing`,
  );
  const saved = await client.query<{ table_name: string; name: string; definition: string }>(
    `select table_name, name, definition from ${SAVED_KEYS} order by table_name, name`,
  );
  if (rowCount) progress(`set aside ${saved.rowCount} foreign keys`);
  for (const key of saved.rows) {
    await client.query(
      `alter table app.${quote(key.table_name)} drop constraint if exists ${quote(key.name)}`,
    );
  }

  let done = await managed();
  for (const table of CITUS_REFERENCE_TABLES) {
    if (done.has(table)) continue;
    progress(`reference table app.${table}`);
    await client.query(`select create_reference_table($1)`, [`app.${table}`]);
  }
  for (const table of CITUS_COORDINATOR_TABLES) {
    if (done.has(table)) continue;
    progress(`coordinator table app.${table}`);
    await client.query(`select citus_add_local_table_to_metadata($1)`, [`app.${table}`]);
  }
  done = await managed();
  const [first] = CITUS_DISTRIBUTED_TABLES;
  for (const table of CITUS_DISTRIBUTED_TABLES) {
    if (done.has(table)) continue;
    progress(`distributed table app.${table} (tenant_id)`);
    await client.query(`select create_distributed_table($1, 'tenant_id', colocate_with => $2)`, [
      `app.${table}`,
      table === first ? 'none' : `app.${first}`,
    ]);
  }

  for (const key of saved.rows) {
    progress(`foreign key ${key.name}`);
    await client.query(
      `alter table app.${quote(key.table_name)} add constraint ${quote(key.name)} ${key.definition}`,
    );
    await client.query(`delete from ${SAVED_KEYS} where table_name = $1 and name = $2`, [
      key.table_name,
      key.name,
    ]);
  }
  await client.query(`drop table ${SAVED_KEYS}`);
  await setRoleSettings(client);
  progress('distributed');
}

/**
 * A transaction that read several shards over parallel connections may not then write a
 * reference table (Citus: "cannot modify table … because there was a parallel operation"); the
 * login roles' few multi-shard statements use one connection per node instead.
 */
async function setRoleSettings(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ name: string }>('select current_database() as name');
  const database = quote(rows[0]?.name ?? '');
  for (const role of ['tenantql_api', 'tenantql_admin', 'tenantql_worker']) {
    await client.query(
      `alter role ${role} in database ${database} set citus.multi_shard_modify_mode = 'sequential'`,
    );
  }
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
