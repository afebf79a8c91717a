set local role tenantql_owner;

-- The delivery claim of 0012, which 0018 kept for workers of earlier releases, on a Citus
-- cluster: its FOR UPDATE SKIP LOCKED over every tenant's rows is refused there ("could not run
-- distributed query with FOR UPDATE/SHARE commands"). On a cluster it claims through the fair
-- claim (0036, tenant by tenant, each statement on one shard) without a per-tenant cap, which
-- returns the same columns with the same leases, attempts and dead-lettering. On a single
-- PostgreSQL it is unchanged.

create or replace function app.claim_notification_deliveries(
  p_limit integer,
  p_lease_seconds integer,
  p_max_attempts integer
)
  returns table (
    tenant_id uuid,
    id uuid,
    lease_token uuid,
    channel text,
    kind text,
    attempt integer,
    payload jsonb,
    channel_enabled boolean,
    url text,
    secret text,
    email text
  )
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
#variable_conflict use_column
declare
  token uuid := gen_random_uuid();
begin
  if app.on_citus() then
    return query
    select * from app.claim_notification_deliveries_fair(
      p_limit, p_lease_seconds, p_max_attempts, p_limit);
    return;
  end if;
  update app.notification_deliveries d
     set status = 'dead', lease_token = null, lease_expires_at = null,
         last_error = coalesce(d.last_error, 'the worker stopped during the last attempt')
   where d.status = 'pending' and d.attempts >= p_max_attempts
     and d.lease_expires_at < now();

  return query
  with due as (
    select d.tenant_id, d.id
      from app.notification_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= now()
       and d.attempts < p_max_attempts
       and (d.lease_expires_at is null or d.lease_expires_at < now())
     order by d.next_attempt_at
     limit p_limit
       for update skip locked
  ), claimed as (
    update app.notification_deliveries d
       set lease_token = token,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           attempts = d.attempts + 1,
           last_attempt_at = now()
      from due
     where d.tenant_id = due.tenant_id and d.id = due.id
    returning d.tenant_id, d.id, d.channel, d.kind, d.attempts, d.payload, d.recipient_id
  )
  select c.tenant_id, c.id, token, c.channel, c.kind, c.attempts, c.payload,
         ch.id is not null, ch.url, ch.secret, u.email
    from claimed c
    left join app.notification_channels ch
      on ch.tenant_id = c.tenant_id and ch.channel = c.channel and ch.enabled
    left join app.users u on u.id = c.recipient_id;
end
$$;
