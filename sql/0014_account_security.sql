set local role tenantql_owner;

-- Identity that cannot cross a tenant boundary. An email address reaches an account (invitations,
-- provisioning, platform-admin grants) only once someone proved they read its mail; a password
-- change, reset or "sign out everywhere" kills every token issued before it, at the next
-- operation. Accounts that exist when this migration runs start unverified: an address typed at
-- sign-up was never proven, and trusting it now would keep the takeover path open.
alter table app.users
  add column email_verified_at timestamptz,
  -- Access tokens issued before this time are refused by app.set_operation_context.
  add column tokens_valid_after timestamptz not null default '-infinity';

-- A changed address is unproven until verified again. tokens_valid_after only moves forward, so
-- nothing the API role can write brings a revoked token back to life.
create function app.guard_account_columns() returns trigger
  language plpgsql
  as $$
begin
  if new.email is distinct from old.email then
    new.email_verified_at := null;
  end if;
  new.tokens_valid_after := greatest(old.tokens_valid_after, new.tokens_valid_after);
  return new;
end
$$;
create trigger users_guard_account_columns before update on app.users
  for each row execute function app.guard_account_columns();

grant select (email_verified_at, tokens_valid_after) on app.users to tenantql_api, tenantql_admin;
-- email_verified_at is written only by the SECURITY DEFINER functions below, which prove the
-- address first; the API role may only push its own tokens_valid_after forward.
grant update (tokens_valid_after) on app.users to tenantql_api;
-- Those functions run as the owner, which the forced policies bind too.
create policy users_update_definer on app.users for update to tenantql_owner
  using (true) with check (true);

-- The context statement now also refuses an access token issued before tokens_valid_after, one of
-- a deleted account, and one whose sign-in (refresh-token family, the token's `sid`) was logged
-- out or revoked, in the same round trip: session_revoked tells the API to answer
-- UNAUTHENTICATED, and no user, tenant or role is left set for anything sent along with it.
drop function app.set_operation_context(uuid, uuid, text);
create function app.set_operation_context(
  p_user_id uuid,
  p_tenant_id uuid,
  p_tenant_slug text,
  -- Null for callers without an access token (tools, the seed).
  p_token_issued_at timestamptz default null,
  p_session_id uuid default null,
  out tenant_id uuid,
  out tenant_slug text,
  out member_role text,
  out tenant_status text,
  out session_revoked boolean
)
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
begin
  session_revoked := false;
  perform set_config('app.user_id', coalesce(p_user_id::text, ''), true),
          set_config('app.tenant_id', '', true),
          set_config('app.role', '', true);
  if p_user_id is not null and p_token_issued_at is not null then
    -- RLS lets a user read their own rows, and app.user_id names them now.
    select coalesce(u.tokens_valid_after > p_token_issued_at, true)
           or (p_session_id is not null
               and not exists (select 1 from app.refresh_tokens r
                                where r.user_id = p_user_id and r.id = p_session_id
                                  and r.revoked_at is null))
      into session_revoked
      from (select 1) one
      left join app.users u on u.id = p_user_id;
    if session_revoked then
      perform set_config('app.user_id', '', true);
      return;
    end if;
  end if;
  if p_user_id is null or (p_tenant_id is null and p_tenant_slug is null) then
    return;
  end if;
  select t.id, t.slug, m.role, t.status into tenant_id, tenant_slug, member_role, tenant_status
    from app.memberships m
    join app.tenants t on t.id = m.tenant_id
   where m.user_id = p_user_id
     and (p_tenant_id is null or t.id = p_tenant_id)
     and (p_tenant_slug is null or t.slug = p_tenant_slug);
  if member_role is not null and tenant_status = 'active' then
    perform set_config('app.tenant_id', tenant_id::text, true),
            set_config('app.role', member_role, true);
  end if;
end
$$;
grant execute on function app.set_operation_context(uuid, uuid, text, timestamptz, uuid)
  to tenantql_api;

-- One-time tokens mailed to prove an address (verify_email) or to set a new password
-- (reset_password). Only a SHA-256 of the token is stored, so a copy of the table opens nothing;
-- `email` is the address the token was sent to: it proves that address only while the account
-- still has it.
create table app.account_tokens (
  token_hash bytea primary key constraint account_tokens_hash_length check (length(token_hash) = 32),
  user_id uuid not null references app.users (id) on delete cascade,
  purpose text not null constraint account_tokens_purpose_valid
    check (purpose in ('verify_email', 'reset_password')),
  email text not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);
create index account_tokens_user_idx on app.account_tokens (user_id, purpose);
create index account_tokens_expires_idx on app.account_tokens (expires_at);

alter table app.account_tokens enable row level security;
alter table app.account_tokens force row level security;
-- A signed-in user issues verification tokens for themselves; nobody reads or spends a token
-- through the API role: the functions below do, as the owner.
create policy account_tokens_insert on app.account_tokens for insert
  with check (user_id = app.current_user_id() and purpose = 'verify_email');
create policy account_tokens_select on app.account_tokens for select
  using (false);
create policy account_tokens_update on app.account_tokens for update
  using (false);
create policy account_tokens_delete on app.account_tokens for delete
  using (false);
create policy account_tokens_definer on app.account_tokens for all to tenantql_owner
  using (true) with check (true);

-- Select too, so a query over every table answers "no rows" here rather than an error; the
-- policy above shows none.
grant select, insert (token_hash, user_id, purpose, email, expires_at) on app.account_tokens
  to tenantql_api;

-- Account emails (verification, password reset, invitations) wait here until the delivery worker
-- sends them, like notification deliveries: written in the transaction that decided to send, so
-- a rolled-back operation sends nothing, and sent after commit, so no request waits on SMTP (and
-- none answers faster or slower for an address that has no account). Not tenant-owned: most
-- concern an account, not a tenant. The body carries a one-time link, so it is blanked once the
-- email is delivered or given up.
create table app.account_emails (
  id uuid primary key default gen_random_uuid(),
  kind text not null constraint account_emails_kind_valid
    check (kind in ('VERIFY_EMAIL', 'PASSWORD_RESET', 'INVITATION')),
  recipient text not null constraint account_emails_recipient_length
    check (length(recipient) between 3 and 254),
  subject text not null,
  body text not null,
  status text not null default 'pending' constraint account_emails_status_valid
    check (status in ('pending', 'delivered', 'dead')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  lease_token uuid,
  lease_expires_at timestamptz,
  last_attempt_at timestamptz,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now()
);
create index account_emails_due_idx on app.account_emails (next_attempt_at)
  where status = 'pending';
create index account_emails_created_idx on app.account_emails (created_at);

alter table app.account_emails enable row level security;
alter table app.account_emails force row level security;
-- The API queues emails and can read none back (not even its own): the table holds other
-- people's one-time links.
create policy account_emails_insert on app.account_emails for insert
  with check (status = 'pending' and attempts = 0);
create policy account_emails_select on app.account_emails for select
  using (false);
create policy account_emails_update on app.account_emails for update
  using (false);
create policy account_emails_delete on app.account_emails for delete
  using (false);
create policy account_emails_definer on app.account_emails for all to tenantql_owner
  using (true) with check (true);

grant select, insert (kind, recipient, subject, body) on app.account_emails to tenantql_api;

create function app.wake_delivery_worker() returns trigger
  language plpgsql
  as $$
begin
  -- Delivered at commit, never before: a worker woken by it finds the rows committed.
  perform pg_notify('tenantql_deliveries', '');
  return null;
end
$$;
create trigger account_emails_wake after insert on app.account_emails
  for each statement execute function app.wake_delivery_worker();

-- Spends a verification token: marks it used and the account's address verified, when the token
-- is unused, unexpired and the account still has the address it was sent to. Returns the
-- account's id, or null for any token that does not qualify (which one is not said).
create function app.verify_email(p_token_hash bytea) returns uuid
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  spent app.account_tokens;
begin
  update app.account_tokens t set used_at = now()
   where t.token_hash = p_token_hash and t.purpose = 'verify_email'
     and t.used_at is null and t.expires_at > now()
  returning t.* into spent;
  if spent.user_id is null then
    return null;
  end if;
  update app.users u set email_verified_at = coalesce(u.email_verified_at, now())
   where u.id = spent.user_id and u.email = spent.email;
  if not found then
    return null;
  end if;
  return spent.user_id;
end
$$;

-- Issues a password-reset token for the account with this address, if there is one, and queues
-- the email that carries it; for an unknown address it does nothing. Either way it returns
-- nothing, in one statement, so the caller's answer and timing say nothing about the address.
create function app.request_password_reset(
  p_email text,
  p_token_hash bytea,
  p_expires_at timestamptz,
  p_subject text,
  p_body text
) returns void
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  account uuid;
begin
  select u.id into account from app.users u where u.email = p_email;
  if account is null then
    return;
  end if;
  insert into app.account_tokens (token_hash, user_id, purpose, email, expires_at)
  values (p_token_hash, account, 'reset_password', p_email, p_expires_at);
  insert into app.account_emails (kind, recipient, subject, body)
  values ('PASSWORD_RESET', p_email, p_subject, p_body);
end
$$;

-- Spends a password-reset token and every other unspent reset token of its account. Returns the
-- account's id (the caller then acts as it to set the password), or null. Reading the mail proves
-- the address, so an account that still has it counts as verified from now on.
create function app.consume_password_reset(p_token_hash bytea) returns uuid
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  spent app.account_tokens;
begin
  update app.account_tokens t set used_at = now()
   where t.token_hash = p_token_hash and t.purpose = 'reset_password'
     and t.used_at is null and t.expires_at > now()
  returning t.* into spent;
  if spent.user_id is null then
    return null;
  end if;
  update app.account_tokens t set used_at = now()
   where t.user_id = spent.user_id and t.purpose = 'reset_password' and t.used_at is null;
  update app.users u set email_verified_at = coalesce(u.email_verified_at, now())
   where u.id = spent.user_id and u.email = spent.email;
  return spent.user_id;
end
$$;

-- After a password change: reset links already mailed must not undo it.
create function app.spend_password_resets() returns void
  language sql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  update app.account_tokens t set used_at = now()
   where t.user_id = app.current_user_id() and t.purpose = 'reset_password' and t.used_at is null
$$;

grant execute on function
  app.verify_email(bytea), app.request_password_reset(text, bytea, timestamptz, text, text),
  app.consume_password_reset(bytea), app.spend_password_resets()
  to tenantql_api;

-- The worker's two functions for account emails, as for notification deliveries (0012).
create function app.claim_account_emails(
  p_limit integer,
  p_lease_seconds integer,
  p_max_attempts integer
)
  returns table (id uuid, lease_token uuid, kind text, attempt integer, recipient text,
                 subject text, body text)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
#variable_conflict use_column
declare
  token uuid := gen_random_uuid();
begin
  update app.account_emails e
     set status = 'dead', lease_token = null, lease_expires_at = null, body = '',
         last_error = coalesce(e.last_error, 'the worker stopped during the last attempt')
   where e.status = 'pending' and e.attempts >= p_max_attempts
     and e.lease_expires_at < now();

  return query
  with due as (
    select e.id
      from app.account_emails e
     where e.status = 'pending' and e.next_attempt_at <= now()
       and e.attempts < p_max_attempts
       and (e.lease_expires_at is null or e.lease_expires_at < now())
     order by e.next_attempt_at
     limit p_limit
       for update skip locked
  )
  update app.account_emails e
     set lease_token = token,
         lease_expires_at = now() + make_interval(secs => p_lease_seconds),
         attempts = e.attempts + 1,
         last_attempt_at = now()
    from due
   where e.id = due.id
  returning e.id, token, e.kind, e.attempts, e.recipient, e.subject, e.body;
end
$$;

create function app.record_account_email(
  p_id uuid,
  p_lease_token uuid,
  p_delivered boolean,
  p_error text,
  p_retry_after_ms integer
) returns boolean
  language sql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  update app.account_emails e
     set status = case when p_delivered then 'delivered'
                       when p_retry_after_ms is null then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then now() end,
         body = case when p_delivered or p_retry_after_ms is null then '' else e.body end,
         next_attempt_at = case when p_retry_after_ms is null then e.next_attempt_at
                                else now() + make_interval(secs => p_retry_after_ms / 1000.0) end,
         last_error = case when p_delivered then null else left(p_error, 1000) end,
         lease_token = null,
         lease_expires_at = null
   where e.id = p_id and e.lease_token = p_lease_token
  returning true
$$;

grant execute on function
  app.claim_account_emails(integer, integer, integer),
  app.record_account_email(uuid, uuid, boolean, text, integer)
  to tenantql_worker;

-- Single-tenant deployments: whoever signs up first no longer becomes the owner (the first
-- request to a fresh server would win it). Everyone joins as a member; operators make the owner
-- with `npm run admin:owner -- <email>`.
create or replace function app.enroll_in_open_tenant(p_tenant_id uuid) returns text
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
declare
  caller uuid := app.current_user_id();
  previous_tenant text := current_setting('app.tenant_id', true);
  previous_role text := current_setting('app.role', true);
  open boolean;
begin
  if caller is null then
    raise exception 'joining a tenant requires a signed-in user' using errcode = 'insufficient_privilege';
  end if;
  -- The membership policies let an admin add members; for this one insert the caller acts as one.
  perform set_config('app.tenant_id', p_tenant_id::text, true), set_config('app.role', 'admin', true);
  select coalesce((t.settings ->> 'openEnrollment')::boolean, false) into open
    from app.tenants t where t.id = p_tenant_id;
  if not coalesce(open, false) then
    raise exception 'tenant % is not open for enrollment', p_tenant_id
      using errcode = 'insufficient_privilege';
  end if;
  insert into app.memberships (tenant_id, user_id, role) values (p_tenant_id, caller, 'member');
  perform set_config('app.tenant_id', coalesce(previous_tenant, ''), true),
          set_config('app.role', coalesce(previous_role, ''), true);
  return 'member';
end
$$;
