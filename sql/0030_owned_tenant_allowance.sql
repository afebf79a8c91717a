set local role tenantql_owner;

-- Anyone can sign up and anyone can create tenants, so tenants themselves are a resource one
-- person could take without limit (each with its own request budget and pool share). A plan's
-- max_owned_tenants caps how many tenants of that plan one account may own; self-service
-- creation makes free tenants, so the free plan's value is the one that binds sign-ups. NULL is
-- unlimited; operators move a customer to another plan (admin API) to lift it.
alter table app.plans add column max_owned_tenants integer
  constraint plans_max_owned_tenants_valid check (max_owned_tenants >= 0);

-- Plans change only in migrations: the forced policies refuse even their owner, so for this one
-- update they are lifted.
alter table app.plans no force row level security;
update app.plans set max_owned_tenants = case plan when 'free' then 10 end;
alter table app.plans force row level security;

-- Plans are no secret; this lets app.lock_owned_tenants read them before any tenant is current.
create policy plans_select_definer on app.plans for select to tenantql_owner using (true);

-- How many tenants of `p_plan` the signed-in user owns, and the plan's cap. Holds a per-user lock
-- until the operation ends, so two tenants created at once cannot both slip under the cap. Runs
-- as the owner only to read the plan; the memberships and tenants it counts are the caller's
-- own, through the same policies the caller has (they read app.user_id).
create function app.lock_owned_tenants(p_plan text, out max_count integer, out used bigint)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  caller uuid := app.current_user_id();
begin
  if caller is null then
    raise exception 'counting owned tenants requires a signed-in user'
      using errcode = 'insufficient_privilege';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('owned tenants ' || caller::text, 0));
  select p.max_owned_tenants into max_count from app.plans p where p.plan = p_plan;
  select count(*) into used
    from app.memberships m join app.tenants t on t.id = m.tenant_id
   where m.user_id = caller and m.role = 'owner' and t.plan = p_plan;
end
$$;

grant execute on function app.lock_owned_tenants(text) to tenantql_api;
