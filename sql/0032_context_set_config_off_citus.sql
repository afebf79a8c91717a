set local role tenantql_owner;

-- app.set_context_value (0020) wrote every context setting as a dynamic SET LOCAL, which only a
-- Citus coordinator needs (it replays a transaction's SET LOCALs on its workers). On a single
-- PostgreSQL the EXECUTE cost the context statement measurable CPU on every operation (the
-- benchmark's reference operation: PostgreSQL CPU per operation +13 %, { __typename } +49 %,
-- against the code before 0020). It now uses set_config(…, true), the same transaction-local
-- setting, unless Citus is there to propagate SET LOCAL (citus.propagate_set_commands is 'local';
-- without Citus that setting does not exist at all). The checks of the value stay for both.
create or replace function app.set_context_value(p_name text, p_value text) returns text
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
  if current_setting('citus.propagate_set_commands', true) = 'local' then
    -- p_name is one of the four literals above; v a canonical uuid, a role or ''.
    execute format('set local %s = %L', p_name, v);
  else
    perform set_config(p_name, v, true);
  end if;
  return v;
end
$$;
