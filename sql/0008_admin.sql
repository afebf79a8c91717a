set local role tenantql_owner;

-- Plans and their limits ------------------------------------------------------------------------

-- A NULL limit means unlimited. Changing a plan's defaults is a migration; operators override a
-- single tenant's limits through the admin API (the tenants.max_* columns below).
create table app.plans (
  plan text primary key constraint plans_plan_valid check (plan in ('free', 'pro', 'enterprise')),
  max_members integer constraint plans_max_members_valid check (max_members >= 0),
  max_projects integer constraint plans_max_projects_valid check (max_projects >= 0),
  max_tasks integer constraint plans_max_tasks_valid check (max_tasks >= 0),
  requests_per_minute integer
    constraint plans_requests_per_minute_valid check (requests_per_minute > 0)
);
insert into app.plans (plan, max_members, max_projects, max_tasks, requests_per_minute) values
  ('free', 25, 25, 1000, 600),
  ('pro', 250, 500, 100000, 6000),
  ('enterprise', null, null, null, null);

alter table app.plans enable row level security;
alter table app.plans force row level security;
-- Plans are no secret, but like every table they show no rows without a tenant context (a pooled
-- connection with nothing set sees nothing anywhere). Only a migration changes them.
create policy plans_select on app.plans for select
  using ((select app.current_tenant_id()) is not null);
create policy plans_insert on app.plans for insert with check (false);
create policy plans_update on app.plans for update using (false) with check (false);
create policy plans_delete on app.plans for delete using (false);

alter table app.tenants add constraint tenants_plan_fk foreign key (plan) references app.plans (plan);

-- Per-tenant overrides of the plan's limits (NULL: the plan's value). Separate columns rather than
-- keys in settings, because tenant admins may write settings and must not raise their own limits:
-- the API role's column grants on tenants (name, settings) leave these out.
alter table app.tenants
  add column max_members integer constraint tenants_max_members_valid check (max_members >= 0),
  add column max_projects integer constraint tenants_max_projects_valid check (max_projects >= 0),
  add column max_tasks integer constraint tenants_max_tasks_valid check (max_tasks >= 0),
  add column requests_per_minute integer
    constraint tenants_requests_per_minute_valid check (requests_per_minute > 0);

-- Quota check: one round trip, called by the API inside the operation's transaction before it
-- creates a member, project or task. The per-tenant advisory lock is held until the transaction
-- ends, so concurrent creates of one tenant take turns: each counts only after the previous one
-- committed (READ COMMITTED takes a new snapshot per statement) and none slips past the limit.
-- SECURITY INVOKER: it counts under the caller's own policies, i.e. the current tenant only.
create function app.lock_quota(p_resource text, out max_count integer, out used bigint)
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  tid uuid := app.current_tenant_id();
begin
  if tid is null then
    raise exception 'a quota needs a current tenant' using errcode = 'insufficient_privilege';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('tenantql.quota:' || tid::text, 0));
  select case p_resource
           when 'members' then coalesce(t.max_members, p.max_members)
           when 'projects' then coalesce(t.max_projects, p.max_projects)
           when 'tasks' then coalesce(t.max_tasks, p.max_tasks)
         end
    into max_count
    from app.tenants t join app.plans p on p.plan = t.plan
   where t.id = tid;
  used := case p_resource
    when 'members' then (select count(*) from app.memberships m where m.tenant_id = tid)
    when 'projects' then (select count(*) from app.projects x where x.tenant_id = tid)
    when 'tasks' then (select count(*) from app.tasks x where x.tenant_id = tid)
  end;
  if used is null then
    raise exception 'unknown quota resource %', p_resource using errcode = 'invalid_parameter_value';
  end if;
end
$$;

grant select on app.plans to tenantql_api, tenantql_admin;
grant execute on function app.lock_quota(text) to tenantql_api;

-- The bypass role: exactly what the admin API does, nothing more -------------------------------

-- Operators never need password hashes: narrow the table-wide SELECT of 0003 to these columns.
revoke select on app.users from tenantql_admin;
grant select (id, email, name, is_platform_admin, created_at, updated_at) on app.users
  to tenantql_admin;
-- Provisioning a tenant whose owner has no account yet.
grant insert (id, email, name, password_hash) on app.users to tenantql_admin;
-- Provisioning, suspending, changing plans and limits, deleting. Deleting a tenant cascades to its
-- memberships, projects, tasks and comments through the foreign keys (which run as the owner).
grant insert (id, slug, name, plan) on app.tenants to tenantql_admin;
grant update (status, plan, max_members, max_projects, max_tasks, requests_per_minute)
  on app.tenants to tenantql_admin;
grant delete on app.tenants to tenantql_admin;
grant insert (tenant_id, user_id, role) on app.memberships to tenantql_admin;

-- Granting and revoking platform admin (npm run admin:grant / admin:revoke) ---------------------

-- Run by the command line as the owner, through the migration connection; the API and admin roles
-- cannot execute it. The owner is subject to the forced policies too, so for the update the target
-- user is made app.user_id (what users_update requires), and an audit row records the change.
create function app.set_platform_admin(p_email text, p_value boolean, p_reason text)
  returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  target uuid;
  previous_user text := current_setting('app.user_id', true);
begin
  select u.id into target from app.users u where u.email = lower(btrim(p_email));
  if target is null then
    return null;
  end if;
  perform set_config('app.user_id', target::text, true);
  update app.users set is_platform_admin = p_value where id = target;
  perform set_config('app.user_id', coalesce(previous_user, ''), true);
  insert into app.audit_log (actor_id, action, reason, details)
  values (null, case when p_value then 'platform_admin.grant' else 'platform_admin.revoke' end,
          p_reason, jsonb_build_object('userId', target, 'email', lower(btrim(p_email))));
  return target;
end
$$;

-- The only rows the owner may add to the audit log: those of set_platform_admin.
create policy audit_log_insert_platform_admin on app.audit_log for insert to tenantql_owner
  with check (action in ('platform_admin.grant', 'platform_admin.revoke') and tenant_id is null);
