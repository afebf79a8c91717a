set local role tenantql_owner;

-- On a Citus cluster an INSERT … SELECT DISTINCT is run by pulling the SELECT to the coordinator
-- with the target table's column defaults added to its list, so the DISTINCT also compares a
-- fresh gen_random_uuid() per row and keeps duplicates: a task whose creator is also its assignee
-- told that person twice about each comment (issue 16). The recipients are made distinct first.
-- Same name, arguments, result, volatility and security as 0033 (CREATE OR REPLACE keeps grants).
create or replace function app.notify(
  p_tenant_id uuid,
  p_recipients uuid[],
  p_kind text,
  p_project_id uuid,
  p_task_id uuid,
  p_comment_id uuid,
  p_payload jsonb
) returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  insert into app.notifications
    (tenant_id, recipient_id, kind, project_id, task_id, comment_id, payload)
  select p_tenant_id, d.r, p_kind, p_project_id, p_task_id, p_comment_id, p_payload
    from (select distinct r from unnest(p_recipients) as r) as d
   where d.r is distinct from app.current_user_id()
     -- A task's creator may have left the tenant since: only current members are told.
     and exists (select 1 from app.memberships m where m.tenant_id = p_tenant_id and m.user_id = d.r);
end
$$;
