set local role tenantql_owner;

-- The tenant's activity log: who created, changed or deleted which project, task, comment or
-- membership. Written only by the triggers below, in the same transaction as the change (a
-- rolled-back change leaves no trace), readable by the tenant's owners and admins, and never
-- changed or deleted through the API.
create table app.activity (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  entity_type text not null constraint activity_entity_type_valid
    check (entity_type in ('PROJECT', 'TASK', 'COMMENT', 'MEMBERSHIP')),
  -- A membership's id is its user's id.
  entity_id uuid not null,
  action text not null constraint activity_action_valid
    check (action in ('CREATED', 'CHANGED', 'DELETED')),
  -- Column names that changed (CHANGED only), updated_at left out.
  changed_fields text[] not null default '{}',
  -- The project's name, the task's title or the member's role, so a deleted entity still reads
  -- as something; comments leave it empty rather than copy their text.
  label text,
  actor_id uuid default app.current_user_id() references app.users (id) on delete set null,
  -- clock_timestamp, not now(): several changes of one transaction keep their order.
  created_at timestamptz not null default clock_timestamp(),
  primary key (tenant_id, id)
);
create index activity_created_idx on app.activity (tenant_id, created_at desc, id desc);
create index activity_entity_idx on app.activity (tenant_id, entity_id, created_at desc);
create index activity_actor_idx on app.activity (tenant_id, actor_id, created_at desc)
  where actor_id is not null;

alter table app.activity enable row level security;
alter table app.activity force row level security;
create policy activity_select on app.activity for select
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));
-- Nobody writes the log directly; the SECURITY DEFINER trigger function below (owned by
-- tenantql_owner) is the only writer, and only into the current tenant.
create policy activity_insert on app.activity for insert
  with check (false);
create policy activity_insert_trigger on app.activity for insert to tenantql_owner
  with check (tenant_id = (select app.current_tenant_id()));
create policy activity_update on app.activity for update
  using (false) with check (false);
create policy activity_delete on app.activity for delete
  using (false);
grant select on app.activity to tenantql_api, tenantql_admin;

-- One AFTER row trigger per audited table, argument: the entity type.
-- NOTE: only changes made in their own tenant's context are recorded. The bypass pool of platform
-- operators has no tenant context (its provisioning and deletions are in app.audit_log), and a row
-- removed along with its tenant, project or task is part of that one deletion: recording it would
-- also insert a row pointing at a tenant that is going away, which fails the foreign key.
create function app.record_activity() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  entity text := tg_argv[0];
  after_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  before_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  subject jsonb := coalesce(after_row, before_row);
  tenant uuid := (subject ->> 'tenant_id')::uuid;
  changed text[] := '{}';
begin
  if tenant is distinct from app.current_tenant_id() then
    return null;
  end if;
  if tg_op = 'DELETE' then
    if not exists (select 1 from app.tenants t where t.id = tenant)
       or (entity = 'TASK' and not exists (
             select 1 from app.projects p
              where p.tenant_id = tenant and p.id = (subject ->> 'project_id')::uuid))
       or (entity = 'COMMENT' and not exists (
             select 1 from app.tasks x
              where x.tenant_id = tenant and x.id = (subject ->> 'task_id')::uuid))
       -- An account deleting itself takes its memberships along.
       or (entity = 'MEMBERSHIP' and not exists (
             select 1 from app.users u where u.id = (subject ->> 'user_id')::uuid)) then
      return null;
    end if;
  elsif tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(after_row) n
     where n.key <> 'updated_at' and n.value is distinct from before_row -> n.key;
    if cardinality(changed) = 0 then
      return null;
    end if;
  end if;
  insert into app.activity (tenant_id, entity_type, entity_id, action, changed_fields, label)
  values (
    tenant,
    entity,
    (subject ->> case entity when 'MEMBERSHIP' then 'user_id' else 'id' end)::uuid,
    case tg_op when 'INSERT' then 'CREATED' when 'UPDATE' then 'CHANGED' else 'DELETED' end,
    changed,
    case entity
      when 'PROJECT' then subject ->> 'name'
      when 'TASK' then subject ->> 'title'
      when 'MEMBERSHIP' then subject ->> 'role'
    end
  );
  return null;
end
$$;

create trigger projects_activity after insert or update or delete on app.projects
  for each row execute function app.record_activity('PROJECT');
create trigger tasks_activity after insert or update or delete on app.tasks
  for each row execute function app.record_activity('TASK');
create trigger comments_activity after insert or update or delete on app.comments
  for each row execute function app.record_activity('COMMENT');
create trigger memberships_activity after insert or update or delete on app.memberships
  for each row execute function app.record_activity('MEMBERSHIP');
