set local role tenantql_owner;

-- Rotating a webhook secret keeps the previous one signing too until previous_secret_expires_at,
-- so receivers can switch secrets without dropping a delivery (Standard Webhooks sends one
-- signature per secret). The trigger keeps the old secret; the API sets only when it expires.
alter table app.notification_channels
  add column previous_secret text,
  add column previous_secret_expires_at timestamptz;

create function app.keep_previous_webhook_secret() returns trigger
  language plpgsql
  as $$
begin
  if new.secret is distinct from old.secret then
    new.previous_secret := old.secret;
  end if;
  return new;
end
$$;
create trigger notification_channels_keep_previous_secret
  before update on app.notification_channels
  for each row execute function app.keep_previous_webhook_secret();

grant update (previous_secret_expires_at) on app.notification_channels to tenantql_api;
grant select (previous_secret_expires_at) on app.notification_channels to tenantql_api;

-- The worker's view of a tenant's webhook secrets: the current one, and the previous one while
-- its overlap lasts. Like the claim, only the worker may call it.
create function app.webhook_signing_secrets(p_tenant_id uuid) returns text[]
  language sql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
  select array_remove(array[c.secret,
                            case when c.previous_secret_expires_at > now() then c.previous_secret end],
                      null)
    from app.notification_channels c
   where c.tenant_id = p_tenant_id and c.channel = 'WEBHOOK'
$$;

-- Sends a delivery that failed or died once more, from its first attempt: for tenant owners and
-- admins after fixing their endpoint. Delivered and in-flight (leased) rows are left alone.
-- Returns the row's id, or null when the tenant has no such delivery or it does not qualify.
create function app.redeliver_notification_delivery(p_id uuid) returns uuid
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  again uuid;
begin
  if not coalesce(app.is_tenant_admin(), false) then
    return null;
  end if;
  update app.notification_deliveries d
     set status = 'pending', attempts = 0, next_attempt_at = now(),
         lease_token = null, lease_expires_at = null
   where d.tenant_id = app.current_tenant_id() and d.id = p_id
     and (d.status = 'dead' or (d.status = 'pending' and d.attempts > 0))
     and (d.lease_expires_at is null or d.lease_expires_at < now())
  returning d.id into again;
  if again is not null then
    perform pg_notify('tenantql_deliveries', '');
  end if;
  return again;
end
$$;

grant execute on function app.redeliver_notification_delivery(uuid) to tenantql_api;

-- Retention: what the delivery worker deletes once it is old enough. Each call deletes at most
-- p_batch rows per table (oldest first), so no run holds locks for long; the worker calls again
-- while a table still had a full batch. The audit log is never deleted.
create policy notification_deliveries_definer_delete on app.notification_deliveries for delete
  to tenantql_owner using (true);
create policy notifications_definer_delete on app.notifications for delete
  to tenantql_owner using (true);
create policy notifications_definer_select on app.notifications for select
  to tenantql_owner using (true);
create policy activity_definer_delete on app.activity for delete to tenantql_owner using (true);
create policy activity_definer_select on app.activity for select to tenantql_owner using (true);
create policy refresh_tokens_definer_delete on app.refresh_tokens for delete
  to tenantql_owner using (true);
create policy refresh_tokens_definer_select on app.refresh_tokens for select
  to tenantql_owner using (true);

create function app.purge_expired(
  p_delivery_days integer,
  p_notification_days integer,
  p_activity_days integer,
  p_refresh_token_days integer,
  p_batch integer
)
  returns table (kind text, deleted bigint)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
#variable_conflict use_column
declare
  n bigint;
begin
  if p_batch < 1 then
    raise exception 'p_batch must be positive' using errcode = 'invalid_parameter_value';
  end if;
  -- Finished deliveries only: pending ones are still someone's business.
  with old as (
    select d.tenant_id, d.id from app.notification_deliveries d
     where d.status in ('delivered', 'dead')
       and d.created_at < now() - make_interval(days => p_delivery_days)
     order by d.created_at limit p_batch
  )
  delete from app.notification_deliveries d using old
   where d.tenant_id = old.tenant_id and d.id = old.id;
  get diagnostics n = row_count;
  kind := 'notification_deliveries'; deleted := n; return next;

  with old as (
    select x.tenant_id, x.id from app.notifications x
     where x.created_at < now() - make_interval(days => p_notification_days)
     order by x.created_at limit p_batch
  )
  delete from app.notifications x using old where x.tenant_id = old.tenant_id and x.id = old.id;
  get diagnostics n = row_count;
  kind := 'notifications'; deleted := n; return next;

  with old as (
    select a.tenant_id, a.id from app.activity a
     where a.created_at < now() - make_interval(days => p_activity_days)
     order by a.created_at limit p_batch
  )
  delete from app.activity a using old where a.tenant_id = old.tenant_id and a.id = old.id;
  get diagnostics n = row_count;
  kind := 'activity'; deleted := n; return next;

  with old as (
    select r.user_id, r.id from app.refresh_tokens r
     where r.expires_at < now() - make_interval(days => p_refresh_token_days)
     order by r.expires_at limit p_batch
  )
  delete from app.refresh_tokens r using old where r.user_id = old.user_id and r.id = old.id;
  get diagnostics n = row_count;
  kind := 'refresh_tokens'; deleted := n; return next;

  -- Account emails are blanked once sent; their rows matter for a week of troubleshooting.
  with old as (
    select e.id from app.account_emails e
     where e.status in ('delivered', 'dead') and e.created_at < now() - interval '7 days'
     order by e.created_at limit p_batch
  )
  delete from app.account_emails e using old where e.id = old.id;
  get diagnostics n = row_count;
  kind := 'account_emails'; deleted := n; return next;

  with old as (
    select t.token_hash from app.account_tokens t
     where t.expires_at < now() - interval '1 day'
     order by t.expires_at limit p_batch
  )
  delete from app.account_tokens t using old where t.token_hash = old.token_hash;
  get diagnostics n = row_count;
  kind := 'account_tokens'; deleted := n; return next;
end
$$;

grant execute on function
  app.webhook_signing_secrets(uuid),
  app.purge_expired(integer, integer, integer, integer, integer)
  to tenantql_worker;
