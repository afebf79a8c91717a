set local role tenantql_owner;

-- The fair delivery claim (0018) on a Citus cluster (issue 16): its FOR UPDATE SKIP LOCKED and
-- its recursive skip scan over every tenant's rows are refused on a distributed table. On a
-- single PostgreSQL it is unchanged (the first branch, 0018's statement as it was); on a cluster
-- it claims tenant by tenant, every statement naming its tenant, so each runs on that tenant's
-- shard, where locking and SKIP LOCKED work as before.

create or replace function app.claim_notification_deliveries_fair(
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
  remaining integer := p_limit;
  share integer;
  n_claimed integer;
  t record;
  take integer;
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

  if not app.on_citus() then
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
    return;
  end if;

  -- Citus: one tenant at a time, each statement on that tenant's shard (a SELECT … FOR UPDATE
  -- cannot span shards, nor can the recursive skip scan above). The tenants with due rows,
  -- oldest due first, get an equal share of the claim each, within their per-tenant allowance.
  select greatest(1, ceil(p_limit::numeric / greatest(count(*), 1)))::integer into share
    from (select distinct d.tenant_id from app.notification_deliveries d
           where d.status = 'pending' and d.next_attempt_at <= now()
             and d.attempts < p_max_attempts
             and (d.lease_expires_at is null or d.lease_expires_at < now())) due_tenants;
  for t in
    select d.tenant_id, min(d.next_attempt_at) as oldest
      from app.notification_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= now() and d.attempts < p_max_attempts
       and (d.lease_expires_at is null or d.lease_expires_at < now())
     group by d.tenant_id
     order by oldest, d.tenant_id
  loop
    exit when remaining <= 0;
    select least(share, remaining, p_per_tenant_limit - count(*)::integer) into take
      from app.notification_deliveries l
     where l.tenant_id = t.tenant_id and l.lease_token is not null
       and l.lease_expires_at >= now() and l.status = 'pending';
    continue when take <= 0;
    return query
    with due as (
      select d.tenant_id, d.id
        from app.notification_deliveries d
       where d.tenant_id = t.tenant_id and d.status = 'pending' and d.next_attempt_at <= now()
         and d.attempts < p_max_attempts
         and (d.lease_expires_at is null or d.lease_expires_at < now())
       order by d.next_attempt_at, d.id
       limit take
         for update skip locked
    ), claimed as (
      update app.notification_deliveries d
         set lease_token = token,
             lease_expires_at = now() + make_interval(secs => p_lease_seconds),
             attempts = d.attempts + 1,
             last_attempt_at = now()
        from due
       where d.tenant_id = t.tenant_id and d.tenant_id = due.tenant_id and d.id = due.id
      returning d.tenant_id, d.id, d.channel, d.kind, d.attempts, d.payload, d.recipient_id
    )
    select c.tenant_id, c.id, token, c.channel, c.kind, c.attempts, c.payload,
           ch.id is not null, ch.url, ch.secret, u.email
      from claimed c
      left join app.notification_channels ch
        on ch.tenant_id = c.tenant_id and ch.channel = c.channel and ch.enabled
      left join app.users u on u.id = c.recipient_id;
    get diagnostics n_claimed = row_count;
    remaining := remaining - n_claimed;
  end loop;
end
$$;
