set local role tenantql_owner;

-- Two things a Citus cluster needs of the schema (issue 16).
--
-- 1. Citus writes every column of an inserted row to the shard (it evaluates the defaults on the
--    coordinator), so an INSERT privilege on some columns only is refused on the shard. The login
--    roles get INSERT on the whole table instead, and what the column lists kept them from
--    choosing is pinned by restrictive policies (AND-ed with the others): the API role still
--    cannot make anyone a platform admin, pick a plan, a status or limits, or insert a spent
--    token, a revoked key or an accepted invitation. Timestamps it could always leave to their
--    defaults are not pinned (now() on a worker is another transaction's start), nor are the
--    channel columns it may set anyway (previous_secret comes from 0031, which runs later on a
--    fresh database, and is the tenant's own).
-- 2. app.record_activity: Citus deparses the simple CASE of its INSERT wrongly on the shards
--    ("operator does not exist: text = boolean"); the same values are computed before it.

grant insert on app.tenants, app.users, app.notification_channels, app.invitations, app.api_keys,
  app.account_tokens, app.account_emails to tenantql_api;
grant insert on app.tenants, app.users, app.memberships to tenantql_admin;

create policy tenants_insert_api_columns on app.tenants as restrictive for insert to tenantql_api
  with check (plan = 'free' and status = 'active' and max_members is null and max_projects is null
              and max_tasks is null and requests_per_minute is null);
create policy users_insert_api_columns on app.users as restrictive for insert to tenantql_api
  with check (not is_platform_admin and email_verified_at is null
              and tokens_valid_after = '-infinity');
create policy invitations_insert_api_columns on app.invitations
  as restrictive for insert to tenantql_api
  with check (invited_by = app.current_user_id() and accepted_at is null and accepted_by is null
              and revoked_at is null);
create policy api_keys_insert_api_columns on app.api_keys as restrictive for insert to tenantql_api
  with check (revoked_at is null and last_used_at is null);
create policy account_tokens_insert_api_columns on app.account_tokens
  as restrictive for insert to tenantql_api
  with check (used_at is null);
create policy account_emails_insert_api_columns on app.account_emails
  as restrictive for insert to tenantql_api
  with check (lease_token is null and lease_expires_at is null and last_attempt_at is null
              and last_error is null and delivered_at is null);

-- The operators' role bypasses RLS: its one column that matters, is_platform_admin, is guarded by
-- a trigger (platform admins are made with `tenantql admin grant`, as the migrator).
create function app.refuse_platform_admin_insert() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if new.is_platform_admin and current_user in ('tenantql_api', 'tenantql_admin') then
    raise exception 'permission denied to create a platform admin'
      using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;
create trigger users_refuse_platform_admin before insert on app.users
  for each row execute function app.refuse_platform_admin_insert();

create or replace function app.record_activity() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  entity text := tg_argv[0];
  after_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  before_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  subject jsonb := coalesce(after_row, before_row);
  tenant uuid := (subject ->> 'tenant_id')::uuid;
  changed text[] := '{}';
  v_entity_id uuid;
  v_action text;
  v_label text;
begin
  if tenant is distinct from app.current_tenant_id() then
    return null;
  end if;
  if tg_op = 'DELETE' then
    if not exists (select 1 from app.tenants t where t.id = tenant)
       or (entity = 'TASK' and not exists (
             select 1 from app.projects p
              where p.tenant_id = tenant and p.id = (subject ->> 'project_id')::uuid))
       or (entity = 'COMMENT' and not exists (
             select 1 from app.tasks x
              where x.tenant_id = tenant and x.id = (subject ->> 'task_id')::uuid))
       -- An account deleting itself takes its memberships along.
       or (entity = 'MEMBERSHIP' and not exists (
             select 1 from app.users u where u.id = (subject ->> 'user_id')::uuid)) then
      return null;
    end if;
  elsif tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(after_row) n
     where n.key <> 'updated_at' and n.value is distinct from before_row -> n.key;
    if cardinality(changed) = 0 then
      return null;
    end if;
  end if;
  if entity = 'MEMBERSHIP' then
    v_entity_id := (subject ->> 'user_id')::uuid;
    v_label := subject ->> 'role';
  else
    v_entity_id := (subject ->> 'id')::uuid;
    if entity = 'PROJECT' then
      v_label := subject ->> 'name';
    elsif entity = 'TASK' then
      v_label := subject ->> 'title';
    end if;
  end if;
  if tg_op = 'INSERT' then
    v_action := 'CREATED';
  elsif tg_op = 'UPDATE' then
    v_action := 'CHANGED';
  else
    v_action := 'DELETED';
  end if;
  insert into app.activity (tenant_id, entity_type, entity_id, action, changed_fields, label)
  values (tenant, entity, v_entity_id, v_action, changed, v_label);
  return null;
end
$$;
