set local role tenantql_owner;

-- A schema a Citus cluster accepts, with the same meaning on plain PostgreSQL (issue 16).
--
-- 1. Policies without sub-selects. Citus refuses any sub-query (SubLink) in a policy of a table it
--    manages (distributed, reference and coordinator-local tables alike), and 49 policies had one:
--    `(select app.current_tenant_id())`, written so for an InitPlan computed once per statement.
--    The helpers are STABLE SQL functions that PostgreSQL inlines to
--    `nullif(current_setting(…), '')::uuid`, a stable expression: still an index condition on
--    (tenant_id, …), evaluated once per scan (test/db/distributable.test.ts checks the plans).
--    Role checks (app.can_write() …) are now evaluated per row; they read one setting each.
-- 2. No `on delete set null (column)` on keys that include tenant_id: Citus cannot distribute
--    such a foreign key (nor understand the column list). The same effect comes from BEFORE
--    DELETE triggers that clear the column in rows of the same tenant, then a plain NO ACTION key.

-- The two policies that looked into memberships get it from functions instead: one call per
-- statement, whose result is an index condition (`id = any (…)`). SECURITY INVOKER: they read
-- memberships under the caller's own policies (their own rows, the current tenant's rows).
create function app.member_tenant_ids() returns uuid[]
  language sql stable parallel safe
  set search_path = pg_catalog, pg_temp
  as $$
  select coalesce(array_agg(m.tenant_id), '{}') from app.memberships m
   where m.user_id = app.current_user_id()
$$;

create function app.current_tenant_member_ids() returns uuid[]
  language sql stable parallel safe
  set search_path = pg_catalog, pg_temp
  as $$
  select coalesce(array_agg(m.user_id), '{}') from app.memberships m
   where m.tenant_id = app.current_tenant_id()
$$;

grant execute on function app.member_tenant_ids(), app.current_tenant_member_ids()
  to tenantql_api, tenantql_admin;

-- 1. Policies -------------------------------------------------------------------------------

alter policy activity_insert_trigger on app.activity
  with check (tenant_id = app.current_tenant_id());
alter policy activity_select on app.activity
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy audit_log_select on app.audit_log
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy comments_delete on app.comments
  using ((tenant_id = app.current_tenant_id()) and app.can_write()
    and ((author_id = app.current_user_id()) or app.is_tenant_admin()));
alter policy comments_insert on app.comments
  with check ((tenant_id = app.current_tenant_id()) and app.can_write()
    and (author_id = app.current_user_id()));
alter policy comments_select on app.comments
  using (tenant_id = app.current_tenant_id());
alter policy comments_update on app.comments
  using ((tenant_id = app.current_tenant_id()) and app.can_write()
    and ((author_id = app.current_user_id()) or app.is_tenant_admin()))
  with check ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy external_identities_delete on app.external_identities
  using (user_id = app.current_user_id());
alter policy external_identities_insert on app.external_identities
  with check (user_id = app.current_user_id());
alter policy external_identities_select on app.external_identities
  using (user_id = app.current_user_id());
alter policy memberships_delete on app.memberships
  using ((tenant_id = app.current_tenant_id())
    and ((user_id = app.current_user_id()) or (app.is_tenant_admin()
    and ((role <> 'owner') or (app.current_member_role() = 'owner')))));
alter policy memberships_insert on app.memberships
  with check ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin()
    and ((role <> 'owner') or (app.current_member_role() = 'owner')));
alter policy memberships_select on app.memberships
  using ((tenant_id = app.current_tenant_id()) or (user_id = app.current_user_id()));
alter policy memberships_update on app.memberships
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin()
    and ((role <> 'owner') or (app.current_member_role() = 'owner')))
  with check ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin()
    and ((role <> 'owner') or (app.current_member_role() = 'owner')));
alter policy notification_channels_delete on app.notification_channels
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy notification_channels_insert on app.notification_channels
  with check ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy notification_channels_select on app.notification_channels
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy notification_channels_update on app.notification_channels
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin())
  with check ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy notification_deliveries_select on app.notification_deliveries
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy notifications_delete on app.notifications
  using ((tenant_id = app.current_tenant_id()) and (recipient_id = app.current_user_id()));
alter policy notifications_insert on app.notifications
  with check ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy notifications_select on app.notifications
  using ((tenant_id = app.current_tenant_id()) and (recipient_id = app.current_user_id()));
alter policy notifications_update on app.notifications
  using ((tenant_id = app.current_tenant_id()) and (recipient_id = app.current_user_id()))
  with check ((tenant_id = app.current_tenant_id()) and (recipient_id = app.current_user_id()));
alter policy plans_select on app.plans
  using (app.current_tenant_id() is not null);
alter policy project_transitions_insert on app.project_transitions
  with check ((tenant_id = app.current_tenant_id()) and app.can_write()
    and (actor_id = app.current_user_id()));
alter policy project_transitions_select on app.project_transitions
  using (tenant_id = app.current_tenant_id());
alter policy projects_delete on app.projects
  using ((tenant_id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy projects_insert on app.projects
  with check ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy projects_select on app.projects
  using (tenant_id = app.current_tenant_id());
alter policy projects_update on app.projects
  using ((tenant_id = app.current_tenant_id()) and app.can_write())
  with check ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy refresh_tokens_delete on app.refresh_tokens
  using (user_id = app.current_user_id());
alter policy refresh_tokens_insert on app.refresh_tokens
  with check (user_id = app.current_user_id());
alter policy refresh_tokens_select on app.refresh_tokens
  using (user_id = app.current_user_id());
alter policy refresh_tokens_update on app.refresh_tokens
  using (user_id = app.current_user_id())
  with check (user_id = app.current_user_id());
alter policy tasks_delete on app.tasks
  using ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy tasks_insert on app.tasks
  with check ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy tasks_select on app.tasks
  using (tenant_id = app.current_tenant_id());
alter policy tasks_update on app.tasks
  using ((tenant_id = app.current_tenant_id()) and app.can_write())
  with check ((tenant_id = app.current_tenant_id()) and app.can_write());
alter policy tenants_delete on app.tenants
  using ((id = app.current_tenant_id()) and (app.current_member_role() = 'owner'));
alter policy tenants_insert on app.tenants
  with check ((id = app.current_tenant_id()) and (app.current_member_role() = 'owner'));
-- A user sees the current tenant and every tenant they belong to (as before, without the
-- sub-select: app.member_tenant_ids() is one call per statement and still an index condition).
alter policy tenants_select on app.tenants
  using (id = app.current_tenant_id() or id = any (app.member_tenant_ids()));
alter policy tenants_update on app.tenants
  using ((id = app.current_tenant_id()) and app.is_tenant_admin())
  with check ((id = app.current_tenant_id()) and app.is_tenant_admin());
alter policy users_delete on app.users
  using (id = app.current_user_id());
-- Yourself, and the members of the current tenant.
alter policy users_select on app.users
  using (id = app.current_user_id() or id = any (app.current_tenant_member_ids()));
alter policy users_update on app.users
  using (id = app.current_user_id())
  with check (id = app.current_user_id());


-- 2. Foreign keys between tenant tables without SET NULL ---------------------------------------

-- Removing a member unassigns their tasks and detaches their delivery log rows; deleting a
-- notification detaches its delivery log rows. Same tenant only (the keys include tenant_id).
-- SECURITY DEFINER: whoever removes the membership (a leaving viewer, an account deletion with no
-- tenant current) may not update those rows themselves, as the SET NULL action could.
create function app.detach_membership() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  -- A row removed along with its tenant needs nothing detached (and updating rows of a tenant
  -- that is going away would fail their key to it).
  if not exists (select 1 from app.tenants t where t.id = old.tenant_id) then
    return old;
  end if;
  update app.tasks t set assignee_id = null
   where t.tenant_id = old.tenant_id and t.assignee_id = old.user_id;
  update app.notification_deliveries d set recipient_id = null
   where d.tenant_id = old.tenant_id and d.recipient_id = old.user_id;
  return old;
end
$$;

create function app.detach_notification() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if not exists (select 1 from app.tenants t where t.id = old.tenant_id) then
    return old;
  end if;
  update app.notification_deliveries d set notification_id = null
   where d.tenant_id = old.tenant_id and d.notification_id = old.id;
  return old;
end
$$;

-- For the two functions above, which run as the owner (forced RLS binds it too). Only SECURITY
-- DEFINER functions act as the owner, and none but app.detach_membership changes tasks.
create policy tenants_select_definer on app.tenants for select to tenantql_owner using (true);
create policy tasks_select_definer on app.tasks for select to tenantql_owner using (true);
create policy tasks_update_definer on app.tasks for update to tenantql_owner
  using (true) with check (true);

alter table app.tasks drop constraint tasks_assignee_fk;
alter table app.tasks add constraint tasks_assignee_fk foreign key (tenant_id, assignee_id)
  references app.memberships (tenant_id, user_id);
alter table app.notification_deliveries drop constraint notification_deliveries_notification_fk;
alter table app.notification_deliveries add constraint notification_deliveries_notification_fk
  foreign key (tenant_id, notification_id) references app.notifications (tenant_id, id);
alter table app.notification_deliveries drop constraint notification_deliveries_recipient_fk;
alter table app.notification_deliveries add constraint notification_deliveries_recipient_fk
  foreign key (tenant_id, recipient_id) references app.memberships (tenant_id, user_id);

-- BEFORE, so the rows are detached before the key is checked at the end of the statement.
create trigger memberships_detach before delete on app.memberships
  for each row execute function app.detach_membership();
create trigger notifications_detach before delete on app.notifications
  for each row execute function app.detach_notification();
