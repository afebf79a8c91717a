set local role tenantql_owner;

-- More of what a Citus cluster refuses (issue 16), found running the suites on one:
--
-- 1. A write to app.tenants (a reference table referencing app.plans) makes Citus lock the plans
--    shard on the workers (lock_shard_resources), which it allows only to a role that may
--    modify plans. The login roles get UPDATE on plans; its policy refuses every row to the API
--    role, and a trigger refuses the operators' role (it bypasses RLS): plans change in
--    migrations only, as before.
-- 2. now() inside COALESCE in an UPDATE of a Citus table ("non-IMMUTABLE functions are not
--    allowed in CASE or COALESCE statements"): the three functions that mark an address verified
--    take the time from a variable instead (a parameter to Citus).

grant update on app.plans to tenantql_api, tenantql_admin;

create function app.refuse_plan_change() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if current_user in ('tenantql_api', 'tenantql_admin', 'tenantql_worker') then
    raise exception 'plans change in migrations only' using errcode = 'insufficient_privilege';
  end if;
  return null;
end
$$;
create trigger plans_refuse_change before update or delete on app.plans
  for each statement execute function app.refuse_plan_change();

create or replace function app.verify_email(p_token_hash bytea) returns uuid
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  v_now timestamptz := now();
  spent app.account_tokens;
begin
  update app.account_tokens t set used_at = now()
   where t.token_hash = p_token_hash and t.purpose = 'verify_email'
     and t.used_at is null and t.expires_at > now()
  returning t.* into spent;
  if spent.user_id is null then
    return null;
  end if;
  update app.users u set email_verified_at = coalesce(u.email_verified_at, v_now)
   where u.id = spent.user_id and u.email = spent.email;
  if not found then
    return null;
  end if;
  return spent.user_id;
end
$$;

create or replace function app.consume_password_reset(p_token_hash bytea) returns uuid
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  v_now timestamptz := now();
  spent app.account_tokens;
begin
  update app.account_tokens t set used_at = now()
   where t.token_hash = p_token_hash and t.purpose = 'reset_password'
     and t.used_at is null and t.expires_at > now()
  returning t.* into spent;
  if spent.user_id is null then
    return null;
  end if;
  update app.account_tokens t set used_at = now()
   where t.user_id = spent.user_id and t.purpose = 'reset_password' and t.used_at is null;
  update app.users u set email_verified_at = coalesce(u.email_verified_at, v_now)
   where u.id = spent.user_id and u.email = spent.email;
  return spent.user_id;
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
  v_now timestamptz := now();
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
  update app.users u set email_verified_at = coalesce(u.email_verified_at, v_now)
   where u.id = caller and u.email = spent.email;
end
$$;
