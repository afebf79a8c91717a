set local role tenantql_owner;

-- app.webhook_signing_secrets (0031) is an SQL function with a parameter reading a distributed
-- table, which Citus cannot plan (issue 16). 0031 runs after this file on a fresh database, so
-- it cannot be replaced here; the worker calls this PL/pgSQL twin instead. Same result, same
-- caller (only the delivery worker).
-- NOTE: previous_secret and previous_secret_expires_at come from 0031; PL/pgSQL resolves them
-- when the function first runs, by which time every migration has.
create function app.webhook_secrets(p_tenant_id uuid) returns text[]
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  return (
    select array_remove(array[c.secret,
                              case when c.previous_secret_expires_at > now()
                                   then c.previous_secret end],
                        null)
      from app.notification_channels c
     where c.tenant_id = p_tenant_id and c.channel = 'WEBHOOK');
end
$$;
grant execute on function app.webhook_secrets(uuid) to tenantql_worker;
