set local role tenantql_owner;

-- The users and tenants policies (0019) ask app.current_tenant_member_ids() and
-- app.member_tenant_ids(), which read app.memberships. On a Citus cluster a statement that joins
-- users or tenants (reference tables) to a tenant's rows runs on the worker holding that tenant's
-- shards, and so do the policies; a read of the distributed app.memberships from there is a
-- distributed query inside a shard query, which Citus refuses ("cannot execute a distributed
-- query from a query on a shard"; allowing it fails too: "the backend has already been assigned
-- a transaction id"). Task, project and comment reads that name their creator or assignee, and
-- every change of a user's own row (UPDATE of a reference table runs on every node), failed.
--
-- Where the citus extension is installed, the two functions read on a worker the one shard of
-- app.memberships that holds the current tenant, directly and only when it is on that node: it
-- is, for every statement routed to that tenant, and it is the shard this transaction wrote to,
-- so the read sees the transaction's own changes. Elsewhere on a worker they answer nobody and
-- no tenant (fail closed: a statement of the current tenant is never routed to a worker without
-- its shards, and the update and delete policies of users and tenants do not depend on these
-- functions, so every copy of a reference table changes alike). On the coordinator they read
-- app.memberships as before. The memberships policy still applies to the shard (Citus copies
-- policies to shards), and the functions stay SECURITY INVOKER.
--
-- On a single PostgreSQL nothing changes.
do $migration$
begin
  if not app.on_citus() then
    return;
  end if;

  execute $ddl$
    create or replace function app.current_tenant_member_ids() returns uuid[]
      language plpgsql stable
      set search_path = pg_catalog, pg_temp
      as $$
    declare
      tenant uuid := app.current_tenant_id();
      shard regclass;
      ids uuid[];
    begin
      if tenant is null then
        return '{}';
      end if;
      if citus_is_coordinator() then
        select coalesce(array_agg(m.user_id), '{}') into ids
          from app.memberships m where m.tenant_id = tenant;
        return ids;
      end if;
      shard := to_regclass(shard_name('app.memberships'::regclass,
        get_shard_id_for_distribution_column('app.memberships'::regclass, tenant)));
      if shard is null then
        return '{}';
      end if;
      execute format(
        'select coalesce(array_agg(m.user_id), ''{}'') from %s m where m.tenant_id = $1', shard)
        into ids using tenant;
      return ids;
    end
    $$
  $ddl$;

  execute $ddl$
    create or replace function app.member_tenant_ids() returns uuid[]
      language plpgsql stable
      set search_path = pg_catalog, pg_temp
      as $$
    declare
      ids uuid[];
    begin
      -- The caller's memberships are spread over every shard: on a worker only the current
      -- tenant shows (its policy's other branch), on the coordinator every tenant of the caller.
      if not citus_is_coordinator() then
        return '{}';
      end if;
      select coalesce(array_agg(m.tenant_id), '{}') into ids
        from app.memberships m where m.user_id = app.current_user_id();
      return ids;
    end
    $$
  $ddl$;
end
$migration$;
