set local role tenantql_owner;

-- Single-tenant deployments (TENANCY_ENABLED=false) serve one tenant that everyone who signs up
-- joins. Such a tenant is marked with settings.openEnrollment; no other tenant can be joined
-- without an admin adding you. The first member becomes its owner, later ones members.
-- SECURITY INVOKER, like app.create_tenant: for the insert the tenant is made current with the
-- owner role (what the policies require), then the caller's previous context is restored.
create function app.enroll_in_open_tenant(p_tenant_id uuid) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  caller uuid := app.current_user_id();
  previous_tenant text := current_setting('app.tenant_id', true);
  previous_role text := current_setting('app.role', true);
  open boolean;
  granted text;
begin
  if caller is null then
    raise exception 'joining a tenant requires a signed-in user' using errcode = 'insufficient_privilege';
  end if;
  perform set_config('app.tenant_id', p_tenant_id::text, true), set_config('app.role', 'owner', true);
  -- The row lock makes concurrent first sign-ups take turns, so there is exactly one first owner.
  select coalesce((t.settings ->> 'openEnrollment')::boolean, false) into open
    from app.tenants t where t.id = p_tenant_id for update;
  if not coalesce(open, false) then
    raise exception 'tenant % is not open for enrollment', p_tenant_id
      using errcode = 'insufficient_privilege';
  end if;
  granted := case
    when exists (select 1 from app.memberships m where m.tenant_id = p_tenant_id) then 'member'
    else 'owner'
  end;
  insert into app.memberships (tenant_id, user_id, role) values (p_tenant_id, caller, granted);
  perform set_config('app.tenant_id', coalesce(previous_tenant, ''), true),
          set_config('app.role', coalesce(previous_role, ''), true);
  return granted;
end
$$;

grant execute on function app.enroll_in_open_tenant(uuid) to tenantql_api;
