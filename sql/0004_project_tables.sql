set local role tenantql_owner;

-- Every tenant-owned table: tenant_id first, primary key (tenant_id, id), composite foreign keys so
-- a row can never point into another tenant (FK checks ignore RLS), indexes leading with tenant_id.
-- tenant_id defaults to the current tenant; the policies' WITH CHECK refuses any other value.

create table app.projects (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  key text not null constraint projects_key_format check (key ~ '^[A-Z][A-Z0-9]{1,9}$'),
  name text not null constraint projects_name_length check (length(btrim(name)) between 1 and 200),
  description text not null default ''
    constraint projects_description_length check (length(description) <= 10000),
  status text not null default 'DRAFT' constraint projects_status_valid
    check (status in ('DRAFT', 'SUBMITTED', 'APPROVED', 'REJECTED', 'ACTIVE', 'COMPLETED', 'ARCHIVED')),
  created_by uuid default app.current_user_id() references app.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint projects_key_unique unique (tenant_id, key)
);
create index projects_created_idx on app.projects (tenant_id, created_at, id);
create trigger projects_touch before update on app.projects
  for each row execute function app.touch_updated_at();

create table app.tasks (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  project_id uuid not null,
  title text not null constraint tasks_title_length check (length(btrim(title)) between 1 and 300),
  description text not null default ''
    constraint tasks_description_length check (length(description) <= 20000),
  status text not null default 'TODO' constraint tasks_status_valid
    check (status in ('TODO', 'IN_PROGRESS', 'DONE')),
  priority text not null default 'MEDIUM' constraint tasks_priority_valid
    check (priority in ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
  assignee_id uuid,
  due_date date,
  created_by uuid default app.current_user_id() references app.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint tasks_project_fk foreign key (tenant_id, project_id)
    references app.projects (tenant_id, id) on delete cascade,
  -- The assignee must be a member of the same tenant; removing the member unassigns the task.
  constraint tasks_assignee_fk foreign key (tenant_id, assignee_id)
    references app.memberships (tenant_id, user_id) on delete set null (assignee_id)
);
create index tasks_project_idx on app.tasks (tenant_id, project_id, created_at, id);
create index tasks_assignee_idx on app.tasks (tenant_id, assignee_id) where assignee_id is not null;
create trigger tasks_touch before update on app.tasks
  for each row execute function app.touch_updated_at();

create table app.comments (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  task_id uuid not null,
  author_id uuid default app.current_user_id() references app.users (id) on delete set null,
  body text not null constraint comments_body_length check (length(btrim(body)) between 1 and 10000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint comments_task_fk foreign key (tenant_id, task_id)
    references app.tasks (tenant_id, id) on delete cascade
);
create index comments_task_idx on app.comments (tenant_id, task_id, created_at, id);
create trigger comments_touch before update on app.comments
  for each row execute function app.touch_updated_at();

-- Row-level security ---------------------------------------------------------------------------

alter table app.projects enable row level security;
alter table app.projects force row level security;
alter table app.tasks enable row level security;
alter table app.tasks force row level security;
alter table app.comments enable row level security;
alter table app.comments force row level security;

-- Everyone in the tenant reads; viewers never write; deleting a project takes an admin.
create policy projects_select on app.projects for select
  using (tenant_id = (select app.current_tenant_id()));
create policy projects_insert on app.projects for insert
  with check (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));
create policy projects_update on app.projects for update
  using (tenant_id = (select app.current_tenant_id()) and (select app.can_write()))
  with check (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));
create policy projects_delete on app.projects for delete
  using (tenant_id = (select app.current_tenant_id()) and (select app.is_tenant_admin()));

create policy tasks_select on app.tasks for select
  using (tenant_id = (select app.current_tenant_id()));
create policy tasks_insert on app.tasks for insert
  with check (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));
create policy tasks_update on app.tasks for update
  using (tenant_id = (select app.current_tenant_id()) and (select app.can_write()))
  with check (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));
create policy tasks_delete on app.tasks for delete
  using (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));

-- Comments are written as yourself; only their author or a tenant admin changes or removes them.
create policy comments_select on app.comments for select
  using (tenant_id = (select app.current_tenant_id()));
create policy comments_insert on app.comments for insert
  with check (
    tenant_id = (select app.current_tenant_id()) and (select app.can_write())
    and author_id = (select app.current_user_id())
  );
create policy comments_update on app.comments for update
  using (
    tenant_id = (select app.current_tenant_id()) and (select app.can_write())
    and (author_id = (select app.current_user_id()) or (select app.is_tenant_admin()))
  )
  with check (tenant_id = (select app.current_tenant_id()) and (select app.can_write()));
create policy comments_delete on app.comments for delete
  using (
    tenant_id = (select app.current_tenant_id()) and (select app.can_write())
    and (author_id = (select app.current_user_id()) or (select app.is_tenant_admin()))
  );

-- Grants ---------------------------------------------------------------------------------------

grant select, insert, update, delete on app.projects, app.tasks, app.comments to tenantql_api;
grant select on app.projects, app.tasks, app.comments to tenantql_admin;
