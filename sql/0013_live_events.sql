set local role tenantql_owner;

-- Live updates (GraphQL subscriptions) fan out through LISTEN/NOTIFY on one channel, so every API
-- instance hears every change whichever instance (or psql session) made it. A notification
-- carries ids only, never row contents: anyone who can connect may LISTEN, and each API instance
-- loads the row again in the subscriber's own transaction, where RLS decides what they may see.
-- NOTIFY is sent at commit, so a rolled-back change announces nothing and the row is visible to
-- the transaction that loads it.

create function app.announce_task_change() returns trigger
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
  perform pg_notify('tenantql_live', json_build_object(
    'kind', 'task',
    'op', lower(tg_op),
    'tenantId', r.tenant_id,
    'id', r.id,
    'projectId', r.project_id
  )::text);
  return null;
end
$$;

create trigger tasks_announce after insert or update or delete on app.tasks
  for each row execute function app.announce_task_change();

create function app.announce_notification() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  perform pg_notify('tenantql_live', json_build_object(
    'kind', 'notification',
    'op', 'insert',
    'tenantId', new.tenant_id,
    'id', new.id,
    'recipientId', new.recipient_id
  )::text);
  return null;
end
$$;

create trigger notifications_announce after insert on app.notifications
  for each row execute function app.announce_notification();
