set local role tenantql_owner;

-- Invitations instead of silent adds. An admin no longer puts an account into a tenant by typing
-- its address: anyone may sign up with any address and wait. An invitation is mailed to the
-- address instead, and the membership goes to whoever is signed in when they spend the token
-- from that mail: reading the mail is the proof. Inviting never looks at accounts, so its answer
-- says nothing about which addresses have one.
create table app.invitations (
  tenant_id uuid not null references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  -- Normalised (trimmed, lower case) by the API, like app.users.email.
  email text not null
    constraint invitations_email_normalised check (email = lower(btrim(email)))
    constraint invitations_email_length check (length(email) between 3 and 254),
  role text not null constraint invitations_role_valid
    check (role in ('owner', 'admin', 'member', 'viewer')),
  -- SHA-256 of the mailed token; the token itself is never stored. 32 random bytes do not
  -- collide, so the lookup index need not be unique, and a unique index without tenant_id could
  -- not exist on a table distributed by tenant_id (Citus); uniqueness per tenant is declared.
  token_hash bytea not null constraint invitations_token_hash_length
    check (length(token_hash) = 32),
  -- Who sent it (last): acceptance needs them still to be an admin (an owner, for OWNER).
  invited_by uuid default app.current_user_id() references app.users (id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_sent_at timestamptz not null default now(),
  accepted_at timestamptz,
  accepted_by uuid references app.users (id) on delete set null,
  revoked_at timestamptz,
  primary key (tenant_id, id),
  constraint invitations_token_hash_key unique (tenant_id, token_hash),
  constraint invitations_closed_once check (accepted_at is null or revoked_at is null)
);
create index invitations_token_hash_idx on app.invitations (token_hash);
-- One open invitation per address and tenant: inviting again refreshes it (new token, role,
-- expiry) instead of leaving two links that both work.
create unique index invitations_open_email_idx on app.invitations (tenant_id, email)
  where accepted_at is null and revoked_at is null;
create index invitations_created_idx on app.invitations (tenant_id, created_at desc, id);

-- Whoever mails a new link (inviting the address again, resending) is its inviter from then on:
-- set here, not by the API, so nobody can name someone else as the one who vouches for a link.
create function app.invitation_resent() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if new.token_hash is distinct from old.token_hash then
    new.invited_by := app.current_user_id();
    new.last_sent_at := now();
  end if;
  return new;
end
$$;
create trigger invitations_resent before update on app.invitations
  for each row execute function app.invitation_resent();

alter table app.invitations enable row level security;
alter table app.invitations force row level security;
-- Owners and admins of the current tenant, and only owners touch OWNER invitations, as with
-- memberships. NOTE: no sub-selects here: Citus refuses them in policies of distributed tables.
create policy invitations_select on app.invitations for select
  using (tenant_id = app.current_tenant_id() and app.is_tenant_admin());
create policy invitations_insert on app.invitations for insert
  with check (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
  );
create policy invitations_update on app.invitations for update
  using (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
  )
  with check (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
  );
create policy invitations_delete on app.invitations for delete
  using (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
  );
-- app.accept_invitation runs as the owner, which the forced policies bind too: it must find an
-- invitation by its token before any tenant is current, and spend it.
create policy invitations_definer_select on app.invitations for select to tenantql_owner
  using (true);
create policy invitations_definer_update on app.invitations for update to tenantql_owner
  using (true) with check (true);

-- The token hash is write-only for the API: nothing it runs can read a link back.
grant select (tenant_id, id, email, role, invited_by, created_at, expires_at, last_sent_at,
              accepted_at, accepted_by, revoked_at)
  on app.invitations to tenantql_api;
grant insert (tenant_id, email, role, token_hash, expires_at) on app.invitations to tenantql_api;
grant update (role, token_hash, expires_at, revoked_at) on app.invitations to tenantql_api;
grant select (tenant_id, id, email, role, invited_by, created_at, expires_at, last_sent_at,
              accepted_at, accepted_by, revoked_at)
  on app.invitations to tenantql_admin;

-- Spends an invitation for the signed-in user: the token proves they read the invited address's
-- mail, and the membership goes to their account. Single use: the first statement spends it, and
-- a concurrent second call waits on the row and then finds it spent.
--
-- The membership is inserted as the inviter would insert it (their current role in the tenant
-- made current for these statements, then the caller's context restored), so the memberships
-- policies, the quota, the MEMBER_ADDED notification and the activity log treat it exactly like
-- an add by that admin: an inviter who has since lost the right to add members (or, for OWNER,
-- to grant it) no longer vouches for the invitation. An account that is already a member keeps
-- its role unless the invitation grants more; it is never downgraded.
--
-- outcome: 'accepted', 'invalid' (unknown, spent, revoked, expired, inviter gone or no longer
-- entitled: which one is not said), 'suspended' (the tenant), 'quota' (max_members reached).
-- Only 'accepted' changes anything.
create function app.accept_invitation(
  p_token_hash bytea,
  out tenant_id uuid,
  out role text,
  out joined_at timestamptz,
  out outcome text,
  out max_members integer
)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
#variable_conflict use_column
declare
  caller uuid := app.current_user_id();
  previous_tenant text := current_setting('app.tenant_id', true);
  previous_role text := current_setting('app.role', true);
  spent app.invitations;
  inviter_role text;
  tenant_status text;
  current_role_held text;
  ranks constant text[] := array['viewer', 'member', 'admin', 'owner'];
  quota record;
begin
  if caller is null then
    raise exception 'accepting an invitation requires a signed-in user'
      using errcode = 'insufficient_privilege';
  end if;
  outcome := 'invalid';
  update app.invitations i set accepted_at = now(), accepted_by = caller
   where i.token_hash = p_token_hash and i.accepted_at is null and i.revoked_at is null
     and i.expires_at > now()
  returning i.* into spent;
  if spent.id is null then
    return;
  end if;

  perform set_config('app.tenant_id', spent.tenant_id::text, true),
          set_config('app.user_id', coalesce(spent.invited_by::text, ''), true),
          set_config('app.role', '', true);
  select m.role into inviter_role
    from app.memberships m where m.tenant_id = spent.tenant_id and m.user_id = spent.invited_by;
  select t.status into tenant_status from app.tenants t where t.id = spent.tenant_id;
  if spent.invited_by is null or inviter_role is null or inviter_role not in ('owner', 'admin')
     or (spent.role = 'owner' and inviter_role <> 'owner') then
    outcome := 'invalid';
  elsif tenant_status is distinct from 'active' then
    outcome := 'suspended';
  else
    perform set_config('app.role', inviter_role, true);
    select m.role, m.created_at into current_role_held, joined_at
      from app.memberships m where m.tenant_id = spent.tenant_id and m.user_id = caller;
    if current_role_held is null then
      select q.max_count, q.used into quota from app.lock_quota('members') q;
      if quota.max_count is not null and quota.used + 1 > quota.max_count then
        outcome := 'quota';
        max_members := quota.max_count;
      else
        insert into app.memberships (tenant_id, user_id, role)
        values (spent.tenant_id, caller, spent.role)
        returning memberships.role, memberships.created_at into role, joined_at;
        outcome := 'accepted';
      end if;
    elsif array_position(ranks, spent.role) > array_position(ranks, current_role_held) then
      update app.memberships m set role = spent.role
       where m.tenant_id = spent.tenant_id and m.user_id = caller
      returning m.role into role;
      outcome := 'accepted';
    else
      role := current_role_held;
      outcome := 'accepted';
    end if;
  end if;

  perform set_config('app.user_id', caller::text, true),
          set_config('app.tenant_id', coalesce(previous_tenant, ''), true),
          set_config('app.role', coalesce(previous_role, ''), true);
  if outcome <> 'accepted' then
    -- Nobody joined, so the link is not spent: a quota raised or a tenant reactivated lets it
    -- work (the API rolls the whole operation back anyway; a direct caller gets the same).
    update app.invitations i set accepted_at = null, accepted_by = null
     where i.tenant_id = spent.tenant_id and i.id = spent.id;
    role := null;
    joined_at := null;
    return;
  end if;
  tenant_id := spent.tenant_id;
  -- Reading the mail proves the address: the account that has it counts as verified from now on.
  update app.users u set email_verified_at = coalesce(u.email_verified_at, now())
   where u.id = caller and u.email = spent.email;
end
$$;

grant execute on function app.accept_invitation(bytea) to tenantql_api;

-- Adding a member by email is gone (it answered whether an address had an account, and put
-- unproven accounts into tenants): nothing in the API may look an account up by email any more.
revoke execute on function app.find_user_id_by_email(text) from tenantql_api;
