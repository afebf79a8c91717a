-- Cluster-wide roles (see DESIGN.md). Created only if absent, because roles outlive any one database
-- and several tenantql databases (tests, staging) may share a cluster. Passwords are not set here:
-- they are configuration, applied by the migration runner.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'tenantql_owner') then
    create role tenantql_owner nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'tenantql_api') then
    create role tenantql_api login nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'tenantql_admin') then
    create role tenantql_admin login nosuperuser bypassrls nocreatedb nocreaterole noinherit;
  end if;
end
$$;

-- Re-assert the attributes on every run, so a role created by hand with more power is corrected.
alter role tenantql_owner nologin nosuperuser nobypassrls;
alter role tenantql_api nosuperuser nobypassrls nocreatedb nocreaterole;
alter role tenantql_admin nosuperuser bypassrls nocreatedb nocreaterole;

-- The migrator acts as the owner for every later migration (`set local role tenantql_owner`).
do $$
begin
  if not pg_has_role(current_user, 'tenantql_owner', 'MEMBER') then
    execute format('grant tenantql_owner to %I', current_user);
  end if;
end
$$;

-- Nobody but the owner creates objects in this database. (Database-level privileges are not
-- copied by CREATE DATABASE … TEMPLATE, so the runner re-applies them on every run as well.)
do $$
begin
  execute format('grant create on database %I to tenantql_owner', current_database());
  execute format('revoke create, temporary on database %I from public', current_database());
end
$$;
revoke create on schema public from public;
