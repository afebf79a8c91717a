set local role tenantql_owner;

-- Fair claiming of notification deliveries (issue 15). The claim of 0012 took the oldest due rows
-- of any tenant, so one tenant's backlog, or a slow endpoint retried over and over, filled every
-- claim. The claim below takes rows round-robin across tenants and never gives a tenant more
-- leases than p_per_tenant_limit at once, counted across every worker (the leases are here).

-- Each tenant's due rows in order, so the claim reads the first few of every tenant instead of
-- ranking the whole backlog of the noisiest one.
create index notification_deliveries_tenant_due_idx
  on app.notification_deliveries (tenant_id, next_attempt_at, id) where status = 'pending';
-- Rows under a lease: the in-flight count per tenant. Recording an attempt clears the token, so
-- this stays as small as the number of sends in flight (plus leases of workers that died).
create index notification_deliveries_leased_idx
  on app.notification_deliveries (tenant_id, lease_expires_at) where lease_token is not null;

-- Claims up to p_limit due rows, round-robin across tenants: every tenant's oldest due row
-- first (oldest tenants' first), then every tenant's second, and so on, never more per tenant
-- than p_per_tenant_limit minus its rows already in flight (an unexpired lease). Leases,
-- attempts and dead-lettering are those of app.claim_notification_deliveries (0012).
--
-- NOTE: the candidates are chosen without locks (FOR UPDATE cannot be combined with the ranking)
-- and then locked with SKIP LOCKED, re-checking that each is still due and unleased. Two workers
-- claiming at the same instant rank the same rows first, so the second skips what the first
-- took rather than taking a tenant's next rows; the per-tenant limit can be passed only by a row
-- queued between their two snapshots, never by a whole claim.
create function app.claim_notification_deliveries_fair(
  p_limit integer,
  p_lease_seconds integer,
  p_max_attempts integer,
  p_per_tenant_limit integer
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
  if p_limit < 1 or p_per_tenant_limit < 1 or p_lease_seconds < 1 or p_max_attempts < 1 then
    raise exception 'claim limits must be positive' using errcode = 'invalid_parameter_value';
  end if;

  -- As in 0012; `lease_token is not null` (always set with lease_expires_at) lets this use the
  -- index of leased rows instead of reading every pending row on every claim.
  update app.notification_deliveries d
     set status = 'dead', lease_token = null, lease_expires_at = null,
         last_error = coalesce(d.last_error, 'the worker stopped during the last attempt')
   where d.lease_token is not null and d.status = 'pending' and d.attempts >= p_max_attempts
     and d.lease_expires_at < now();

  return query
  with recursive pending_tenants as (
    -- The tenants with pending rows, one index probe each (a skip scan): a backlog of a million
    -- rows in one tenant costs what one row does.
    (select d.tenant_id
       from app.notification_deliveries d
      where d.status = 'pending'
      order by d.tenant_id
      limit 1)
    union all
    select (select d.tenant_id
              from app.notification_deliveries d
             where d.status = 'pending' and d.tenant_id > t.tenant_id
             order by d.tenant_id
             limit 1)
      from pending_tenants t
     where t.tenant_id is not null
  ), allowance as (
    select t.tenant_id,
           p_per_tenant_limit - (
             select count(*)::integer
               from app.notification_deliveries l
              where l.tenant_id = t.tenant_id and l.lease_token is not null
                and l.lease_expires_at >= now() and l.status = 'pending'
           ) as free
      from pending_tenants t
     where t.tenant_id is not null
  ), candidates as (
    select c.tenant_id, c.id
      from allowance a
     cross join lateral (
       select d.tenant_id, d.id, d.next_attempt_at,
              row_number() over (order by d.next_attempt_at, d.id) as rank
         from app.notification_deliveries d
        where d.tenant_id = a.tenant_id and d.status = 'pending'
          and d.next_attempt_at <= now() and d.attempts < p_max_attempts
          and (d.lease_expires_at is null or d.lease_expires_at < now())
        order by d.next_attempt_at, d.id
        limit greatest(least(a.free, p_limit), 0)
     ) c
     order by c.rank, c.next_attempt_at, c.id
     limit p_limit
  ), due as (
    select d.tenant_id, d.id
      from app.notification_deliveries d
      join candidates c on c.tenant_id = d.tenant_id and c.id = d.id
     where d.status = 'pending' and d.next_attempt_at <= now()
       and d.attempts < p_max_attempts
       and (d.lease_expires_at is null or d.lease_expires_at < now())
       for update of d skip locked
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

grant execute on function
  app.claim_notification_deliveries_fair(integer, integer, integer, integer)
  to tenantql_worker;

-- NOTE: app.claim_notification_deliveries (0012) stays, and stays granted, so workers of the
-- previous release keep delivering during a rolling upgrade; this release no longer calls it.
