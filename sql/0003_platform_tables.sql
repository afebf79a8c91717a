set local role tenantql_owner;

-- Tenants --------------------------------------------------------------------------------------

create table app.tenants (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique
    constraint tenants_slug_format check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])$'),
  name text not null constraint tenants_name_length check (length(btrim(name)) between 1 and 200),
  plan text not null default 'free' constraint tenants_plan_valid
    check (plan in ('free', 'pro', 'enterprise')),
  status text not null default 'active' constraint tenants_status_valid
    check (status in ('active', 'suspended')),
  settings jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger tenants_touch before update on app.tenants
  for each row execute function app.touch_updated_at();

-- Users: global identities. Email is normalised (lower case) by the API and unique platform-wide.
create table app.users (
  id uuid primary key default gen_random_uuid(),
  email text not null unique constraint users_email_normalised check (email = lower(btrim(email))),
  name text not null constraint users_name_length check (length(btrim(name)) between 1 and 200),
  password_hash text not null,
  is_platform_admin boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger users_touch before update on app.users
  for each row execute function app.touch_updated_at();

create table app.memberships (
  tenant_id uuid not null references app.tenants (id) on delete cascade,
  user_id uuid not null references app.users (id) on delete cascade,
  role text not null constraint memberships_role_valid
    check (role in ('owner', 'admin', 'member', 'viewer')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);
create index memberships_user_idx on app.memberships (user_id);
create trigger memberships_touch before update on app.memberships
  for each row execute function app.touch_updated_at();

-- Append-only record of every use of the bypass role. No foreign key to tenants: the trail of a
-- deleted tenant must survive it.
create table app.audit_log (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid,
  actor_id uuid,
  action text not null,
  reason text not null constraint audit_log_reason_present check (length(btrim(reason)) > 0),
  request_id text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index audit_log_tenant_idx on app.audit_log (tenant_id, created_at);
create index audit_log_created_idx on app.audit_log (created_at);

create function app.refuse_audit_change() returns trigger
  language plpgsql
  as $$
begin
  raise exception 'app.audit_log is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_log_append_only before update or delete on app.audit_log
  for each row execute function app.refuse_audit_change();
create trigger audit_log_no_truncate before truncate on app.audit_log
  for each statement execute function app.refuse_audit_change();

-- Row-level security ---------------------------------------------------------------------------

alter table app.tenants enable row level security;
alter table app.tenants force row level security;
alter table app.users enable row level security;
alter table app.users force row level security;
alter table app.memberships enable row level security;
alter table app.memberships force row level security;
alter table app.audit_log enable row level security;
alter table app.audit_log force row level security;

-- A user sees the current tenant and every tenant they belong to.
create policy tenants_select on app.tenants for select
  using (
    id = (select app.current_tenant_id())
    or id in (select m.tenant_id from app.memberships m
              where m.user_id = (select app.current_user_id()))
  );
-- Creating a tenant happens inside app.create_tenant, which makes the new tenant current and the
-- caller its owner for the duration of the call.
create policy tenants_insert on app.tenants for insert
  with check (id = (select app.current_tenant_id()) and (select app.current_member_role()) = 'owner');
create policy tenants_update on app.tenants for update
  using (id = (select app.current_tenant_id()) and (select app.is_tenant_admin()))
  with check (id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
create policy tenants_delete on app.tenants for delete
  using (id = (select app.current_tenant_id()) and (select app.current_member_role()) = 'owner');

-- Memberships: those of the current tenant, and the caller's own in any tenant.
create policy memberships_select on app.memberships for select
  using (
    tenant_id = (select app.current_tenant_id())
    or user_id = (select app.current_user_id())
  );
-- Only owners hand out or take away the owner role.
create policy memberships_insert on app.memberships for insert
  with check (
    tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin())
    and (role <> 'owner' or (select app.current_member_role()) = 'owner')
  );
create policy memberships_update on app.memberships for update
  using (
    tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin())
    and (role <> 'owner' or (select app.current_member_role()) = 'owner')
  )
  with check (
    tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin())
    and (role <> 'owner' or (select app.current_member_role()) = 'owner')
  );
-- Admins remove members; anyone may leave.
create policy memberships_delete on app.memberships for delete
  using (
    tenant_id = (select app.current_tenant_id())
    and (
      user_id = (select app.current_user_id())
      or ((select app.is_tenant_admin())
          and (role <> 'owner' or (select app.current_member_role()) = 'owner'))
    )
  );

-- Users: yourself, and the members of the current tenant.
create policy users_select on app.users for select
  using (
    id = (select app.current_user_id())
    or id in (select m.user_id from app.memberships m
              where m.tenant_id = (select app.current_tenant_id()))
  );
-- Sign-up is open to anyone; column grants keep is_platform_admin out of reach.
create policy users_insert on app.users for insert
  with check (true);
create policy users_update on app.users for update
  using (id = (select app.current_user_id()))
  with check (id = (select app.current_user_id()));
create policy users_delete on app.users for delete
  using (id = (select app.current_user_id()));
-- The SECURITY DEFINER lookups (login by email, add member by email) run as the owner, which is
-- subject to these forced policies too; this one lets exactly those functions find a user.
create policy users_select_definer_lookups on app.users for select to tenantql_owner
  using (true);

-- The audit log is written only through the bypass role (which ignores policies); through any
-- other role nothing may change, and tenant admins may read their own tenant's trail.
create policy audit_log_select on app.audit_log for select
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
create policy audit_log_insert on app.audit_log for insert
  with check (false);
create policy audit_log_update on app.audit_log for update
  using (false);
create policy audit_log_delete on app.audit_log for delete
  using (false);

-- Grants ---------------------------------------------------------------------------------------

grant select on app.tenants to tenantql_api;
grant insert (id, slug, name, settings) on app.tenants to tenantql_api;
grant update (name, settings) on app.tenants to tenantql_api;

-- No password hashes and no way to make oneself a platform admin.
grant select (id, email, name, is_platform_admin, created_at, updated_at) on app.users to tenantql_api;
grant insert (id, email, name, password_hash) on app.users to tenantql_api;
grant update (name, email, password_hash) on app.users to tenantql_api;
grant delete on app.users to tenantql_api;

grant select, insert, delete on app.memberships to tenantql_api;
grant update (role) on app.memberships to tenantql_api;

-- Tenant admins may read what operators did in their tenant, and why (access transparency).
grant select on app.audit_log to tenantql_api;

grant select on app.tenants, app.users, app.memberships, app.audit_log to tenantql_admin;
grant insert on app.audit_log to tenantql_admin;
