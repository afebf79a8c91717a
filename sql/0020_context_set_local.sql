set local role tenantql_owner;

-- The operation context as SET LOCAL statements (issue 16). set_config(…, true) and SET LOCAL
-- have the same effect on one server: a transaction-local setting, gone at commit or rollback
-- (so PgBouncer in transaction mode stays safe). On a Citus cluster only the second reaches the
-- workers (with citus.propagate_set_commands = 'local', Citus replays a transaction's SET LOCAL
-- statements on every worker connection it opens in it): a setting made by set_config stays on
-- the coordinator, and the workers' policies would see no tenant. SET LOCAL cannot take a bound
-- parameter, so its value is written into the statement: only by the function below, and only
-- after it checked the value (a uuid, or one of the four roles) and quoted it as a literal.

-- Sets one context setting (app.user_id, app.tenant_id, app.role or app.api_key_id) for the rest
-- of the transaction; '' or null clears it. Returns the value set, like set_config. Any other
-- name, a malformed uuid or an unknown role is refused (22023 / 22P02) and nothing is set.
-- NOTE: a SET LOCAL inside a function outlives the function's own `set search_path` clause: only
-- the settings named in that clause are restored when the function returns.
create function app.set_context_value(p_name text, p_value text) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  v text := coalesce(p_value, '');
begin
  case p_name
    when 'app.tenant_id', 'app.user_id', 'app.api_key_id' then
      if v <> '' then
        v := v::uuid::text;
      end if;
    when 'app.role' then
      if v not in ('', 'owner', 'admin', 'member', 'viewer') then
        raise exception 'not a member role: %', v using errcode = 'invalid_parameter_value';
      end if;
    else
      raise exception 'not a context setting: %', p_name using errcode = 'invalid_parameter_value';
  end case;
  -- p_name is one of the four literals above; v a canonical uuid, a role or ''.
  execute format('set local %s = %L', p_name, v);
  return v;
end
$$;

-- The context functions are SECURITY INVOKER where they were (app.set_operation_context runs
-- as the API role); the API role could already set these settings itself with set_config.
grant execute on function app.set_context_value(text, text) to tenantql_api, tenantql_admin;

-- The functions that set the context, unchanged but for set_config(…, true) becoming
-- app.set_context_value(…). Their grants stay (CREATE OR REPLACE keeps them).

create or replace function app.set_operation_context(
  p_user_id uuid,
  p_tenant_id uuid,
  p_tenant_slug text,
  -- Null for callers without an access token (tools, the seed).
  p_token_issued_at timestamptz default null,
  p_session_id uuid default null,
  out tenant_id uuid,
  out tenant_slug text,
  out member_role text,
  out tenant_status text,
  out session_revoked boolean
)
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
begin
  session_revoked := false;
  perform app.set_context_value('app.user_id', coalesce(p_user_id::text, '')),
          app.set_context_value('app.tenant_id', ''),
          app.set_context_value('app.role', '');
  if p_user_id is not null and p_token_issued_at is not null then
    -- RLS lets a user read their own rows, and app.user_id names them now.
    select coalesce(u.tokens_valid_after > p_token_issued_at, true)
           or (p_session_id is not null
               and not exists (select 1 from app.refresh_tokens r
                                where r.user_id = p_user_id and r.id = p_session_id
                                  and r.revoked_at is null))
      into session_revoked
      from (select 1) one
      left join app.users u on u.id = p_user_id;
    if session_revoked then
      perform app.set_context_value('app.user_id', '');
      return;
    end if;
  end if;
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
    perform app.set_context_value('app.tenant_id', tenant_id::text),
            app.set_context_value('app.role', member_role);
  end if;
end
$$;

create or replace function app.set_api_key_context(
  p_secret_hash bytea,
  p_tenant_id uuid,
  p_tenant_slug text,
  out tenant_id uuid,
  out tenant_slug text,
  out member_role text,
  out tenant_status text,
  out session_revoked boolean,
  out user_id uuid,
  out api_key_id uuid,
  out tenant_refused boolean
)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  ranks constant text[] := array['viewer', 'member', 'admin', 'owner'];
  k record;
  creator_role text;
begin
  session_revoked := true;
  tenant_refused := false;
  perform app.set_context_value('app.user_id', ''),
          app.set_context_value('app.tenant_id', ''),
          app.set_context_value('app.role', ''),
          app.set_context_value('app.api_key_id', '');
  select a.tenant_id, a.id, a.role, a.created_by into k
    from app.api_keys a
   where a.secret_hash = p_secret_hash
     and a.revoked_at is null
     and (a.expires_at is null or a.expires_at > now())
     and a.created_by is not null;
  if not found then
    return;
  end if;
  -- The creator's own policies show their memberships and tenants once app.user_id names them.
  perform app.set_context_value('app.user_id', k.created_by::text);
  select t.slug, t.status, m.role into tenant_slug, tenant_status, creator_role
    from app.tenants t
    join app.memberships m on m.tenant_id = t.id and m.user_id = k.created_by
   where t.id = k.tenant_id;
  if creator_role is null then
    tenant_slug := null;
    tenant_status := null;
    perform app.set_context_value('app.user_id', '');
    return;
  end if;
  session_revoked := false;
  if (p_tenant_id is not null and p_tenant_id <> k.tenant_id)
     or (p_tenant_slug is not null and p_tenant_slug <> tenant_slug) then
    tenant_refused := true;
    tenant_slug := null;
    tenant_status := null;
    perform app.set_context_value('app.user_id', '');
    return;
  end if;
  tenant_id := k.tenant_id;
  user_id := k.created_by;
  api_key_id := k.id;
  member_role := ranks[least(array_position(ranks, k.role), array_position(ranks, creator_role))];
  if tenant_status = 'active' then
    perform app.set_context_value('app.tenant_id', tenant_id::text),
            app.set_context_value('app.role', member_role),
            app.set_context_value('app.api_key_id', api_key_id::text);
  else
    perform app.set_context_value('app.user_id', '');
  end if;
end
$$;

create or replace function app.create_tenant(p_slug text, p_name text) returns uuid
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
  perform app.set_context_value('app.tenant_id', new_id::text),
          app.set_context_value('app.role', 'owner');
  insert into app.tenants (id, slug, name) values (new_id, p_slug, p_name);
  insert into app.memberships (tenant_id, user_id, role) values (new_id, caller, 'owner');
  perform app.set_context_value('app.tenant_id', coalesce(previous_tenant, '')),
          app.set_context_value('app.role', coalesce(previous_role, ''));
  return new_id;
end
$$;

create or replace function app.enroll_in_open_tenant(p_tenant_id uuid) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  caller uuid := app.current_user_id();
  previous_tenant text := current_setting('app.tenant_id', true);
  previous_role text := current_setting('app.role', true);
  open boolean;
begin
  if caller is null then
    raise exception 'joining a tenant requires a signed-in user' using errcode = 'insufficient_privilege';
  end if;
  -- The membership policies let an admin add members; for this one insert the caller acts as one.
  perform app.set_context_value('app.tenant_id', p_tenant_id::text),
          app.set_context_value('app.role', 'admin');
  select coalesce((t.settings ->> 'openEnrollment')::boolean, false) into open
    from app.tenants t where t.id = p_tenant_id;
  if not coalesce(open, false) then
    raise exception 'tenant % is not open for enrollment', p_tenant_id
      using errcode = 'insufficient_privilege';
  end if;
  insert into app.memberships (tenant_id, user_id, role) values (p_tenant_id, caller, 'member');
  perform app.set_context_value('app.tenant_id', coalesce(previous_tenant, '')),
          app.set_context_value('app.role', coalesce(previous_role, ''));
  return 'member';
end
$$;

create or replace function app.accept_invitation(
  p_token_hash bytea,
  out tenant_id uuid,
  out role text,
  out joined_at timestamptz,
  out outcome text,
  out max_members integer
)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
#variable_conflict use_column
declare
  caller uuid := app.current_user_id();
  previous_tenant text := current_setting('app.tenant_id', true);
  previous_role text := current_setting('app.role', true);
  spent app.invitations;
  inviter_role text;
  tenant_status text;
  current_role_held text;
  ranks constant text[] := array['viewer', 'member', 'admin', 'owner'];
  quota record;
begin
  if caller is null then
    raise exception 'accepting an invitation requires a signed-in user'
      using errcode = 'insufficient_privilege';
  end if;
  outcome := 'invalid';
  update app.invitations i set accepted_at = now(), accepted_by = caller
   where i.token_hash = p_token_hash and i.accepted_at is null and i.revoked_at is null
     and i.expires_at > now()
  returning i.* into spent;
  if spent.id is null then
    return;
  end if;

  perform app.set_context_value('app.tenant_id', spent.tenant_id::text),
          app.set_context_value('app.user_id', coalesce(spent.invited_by::text, '')),
          app.set_context_value('app.role', '');
  select m.role into inviter_role
    from app.memberships m where m.tenant_id = spent.tenant_id and m.user_id = spent.invited_by;
  select t.status into tenant_status from app.tenants t where t.id = spent.tenant_id;
  if spent.invited_by is null or inviter_role is null or inviter_role not in ('owner', 'admin')
     or (spent.role = 'owner' and inviter_role <> 'owner') then
    outcome := 'invalid';
  elsif tenant_status is distinct from 'active' then
    outcome := 'suspended';
  else
    perform app.set_context_value('app.role', inviter_role);
    select m.role, m.created_at into current_role_held, joined_at
      from app.memberships m where m.tenant_id = spent.tenant_id and m.user_id = caller;
    if current_role_held is null then
      select q.max_count, q.used into quota from app.lock_quota('members') q;
      if quota.max_count is not null and quota.used + 1 > quota.max_count then
        outcome := 'quota';
        max_members := quota.max_count;
      else
        insert into app.memberships (tenant_id, user_id, role)
        values (spent.tenant_id, caller, spent.role)
        returning memberships.role, memberships.created_at into role, joined_at;
        outcome := 'accepted';
      end if;
    elsif array_position(ranks, spent.role) > array_position(ranks, current_role_held) then
      update app.memberships m set role = spent.role
       where m.tenant_id = spent.tenant_id and m.user_id = caller
      returning m.role into role;
      outcome := 'accepted';
    else
      role := current_role_held;
      outcome := 'accepted';
    end if;
  end if;

  perform app.set_context_value('app.user_id', caller::text),
          app.set_context_value('app.tenant_id', coalesce(previous_tenant, '')),
          app.set_context_value('app.role', coalesce(previous_role, ''));
  if outcome <> 'accepted' then
    -- Nobody joined, so the link is not spent: a quota raised or a tenant reactivated lets it
    -- work (the API rolls the whole operation back anyway; a direct caller gets the same).
    update app.invitations i set accepted_at = null, accepted_by = null
     where i.tenant_id = spent.tenant_id and i.id = spent.id;
    role := null;
    joined_at := null;
    return;
  end if;
  tenant_id := spent.tenant_id;
  -- Reading the mail proves the address: the account that has it counts as verified from now on.
  update app.users u set email_verified_at = coalesce(u.email_verified_at, now())
   where u.id = caller and u.email = spent.email;
end
$$;
