set local role tenantql_owner;

-- SQL-language functions with parameters that read or write a Citus-managed table cannot be
-- planned by Citus ("could not create distributed plan … use of parameters in SQL functions");
-- the same bodies in PL/pgSQL can (issue 16). Same names, arguments, results, volatility,
-- security and grants (CREATE OR REPLACE keeps the grants); only the language changes.
-- test/db/distributable.test.ts keeps new ones out.
-- NOTE: functions of migrations numbered after this one (0030…) get their PL/pgSQL form in a
-- migration after theirs: on a fresh database this file runs first.

create or replace function app.find_login(p_email text, out user_id uuid, out password_hash text)
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  select u.id, u.password_hash into user_id, password_hash from app.users u where u.email = p_email;
end
$$;

create or replace function app.find_user_id_by_email(p_email text) returns uuid
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  return (select u.id from app.users u where u.email = p_email and app.is_tenant_admin());
end
$$;

create or replace function app.notify(
  p_tenant_id uuid,
  p_recipients uuid[],
  p_kind text,
  p_project_id uuid,
  p_task_id uuid,
  p_comment_id uuid,
  p_payload jsonb
) returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  insert into app.notifications
    (tenant_id, recipient_id, kind, project_id, task_id, comment_id, payload)
  select distinct p_tenant_id, r, p_kind, p_project_id, p_task_id, p_comment_id, p_payload
    from unnest(p_recipients) as r
   where r is distinct from app.current_user_id()
     -- A task's creator may have left the tenant since: only current members are told.
     and exists (select 1 from app.memberships m where m.tenant_id = p_tenant_id and m.user_id = r);
end
$$;

create or replace function app.record_notification_delivery(
  p_tenant_id uuid,
  p_id uuid,
  p_lease_token uuid,
  p_delivered boolean,
  p_http_status integer,
  p_error text,
  p_retry_after_ms integer
) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  -- Citus refuses now() inside CASE in a distributed UPDATE; as a parameter it is a value.
  v_now timestamptz := now();
begin
  update app.notification_deliveries d
     set status = case when p_delivered then 'delivered'
                       when p_retry_after_ms is null then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then v_now end,
         next_attempt_at = case when p_retry_after_ms is null then d.next_attempt_at
                                else v_now + make_interval(secs => p_retry_after_ms / 1000.0) end,
         last_http_status = p_http_status,
         last_error = case when p_delivered then null else left(p_error, 1000) end,
         lease_token = null,
         lease_expires_at = null
   where d.tenant_id = p_tenant_id and d.id = p_id and d.lease_token = p_lease_token;
  -- As the SQL version: true when the claim held the row, null (no row) otherwise.
  return case when found then true end;
end
$$;

create or replace function app.record_account_email(
  p_id uuid,
  p_lease_token uuid,
  p_delivered boolean,
  p_error text,
  p_retry_after_ms integer
) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  v_now timestamptz := now();
begin
  update app.account_emails e
     set status = case when p_delivered then 'delivered'
                       when p_retry_after_ms is null then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then v_now end,
         body = case when p_delivered or p_retry_after_ms is null then '' else e.body end,
         next_attempt_at = case when p_retry_after_ms is null then e.next_attempt_at
                                else v_now + make_interval(secs => p_retry_after_ms / 1000.0) end,
         last_error = case when p_delivered then null else left(p_error, 1000) end,
         lease_token = null,
         lease_expires_at = null
   where e.id = p_id and e.lease_token = p_lease_token;
  return case when found then true end;
end
$$;

create or replace function app.record_api_key_use(
  p_tenant_ids uuid[],
  p_ids uuid[],
  p_used_at timestamptz[]
) returns void
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  i integer;
begin
  -- One statement per key: each names its tenant, so Citus sends it to that tenant's shard (an
  -- UPDATE … FROM unnest(…) would go to every shard, and is refused in a function).
  for i in 1 .. coalesce(array_length(p_ids, 1), 0) loop
    update app.api_keys k
       set last_used_at = least(p_used_at[i], now())
     where k.tenant_id = p_tenant_ids[i] and k.id = p_ids[i]
       and (k.last_used_at is null or k.last_used_at < least(p_used_at[i], now()));
  end loop;
end
$$;

-- The context statement's membership check, as the owner: the tenant (a reference table on a
-- cluster) by id or slug, then the caller's membership in it by (tenant_id, user_id), which
-- Citus sends to the one shard holding the tenant. As the API role the tenants policy would ask
-- app.member_tenant_ids(), a read of every shard, on every operation; in a join pushed down to
-- the workers it cannot run at all (no distributed query from inside a shard query). The owner's
-- own policy on tenants (tenants_select_definer, `true`) makes the other policy unnecessary, and
-- memberships' policy lets the owner see the caller's rows as it lets the caller (app.user_id).
-- Returns no row unless p_user_id is a member of the tenant named.
create function app.operation_membership(p_user_id uuid, p_tenant_id uuid, p_tenant_slug text)
  returns table (tenant_id uuid, tenant_slug text, member_role text, tenant_status text)
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  select t.id, t.slug, t.status into tenant_id, tenant_slug, tenant_status
    from app.tenants t
   where (p_tenant_id is null or t.id = p_tenant_id)
     and (p_tenant_slug is null or t.slug = p_tenant_slug);
  if tenant_id is null then
    return;
  end if;
  select m.role into member_role
    from app.memberships m where m.tenant_id = operation_membership.tenant_id
     and m.user_id = p_user_id;
  if member_role is not null then
    return next;
  end if;
end
$$;
-- Only the context statement calls it (as the API role); it tells the same as the join it replaces.
grant execute on function app.operation_membership(uuid, uuid, text) to tenantql_api;

create or replace function app.set_operation_context(
  p_user_id uuid,
  p_tenant_id uuid,
  p_tenant_slug text,
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
  select o.tenant_id, o.tenant_slug, o.member_role, o.tenant_status
    into tenant_id, tenant_slug, member_role, tenant_status
    from app.operation_membership(p_user_id, p_tenant_id, p_tenant_slug) o;
  if member_role is not null and tenant_status = 'active' then
    perform app.set_context_value('app.tenant_id', tenant_id::text),
            app.set_context_value('app.role', member_role);
  end if;
end
$$;
