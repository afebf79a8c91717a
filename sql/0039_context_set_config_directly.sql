set local role tenantql_owner;

-- The context statement on a single PostgreSQL writes its settings with set_config(…, true)
-- itself instead of through app.set_context_value: five calls of a function that carries a
-- SET search_path clause (saved and restored per call) and checks a setting each time were
-- about a quarter of the statement's cost in pgbench. The values need no check of their own:
-- the ids are uuid parameters or columns, the role comes from memberships. On a Citus
-- coordinator (citus.propagate_set_commands = 'local', 0032) it still uses
-- app.set_context_value, whose SET LOCAL reaches the workers. Otherwise as 0033 wrote it.
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
declare
  on_citus constant boolean := current_setting('citus.propagate_set_commands', true) = 'local';
begin
  session_revoked := false;
  if on_citus then
    perform app.set_context_value('app.user_id', coalesce(p_user_id::text, '')),
            app.set_context_value('app.tenant_id', ''),
            app.set_context_value('app.role', '');
  else
    perform set_config('app.user_id', coalesce(p_user_id::text, ''), true),
            set_config('app.tenant_id', '', true),
            set_config('app.role', '', true);
  end if;
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
      if on_citus then
        perform app.set_context_value('app.user_id', '');
      else
        perform set_config('app.user_id', '', true);
      end if;
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
    if on_citus then
      perform app.set_context_value('app.tenant_id', tenant_id::text),
              app.set_context_value('app.role', member_role);
    else
      perform set_config('app.tenant_id', tenant_id::text, true),
              set_config('app.role', member_role, true);
    end if;
  end if;
end
$$;
