set local role tenantql_owner;

-- Live events on a Citus cluster (issue 16). The triggers of 0013 (and the outbox's wake-up of
-- 0012) call pg_notify. On a cluster they run on the shards, on the workers: a NOTIFY there is
-- heard only by listeners of that worker, never by the API's LISTEN on the coordinator, and a
-- transaction that sent one cannot be prepared, so every write spanning nodes (two-phase commit:
-- a new tenant, a reference table and a shard) failed.
--
-- app.announce is where the triggers now send an event. On a single PostgreSQL it is the same
-- NOTIFY as before (instant, at commit, nothing stored). Where the citus extension is installed
-- it writes the event as a row of app.live_events instead, on the shard of the event's tenant
-- (a local write from the trigger, committed or rolled back with the change), and every API
-- instance polls that table (src/live/event-poller.ts): every instance still hears every event,
-- whichever node the trigger ran on. The outbox's wake-up needs no such row: delivery workers
-- poll on their own, so on a cluster the NOTIFY is left out.

create table app.live_events (
  tenant_id uuid not null,
  id uuid not null default gen_random_uuid(),
  -- clock_timestamp(): when the trigger ran, so that events of one long transaction keep their order.
  created_at timestamptz not null default clock_timestamp(),
  payload text not null,
  primary key (tenant_id, id)
);
create index live_events_created_idx on app.live_events (created_at);
alter table app.live_events enable row level security;
alter table app.live_events force row level security;
-- Only the owner (the functions below) writes it; a tenant may see its own events, as any
-- tenant table (the poller reads them all through app.live_events_after, as the owner).
create policy live_events_select on app.live_events for select
  using (tenant_id = app.current_tenant_id());
create policy live_events_insert on app.live_events for insert with check (false);
create policy live_events_update on app.live_events for update using (false);
create policy live_events_delete on app.live_events for delete using (false);
create policy live_events_definer on app.live_events for all to tenantql_owner
  using (true) with check (true);
grant select on app.live_events to tenantql_api, tenantql_admin;

-- Whether this database is part of a Citus cluster (the citus extension is installed here).
create function app.on_citus() returns boolean
  language plpgsql stable
  set search_path = pg_catalog, pg_temp
  as $$
begin
  return to_regclass('pg_catalog.pg_dist_partition') is not null;
end
$$;
grant execute on function app.on_citus() to tenantql_api, tenantql_admin;

-- Announces a live event (src/live/events.ts) of a tenant: NOTIFY tenantql_live, or on a cluster
-- a row of app.live_events. SECURITY DEFINER: whoever made the change may not write the table.
create function app.announce(p_tenant_id uuid, p_payload text) returns void
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if app.on_citus() then
    insert into app.live_events (tenant_id, payload) values (p_tenant_id, p_payload);
  else
    perform pg_notify('tenantql_live', p_payload);
  end if;
end
$$;
grant execute on function app.announce(uuid, text) to tenantql_api, tenantql_admin;

create or replace function app.announce_task_change() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
declare
  r app.tasks;
begin
  if tg_op = 'DELETE' then
    r := old;
  else
    r := new;
  end if;
  perform app.announce(r.tenant_id, json_build_object(
    'kind', 'task',
    'op', lower(tg_op),
    'tenantId', r.tenant_id,
    'id', r.id,
    'projectId', r.project_id
  )::text);
  return null;
end
$$;

create or replace function app.announce_notification() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  perform app.announce(new.tenant_id, json_build_object(
    'kind', 'notification',
    'op', 'insert',
    'tenantId', new.tenant_id,
    'id', new.id,
    'recipientId', new.recipient_id
  )::text);
  return null;
end
$$;

create or replace function app.enqueue_notification_deliveries() returns trigger
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
  if queued > 0 and not app.on_citus() then
    -- Delivered at commit, never before: a worker woken by it finds the rows committed.
    perform pg_notify('tenantql_deliveries', '');
  end if;
  return null;
end
$$;

-- The events after p_after (exclusive), oldest first, at most p_limit: what the API's poller
-- reads on a cluster. Ids only, like the NOTIFY payloads anyone connected may LISTEN to.
create function app.live_events_after(p_after timestamptz, p_limit integer)
  returns table (id uuid, created_at timestamptz, payload text)
  language plpgsql stable security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  return query
  select e.id, e.created_at, e.payload from app.live_events e
   where e.created_at > p_after
   order by e.created_at, e.id
   limit p_limit;
end
$$;

-- Deletes events older than p_age; returns how many.
create function app.purge_live_events(p_age interval) returns bigint
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  deleted bigint;
begin
  delete from app.live_events e where e.created_at < now() - p_age;
  get diagnostics deleted = row_count;
  return deleted;
end
$$;
grant execute on function app.live_events_after(timestamptz, integer),
  app.purge_live_events(interval) to tenantql_api;
