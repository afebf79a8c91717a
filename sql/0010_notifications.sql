set local role tenantql_owner;

-- In-app notifications. Written by triggers in the same transaction as the change that causes
-- them (so a rolled-back change notifies nobody), readable only by their recipient, inside the
-- tenant they belong to.
create table app.notifications (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  recipient_id uuid not null,
  kind text not null constraint notifications_kind_valid check (
    kind in ('TASK_ASSIGNED', 'TASK_COMMENTED', 'PROJECT_STATUS_CHANGED', 'MEMBER_ADDED')
  ),
  actor_id uuid default app.current_user_id() references app.users (id) on delete set null,
  project_id uuid,
  task_id uuid,
  comment_id uuid,
  payload jsonb not null default '{}',
  read_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  -- A recipient is a member of the tenant; leaving it takes their notifications along.
  constraint notifications_recipient_fk foreign key (tenant_id, recipient_id)
    references app.memberships (tenant_id, user_id) on delete cascade
);
create index notifications_recipient_idx
  on app.notifications (tenant_id, recipient_id, created_at desc, id);
create index notifications_unread_idx
  on app.notifications (tenant_id, recipient_id) where read_at is null;

alter table app.notifications enable row level security;
alter table app.notifications force row level security;
create policy notifications_select on app.notifications for select
  using (
    tenant_id = (select app.current_tenant_id())
    and recipient_id = (select app.current_user_id())
  );
-- Anyone who may write in the tenant causes notifications for its other members.
create policy notifications_insert on app.notifications for insert
  with check (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));
create policy notifications_update on app.notifications for update
  using (
    tenant_id = (select app.current_tenant_id())
    and recipient_id = (select app.current_user_id())
  )
  with check (
    tenant_id = (select app.current_tenant_id())
    and recipient_id = (select app.current_user_id())
  );
create policy notifications_delete on app.notifications for delete
  using (
    tenant_id = (select app.current_tenant_id())
    and recipient_id = (select app.current_user_id())
  );
grant select, insert, delete on app.notifications to tenantql_api;
grant update (read_at) on app.notifications to tenantql_api;
grant select on app.notifications to tenantql_admin;

-- One notification per recipient, never to the person who acted, only to current members.
create function app.notify(
  p_tenant_id uuid,
  p_recipients uuid[],
  p_kind text,
  p_project_id uuid,
  p_task_id uuid,
  p_comment_id uuid,
  p_payload jsonb
) returns void
  language sql
  set search_path = pg_catalog, pg_temp
  as $$
  insert into app.notifications
    (tenant_id, recipient_id, kind, project_id, task_id, comment_id, payload)
  select distinct p_tenant_id, r, p_kind, p_project_id, p_task_id, p_comment_id, p_payload
    from unnest(p_recipients) as r
   where r is distinct from app.current_user_id()
     -- A task's creator may have left the tenant since: only current members are told.
     and exists (select 1 from app.memberships m where m.tenant_id = p_tenant_id and m.user_id = r)
$$;

create function app.notify_task_assigned() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if new.assignee_id is not null
     and (tg_op = 'INSERT' or new.assignee_id is distinct from old.assignee_id) then
    perform app.notify(new.tenant_id, array[new.assignee_id], 'TASK_ASSIGNED', new.project_id,
                       new.id, null, jsonb_build_object('title', new.title));
  end if;
  return null;
end
$$;
create trigger tasks_notify_assigned after insert or update of assignee_id on app.tasks
  for each row execute function app.notify_task_assigned();

create function app.notify_task_commented() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
declare
  task record;
begin
  select t.project_id, t.title, t.created_by, t.assignee_id into task
    from app.tasks t where t.tenant_id = new.tenant_id and t.id = new.task_id;
  perform app.notify(new.tenant_id, array[task.created_by, task.assignee_id], 'TASK_COMMENTED',
                     task.project_id, new.task_id, new.id, jsonb_build_object('title', task.title));
  return null;
end
$$;
create trigger comments_notify after insert on app.comments
  for each row execute function app.notify_task_commented();

create function app.notify_project_status() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
declare
  project record;
begin
  select p.name, p.created_by into project
    from app.projects p where p.tenant_id = new.tenant_id and p.id = new.project_id;
  perform app.notify(new.tenant_id, array[project.created_by], 'PROJECT_STATUS_CHANGED',
                     new.project_id, null, null,
                     jsonb_build_object('name', project.name, 'from', new.from_status,
                                        'to', new.to_status, 'comment', new.comment));
  return null;
end
$$;
create trigger project_transitions_notify after insert on app.project_transitions
  for each row execute function app.notify_project_status();

create function app.notify_member_added() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  perform app.notify(new.tenant_id, array[new.user_id], 'MEMBER_ADDED', null, null, null,
                     jsonb_build_object('role', new.role));
  return null;
end
$$;
create trigger memberships_notify after insert on app.memberships
  for each row execute function app.notify_member_added();

-- Platform operators provisioning a tenant add its owner, which notifies them.
grant insert on app.notifications to tenantql_admin;
grant execute on function app.notify(uuid, uuid[], text, uuid, uuid, uuid, jsonb)
  to tenantql_api, tenantql_admin;
