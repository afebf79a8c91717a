set local role tenantql_owner;

-- API keys for machine clients. A key belongs to one tenant and acts as the member who created
-- it, capped by the key's own role. Only a SHA-256 of the whole key is stored (keys are 32 random
-- bytes, so a fast hash suffices, unlike passwords); `prefix` is a separate random part shown in
-- lists so people can tell keys apart, never any of the secret.
create table app.api_keys (
  tenant_id uuid not null references app.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null constraint api_keys_name_length check (length(btrim(name)) between 1 and 100),
  role text not null constraint api_keys_role_valid
    check (role in ('owner', 'admin', 'member', 'viewer')),
  prefix text not null constraint api_keys_prefix_format check (prefix ~ '^tq_[0-9a-f]{8}$'),
  secret_hash bytea not null constraint api_keys_hash_length check (length(secret_hash) = 32),
  -- A key whose creator's account is gone stops working (app.set_api_key_context), but stays
  -- listed and named by the activity log.
  created_by uuid references app.users (id) on delete set null,
  created_at timestamptz not null default now(),
  -- Null: never expires.
  expires_at timestamptz,
  revoked_at timestamptz,
  -- Written in batches by app.record_api_key_use, never in the operation's own transaction.
  last_used_at timestamptz,
  primary key (tenant_id, id),
  -- NOTE: the lookup by hash cannot lead with tenant_id (the key is what names the tenant).
  -- tenant_id is in the constraint because a distributed (Citus) table allows unique constraints
  -- only with its distribution column; 256 random bits keep hashes unique across tenants anyway.
  constraint api_keys_secret_hash_key unique (secret_hash, tenant_id)
);
create index api_keys_created_idx on app.api_keys (tenant_id, created_at, id);

-- The key the current operation runs under (set by app.set_api_key_context), or NULL.
create function app.current_api_key_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.api_key_id', true), '')::uuid $$;
grant execute on function app.current_api_key_id() to tenantql_api, tenantql_admin;

-- A revoked key stays revoked, and nothing but revoked_at and last_used_at ever changes: a key's
-- tenant, role, hash and expiry are fixed at creation.
create function app.guard_api_key_columns() returns trigger
  language plpgsql
  as $$
begin
  new.tenant_id := old.tenant_id;
  new.id := old.id;
  new.name := old.name;
  new.role := old.role;
  new.prefix := old.prefix;
  new.secret_hash := old.secret_hash;
  new.created_at := old.created_at;
  new.expires_at := old.expires_at;
  new.revoked_at := coalesce(old.revoked_at, new.revoked_at);
  new.last_used_at := greatest(old.last_used_at, new.last_used_at);
  return new;
end
$$;
create trigger api_keys_guard_columns before update on app.api_keys
  for each row execute function app.guard_api_key_columns();

-- Owners and admins of the current tenant manage its keys; only owners touch OWNER keys; and
-- only a person does: an operation running under a key cannot mint or revoke keys (a leaked key
-- must not be able to outlive its own revocation). No sub-selects: Citus forbids them in policies
-- of distributed tables.
alter table app.api_keys enable row level security;
alter table app.api_keys force row level security;
create policy api_keys_select on app.api_keys for select
  using (tenant_id = app.current_tenant_id() and app.is_tenant_admin());
create policy api_keys_insert on app.api_keys for insert
  with check (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
    and created_by = app.current_user_id() and app.current_api_key_id() is null
  );
create policy api_keys_update on app.api_keys for update
  using (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
    and app.current_api_key_id() is null
  )
  with check (
    tenant_id = app.current_tenant_id() and app.is_tenant_admin()
    and (role <> 'owner' or app.current_member_role() = 'owner')
    and app.current_api_key_id() is null
  );
-- Keys are revoked, never deleted, so the activity log keeps naming them.
create policy api_keys_delete on app.api_keys for delete
  using (false);
-- For the SECURITY DEFINER functions below, which run as the owner (forced RLS binds it too).
create policy api_keys_definer on app.api_keys for all to tenantql_owner
  using (true) with check (true);

-- The API never reads secret_hash back: keys are found by hash only in the functions below.
grant select (tenant_id, id, name, role, prefix, created_by, created_at, expires_at, revoked_at,
              last_used_at)
  on app.api_keys to tenantql_api;
grant insert (tenant_id, id, name, role, prefix, secret_hash, created_by, expires_at)
  on app.api_keys to tenantql_api;
grant update (revoked_at) on app.api_keys to tenantql_api;
grant select (tenant_id, id, name, role, prefix, created_by, created_at, expires_at, revoked_at,
              last_used_at)
  on app.api_keys to tenantql_admin;

-- The context statement of an operation authenticated by an API key, the counterpart of
-- app.set_operation_context: one statement, sent with the operation's first read. It finds the
-- key by the hash of the presented secret and, when the key is live (not revoked, not expired,
-- its creator still a member of its tenant), makes the operation act as the creator in the key's
-- tenant with the lesser of the key's role and the creator's current role, and names the key in
-- app.api_key_id (the activity log records it). Otherwise it sets nothing:
--   session_revoked  the key is unknown, revoked or expired, or its creator left: UNAUTHENTICATED
--   tenant_refused   the request named another tenant than the key's: FORBIDDEN
-- A suspended tenant comes back with its status and no context set, like a member's would.
-- SECURITY DEFINER because no tenant is current yet to find the key under; set_config(…, true)
-- here sets the caller's transaction-local settings (they belong to the transaction, not to the
-- role the function runs as).
create function app.set_api_key_context(
  p_secret_hash bytea,
  p_tenant_id uuid,
  p_tenant_slug text,
  out tenant_id uuid,
  out tenant_slug text,
  out member_role text,
  out tenant_status text,
  out session_revoked boolean,
  out user_id uuid,
  out api_key_id uuid,
  out tenant_refused boolean
)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  ranks constant text[] := array['viewer', 'member', 'admin', 'owner'];
  k record;
  creator_role text;
begin
  session_revoked := true;
  tenant_refused := false;
  perform set_config('app.user_id', '', true),
          set_config('app.tenant_id', '', true),
          set_config('app.role', '', true),
          set_config('app.api_key_id', '', true);
  select a.tenant_id, a.id, a.role, a.created_by into k
    from app.api_keys a
   where a.secret_hash = p_secret_hash
     and a.revoked_at is null
     and (a.expires_at is null or a.expires_at > now())
     and a.created_by is not null;
  if not found then
    return;
  end if;
  -- The creator's own policies show their memberships and tenants once app.user_id names them.
  perform set_config('app.user_id', k.created_by::text, true);
  select t.slug, t.status, m.role into tenant_slug, tenant_status, creator_role
    from app.tenants t
    join app.memberships m on m.tenant_id = t.id and m.user_id = k.created_by
   where t.id = k.tenant_id;
  if creator_role is null then
    tenant_slug := null;
    tenant_status := null;
    perform set_config('app.user_id', '', true);
    return;
  end if;
  session_revoked := false;
  if (p_tenant_id is not null and p_tenant_id <> k.tenant_id)
     or (p_tenant_slug is not null and p_tenant_slug <> tenant_slug) then
    tenant_refused := true;
    tenant_slug := null;
    tenant_status := null;
    perform set_config('app.user_id', '', true);
    return;
  end if;
  tenant_id := k.tenant_id;
  user_id := k.created_by;
  api_key_id := k.id;
  member_role := ranks[least(array_position(ranks, k.role), array_position(ranks, creator_role))];
  if tenant_status = 'active' then
    perform set_config('app.tenant_id', tenant_id::text, true),
            set_config('app.role', member_role, true),
            set_config('app.api_key_id', api_key_id::text, true);
  else
    perform set_config('app.user_id', '', true);
  end if;
end
$$;

-- Last-use times, kept in the API's memory and written here in batches in a short transaction of
-- their own (operations run READ ONLY, and one write per request would cost a round trip and a
-- row lock). Moves last_used_at forward only, never past now().
create function app.record_api_key_use(
  p_tenant_ids uuid[],
  p_ids uuid[],
  p_used_at timestamptz[]
) returns void
  language sql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  update app.api_keys k
     set last_used_at = least(u.used_at, now())
    from unnest(p_tenant_ids, p_ids, p_used_at) as u (tenant_id, id, used_at)
   where k.tenant_id = u.tenant_id and k.id = u.id
     and (k.last_used_at is null or k.last_used_at < least(u.used_at, now()))
$$;

grant execute on function
  app.set_api_key_context(bytea, uuid, text),
  app.record_api_key_use(uuid[], uuid[], timestamptz[])
  to tenantql_api;

-- The activity log names the key behind a change: the column default reads the setting, like
-- actor_id's, so app.record_activity needs no change.
alter table app.activity
  add column api_key_id uuid default app.current_api_key_id(),
  add constraint activity_api_key_fkey foreign key (tenant_id, api_key_id)
    references app.api_keys (tenant_id, id);
create index activity_api_key_idx on app.activity (tenant_id, api_key_id, created_at desc)
  where api_key_id is not null;

-- NOTE: lists every entity type of 0011 plus API_KEY; a later migration adding a type must list
-- this one too.
alter table app.activity drop constraint activity_entity_type_valid;
alter table app.activity add constraint activity_entity_type_valid
  check (entity_type in ('PROJECT', 'TASK', 'COMMENT', 'MEMBERSHIP', 'API_KEY'));

-- Creating and revoking a key is recorded, labelled with the key's name. A key's other changes
-- (last use) are not activity.
create function app.record_api_key_activity() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, pg_temp
  as $$
begin
  if new.tenant_id is distinct from app.current_tenant_id() then
    return null;
  end if;
  if tg_op = 'INSERT' then
    insert into app.activity (tenant_id, entity_type, entity_id, action, label)
    values (new.tenant_id, 'API_KEY', new.id, 'CREATED', new.name);
  elsif old.revoked_at is null and new.revoked_at is not null then
    insert into app.activity (tenant_id, entity_type, entity_id, action, changed_fields, label)
    values (new.tenant_id, 'API_KEY', new.id, 'CHANGED', '{revoked_at}', new.name);
  end if;
  return null;
end
$$;
create trigger api_keys_activity after insert or update of revoked_at on app.api_keys
  for each row execute function app.record_api_key_activity();
