-- External delivery of notifications (webhook, email) through a transactional outbox, and the
-- delivery worker's own login role. Created only if absent, like the roles of 0001; its password
-- is configuration, applied by the migration runner.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'tenantql_worker') then
    create role tenantql_worker login nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
  end if;
end
$$;
alter role tenantql_worker nosuperuser nobypassrls nocreatedb nocreaterole noinherit;

set local role tenantql_owner;

-- The worker reaches the app schema only to call the two functions granted to it below.
grant usage on schema app to tenantql_worker;

-- Channel settings: one row per tenant and external channel (in-app notifications are always on).
-- The webhook signing secret is written by the API but never readable through it: the API role's
-- column grants leave `secret` out, so only the worker's claim function (run as the owner) sees it.
create table app.notification_channels (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  channel text not null constraint notification_channels_channel_valid
    check (channel in ('WEBHOOK', 'EMAIL')),
  enabled boolean not null default false,
  kinds text[] not null
    default array['TASK_ASSIGNED', 'TASK_COMMENTED', 'PROJECT_STATUS_CHANGED', 'MEMBER_ADDED']
    constraint notification_channels_kinds_valid check (
      kinds <@ array['TASK_ASSIGNED', 'TASK_COMMENTED', 'PROJECT_STATUS_CHANGED', 'MEMBER_ADDED']
    ),
  url text constraint notification_channels_url_valid
    check (url is null or (channel = 'WEBHOOK' and url ~ '^https?://' and length(url) <= 2048)),
  secret text constraint notification_channels_secret_valid
    check (secret is null or (channel = 'WEBHOOK' and length(secret) >= 32)),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint notification_channels_one_per_channel unique (tenant_id, channel),
  constraint notification_channels_webhook_complete
    check (channel <> 'WEBHOOK' or not enabled or (url is not null and secret is not null))
);
create trigger notification_channels_touch before update on app.notification_channels
  for each row execute function app.touch_updated_at();

alter table app.notification_channels enable row level security;
alter table app.notification_channels force row level security;
-- Settings are tenant owners' and admins' business, in the database as in the API.
create policy notification_channels_select on app.notification_channels for select
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
create policy notification_channels_insert on app.notification_channels for insert
  with check (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
create policy notification_channels_update on app.notification_channels for update
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()))
  with check (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
create policy notification_channels_delete on app.notification_channels for delete
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
-- The SECURITY DEFINER functions below (enqueue on every notification, whoever caused it; the
-- worker's claim across tenants) run as the owner, which the forced policies bind too.
create policy notification_channels_select_definer on app.notification_channels for select
  to tenantql_owner using (true);

grant select (tenant_id, id, channel, enabled, kinds, url, created_at, updated_at)
  on app.notification_channels to tenantql_api;
grant insert (channel, enabled, kinds, url, secret) on app.notification_channels to tenantql_api;
grant update (enabled, kinds, url, secret) on app.notification_channels to tenantql_api;
-- Operators export settings, never the signing secret.
grant select (tenant_id, id, channel, enabled, kinds, url, created_at, updated_at)
  on app.notification_channels to tenantql_admin;

-- The outbox and delivery log: one row per notification and enabled external channel, written by
-- a trigger in the notification's own transaction, so a rolled-back change sends nothing and a
-- committed one is never forgotten. The row id is the idempotency key receivers see.
create table app.notification_deliveries (
  tenant_id uuid not null references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  notification_id uuid,
  channel text not null constraint notification_deliveries_channel_valid
    check (channel in ('WEBHOOK', 'EMAIL')),
  kind text not null,
  recipient_id uuid,
  -- The webhook body (without the signature), fixed when the notification was written.
  payload jsonb not null,
  status text not null default 'pending' constraint notification_deliveries_status_valid
    check (status in ('pending', 'delivered', 'dead')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- A claim holds the row until lease_expires_at; a worker that dies lets it expire, and the row
  -- is claimed again. Results are recorded only with the claim's token.
  lease_token uuid,
  lease_expires_at timestamptz,
  last_attempt_at timestamptz,
  last_error text,
  last_http_status integer,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  -- The log outlives a notification its recipient deleted, and a recipient who left.
  constraint notification_deliveries_notification_fk foreign key (tenant_id, notification_id)
    references app.notifications (tenant_id, id) on delete set null (notification_id),
  constraint notification_deliveries_recipient_fk foreign key (tenant_id, recipient_id)
    references app.memberships (tenant_id, user_id) on delete set null (recipient_id)
);
create index notification_deliveries_log_idx
  on app.notification_deliveries (tenant_id, created_at desc, id);
-- NOTE: the one index that does not lead with tenant_id: the worker looks for due rows of every
-- tenant at once. It stays small (pending rows only).
create index notification_deliveries_due_idx
  on app.notification_deliveries (next_attempt_at) where status = 'pending';

alter table app.notification_deliveries enable row level security;
alter table app.notification_deliveries force row level security;
create policy notification_deliveries_select on app.notification_deliveries for select
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
-- Only the enqueue trigger writes rows, and only the worker's functions change them.
create policy notification_deliveries_insert on app.notification_deliveries for insert
  with check (false);
create policy notification_deliveries_update on app.notification_deliveries for update
  using (false);
create policy notification_deliveries_delete on app.notification_deliveries for delete
  using (false);
create policy notification_deliveries_definer_select on app.notification_deliveries for select
  to tenantql_owner using (true);
create policy notification_deliveries_definer_insert on app.notification_deliveries for insert
  to tenantql_owner with check (true);
create policy notification_deliveries_definer_update on app.notification_deliveries for update
  to tenantql_owner using (true) with check (true);

grant select on app.notification_deliveries to tenantql_api, tenantql_admin;

-- Enqueue ------------------------------------------------------------------------------------

-- SECURITY DEFINER so the trigger sees the tenant's channels (and writes the outbox) whoever
-- caused the notification, a member, a viewer or an operator provisioning a tenant, while none of
-- them may read the settings or write the outbox themselves.
create function app.enqueue_notification_deliveries() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  queued integer;
begin
  insert into app.notification_deliveries
    (tenant_id, notification_id, channel, kind, recipient_id, payload)
  select new.tenant_id, new.id, c.channel, new.kind, new.recipient_id,
         jsonb_build_object(
           'tenant', new.tenant_id,
           'kind', new.kind,
           'createdAt', new.created_at,
           'notification', jsonb_build_object(
             'id', new.id, 'kind', new.kind, 'recipientId', new.recipient_id,
             'actorId', new.actor_id, 'projectId', new.project_id, 'taskId', new.task_id,
             'commentId', new.comment_id, 'data', new.payload, 'createdAt', new.created_at))
    from app.notification_channels c
   where c.tenant_id = new.tenant_id and c.enabled and new.kind = any (c.kinds);
  get diagnostics queued = row_count;
  if queued > 0 then
    -- Delivered at commit, never before: a worker woken by it finds the rows committed.
    perform pg_notify('tenantql_deliveries', '');
  end if;
  return null;
end
$$;
create trigger notifications_enqueue_deliveries after insert on app.notifications
  for each row execute function app.enqueue_notification_deliveries();

-- The worker's two functions -----------------------------------------------------------------

-- Claims up to p_limit due rows of any tenant for p_lease_seconds and returns what delivery
-- needs, nothing more. FOR UPDATE SKIP LOCKED lets workers claim side by side without waiting on
-- each other; the lease keeps a claimed row from every other worker after this returns. A row
-- whose last attempt's lease ran out (its worker died mid-send) is given up as dead.
create function app.claim_notification_deliveries(
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

-- Records one attempt's outcome, only for the claim that holds the row: a worker whose lease ran
-- out (and whose row another worker took) changes nothing and learns so from `false`.
-- p_retry_after_ms: null when the attempt succeeded or was the last one.
create function app.record_notification_delivery(
  p_tenant_id uuid,
  p_id uuid,
  p_lease_token uuid,
  p_delivered boolean,
  p_http_status integer,
  p_error text,
  p_retry_after_ms integer
) returns boolean
  language sql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  update app.notification_deliveries d
     set status = case when p_delivered then 'delivered'
                       when p_retry_after_ms is null then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then now() end,
         next_attempt_at = case when p_retry_after_ms is null then d.next_attempt_at
                                else now() + make_interval(secs => p_retry_after_ms / 1000.0) end,
         last_http_status = p_http_status,
         last_error = case when p_delivered then null else left(p_error, 1000) end,
         lease_token = null,
         lease_expires_at = null
   where d.tenant_id = p_tenant_id and d.id = p_id and d.lease_token = p_lease_token
  returning true
$$;

grant execute on function
  app.claim_notification_deliveries(integer, integer, integer),
  app.record_notification_delivery(uuid, uuid, uuid, boolean, integer, text, integer)
  to tenantql_worker;
