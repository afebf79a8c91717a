set local role tenantql_owner;

create schema app;
comment on schema app is 'tenantql: every table here has row-level security enabled and forced';

grant usage on schema app to tenantql_api, tenantql_admin;

-- Functions are private unless a migration grants them.
alter default privileges for role tenantql_owner revoke execute on functions from public;

-- NOTE: once a transaction that set a custom setting ends, the setting reads back as '' (not NULL)
-- on that pooled connection. nullif(…, '') makes unset context mean "no tenant", so policies match
-- no rows instead of throwing on ''::uuid or matching everything.
create function app.current_tenant_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

create function app.current_user_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;

-- The caller's role in the current tenant: owner, admin, member, viewer, or NULL.
create function app.current_member_role() returns text
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.role', true), '') $$;

create function app.can_write() returns boolean
  language sql stable parallel safe
  as $$ select coalesce(app.current_member_role() in ('owner', 'admin', 'member'), false) $$;

create function app.is_tenant_admin() returns boolean
  language sql stable parallel safe
  as $$ select coalesce(app.current_member_role() in ('owner', 'admin'), false) $$;

grant execute on function
  app.current_tenant_id(), app.current_user_id(), app.current_member_role(),
  app.can_write(), app.is_tenant_admin()
  to tenantql_api, tenantql_admin;

create function app.touch_updated_at() returns trigger
  language plpgsql
  as $$
begin
  new.updated_at := now();
  return new;
end
$$;
