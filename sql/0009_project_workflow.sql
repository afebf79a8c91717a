set local role tenantql_owner;

-- The project approval workflow as data: one row per allowed edge with the lowest role that may
-- take it. The API reads it (projectWorkflow) and a trigger enforces it, so a status can change
-- only along these edges, whoever issues the UPDATE. Adding an edge is a migration that inserts
-- a row; the tests iterate this table.
create table app.project_workflow (
  from_status text not null,
  to_status text not null,
  min_role text not null constraint project_workflow_role_valid
    check (min_role in ('viewer', 'member', 'admin', 'owner')),
  primary key (from_status, to_status),
  constraint project_workflow_not_a_loop check (from_status <> to_status)
);

insert into app.project_workflow (from_status, to_status, min_role) values
  ('DRAFT', 'SUBMITTED', 'member'),
  ('SUBMITTED', 'APPROVED', 'admin'),
  ('SUBMITTED', 'REJECTED', 'admin'),
  ('REJECTED', 'DRAFT', 'member'),
  ('APPROVED', 'ACTIVE', 'member'),
  ('ACTIVE', 'COMPLETED', 'member'),
  ('DRAFT', 'ARCHIVED', 'owner'),
  ('SUBMITTED', 'ARCHIVED', 'owner'),
  ('APPROVED', 'ARCHIVED', 'owner'),
  ('REJECTED', 'ARCHIVED', 'owner'),
  ('ACTIVE', 'ARCHIVED', 'owner'),
  ('COMPLETED', 'ARCHIVED', 'owner');

alter table app.project_workflow enable row level security;
alter table app.project_workflow force row level security;
-- Platform configuration, the same for every tenant: readable by everyone, changed only by
-- migrations (they act as tenantql_owner; the API and admin roles have no write grant at all).
create policy project_workflow_select on app.project_workflow for select using (true);
create policy project_workflow_insert on app.project_workflow for insert
  with check (current_user = 'tenantql_owner');
create policy project_workflow_update on app.project_workflow for update
  using (current_user = 'tenantql_owner') with check (current_user = 'tenantql_owner');
create policy project_workflow_delete on app.project_workflow for delete
  using (current_user = 'tenantql_owner');
grant select on app.project_workflow to tenantql_api, tenantql_admin;

create function app.role_rank(p_role text) returns int
  language sql immutable parallel safe
  as $$ select case p_role when 'viewer' then 0 when 'member' then 1 when 'admin' then 2
                           when 'owner' then 3 end $$;
grant execute on function app.role_rank(text) to tenantql_api, tenantql_admin;

-- Every recorded transition, with who took it and why. History: never changed or deleted (it
-- goes with its project).
create table app.project_transitions (
  tenant_id uuid not null default app.current_tenant_id()
    references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  project_id uuid not null,
  from_status text not null,
  to_status text not null,
  actor_id uuid default app.current_user_id() references app.users (id) on delete set null,
  comment text not null default ''
    constraint project_transitions_comment_length check (length(comment) <= 2000),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint project_transitions_project_fk foreign key (tenant_id, project_id)
    references app.projects (tenant_id, id) on delete cascade
);
create index project_transitions_project_idx
  on app.project_transitions (tenant_id, project_id, created_at);

alter table app.project_transitions enable row level security;
alter table app.project_transitions force row level security;
create policy project_transitions_select on app.project_transitions for select
  using (tenant_id = (select app.current_tenant_id()));
create policy project_transitions_insert on app.project_transitions for insert
  with check (
    tenant_id = (select app.current_tenant_id()) and (select app.can_write())
    and actor_id = (select app.current_user_id())
  );
create policy project_transitions_update on app.project_transitions for update
  using (false);
create policy project_transitions_delete on app.project_transitions for delete
  using (false);
grant select, insert on app.project_transitions to tenantql_api;
grant select on app.project_transitions to tenantql_admin;

-- The database's own check of every status change. SQLSTATE 23514 with the constraint name
-- project_workflow_transition for an edge that does not exist; 42501 for a role too low.
create function app.enforce_project_workflow() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
declare
  needed text;
begin
  if new.status is not distinct from old.status then
    return new;
  end if;
  select w.min_role into needed from app.project_workflow w
   where w.from_status = old.status and w.to_status = new.status;
  if needed is null then
    raise exception 'a project cannot go from % to %', old.status, new.status
      using errcode = 'check_violation', constraint = 'project_workflow_transition';
  end if;
  if coalesce(app.role_rank(app.current_member_role()), -1) < app.role_rank(needed) then
    raise exception 'moving a project from % to % takes the % role', old.status, new.status, needed
      using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;
create trigger projects_workflow before update of status on app.projects
  for each row execute function app.enforce_project_workflow();
