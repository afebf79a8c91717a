set local role tenantql_owner;

-- One round trip at the start of every operation: set the user, find the requested tenant (by id
-- or slug) among the user's memberships, and only then make it current. A non-member or a
-- suspended tenant gets no tenant context at all, so even a caller that ignored the result would
-- see no tenant rows. A tenant that does not exist and one the user is not in look the same.
-- SECURITY INVOKER on purpose: the lookup runs under the caller's own policies.
create function app.set_operation_context(
  p_user_id uuid,
  p_tenant_id uuid,
  p_tenant_slug text,
  out tenant_id uuid,
  out tenant_slug text,
  out member_role text,
  out tenant_status text
)
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
begin
  perform set_config('app.user_id', coalesce(p_user_id::text, ''), true),
          set_config('app.tenant_id', '', true),
          set_config('app.role', '', true);
  if p_user_id is null or (p_tenant_id is null and p_tenant_slug is null) then
    return;
  end if;
  select t.id, t.slug, m.role, t.status into tenant_id, tenant_slug, member_role, tenant_status
    from app.memberships m
    join app.tenants t on t.id = m.tenant_id
   where m.user_id = p_user_id
     and (p_tenant_id is null or t.id = p_tenant_id)
     and (p_tenant_slug is null or t.slug = p_tenant_slug);
  if member_role is not null and tenant_status = 'active' then
    perform set_config('app.tenant_id', tenant_id::text, true),
            set_config('app.role', member_role, true);
  end if;
end
$$;

-- Self-service tenant creation: the signed-in caller becomes the owner. For these two inserts the
-- new tenant is made current with the owner role (the policies require exactly that), then the
-- caller's previous context is restored.
create function app.create_tenant(p_slug text, p_name text) returns uuid
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  new_id uuid := gen_random_uuid();
  caller uuid := app.current_user_id();
  previous_tenant text := current_setting('app.tenant_id', true);
  previous_role text := current_setting('app.role', true);
begin
  if caller is null then
    raise exception 'creating a tenant requires a signed-in user' using errcode = 'insufficient_privilege';
  end if;
  perform set_config('app.tenant_id', new_id::text, true), set_config('app.role', 'owner', true);
  insert into app.tenants (id, slug, name) values (new_id, p_slug, p_name);
  insert into app.memberships (tenant_id, user_id, role) values (new_id, caller, 'owner');
  perform set_config('app.tenant_id', coalesce(previous_tenant, ''), true),
          set_config('app.role', coalesce(previous_role, ''), true);
  return new_id;
end
$$;

-- Login needs the password hash of a user nobody is signed in as yet. The API role cannot read
-- password_hash at all; this function, running as the owner, returns it for one exact email.
create function app.find_login(p_email text, out user_id uuid, out password_hash text)
  language sql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
  select u.id, u.password_hash from app.users u where u.email = p_email
$$;

-- Adding a member by email must find a user who is not yet visible to the tenant. Only a tenant
-- admin gets an answer.
create function app.find_user_id_by_email(p_email text) returns uuid
  language sql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
  select u.id from app.users u where u.email = p_email and app.is_tenant_admin()
$$;

grant execute on function
  app.set_operation_context(uuid, uuid, text), app.create_tenant(text, text),
  app.find_login(text), app.find_user_id_by_email(text)
  to tenantql_api;
