set local role tenantql_owner;

-- An account created from an identity provider's token has no password. app.find_login returns a
-- null hash for it, which login answers like an unknown email.
alter table app.users alter column password_hash drop not null;

-- Which identity provider account (issuer, subject) is which tenantql user. A platform table:
-- identities belong to users, not to tenants, and carry no tenant at all.
create table app.external_identities (
  issuer text not null
    constraint external_identities_issuer_length check (length(issuer) between 1 and 2000),
  subject text not null
    constraint external_identities_subject_length check (length(subject) between 1 and 255),
  user_id uuid not null references app.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (issuer, subject)
);
create index external_identities_user_idx on app.external_identities (user_id);

alter table app.external_identities enable row level security;
alter table app.external_identities force row level security;

-- A user sees their own identities. Rows are written only by app.sign_in_external (the API role
-- has no write grant), which acts as the user it links while it inserts.
create policy external_identities_select on app.external_identities for select
  using (user_id = (select app.current_user_id()));
create policy external_identities_insert on app.external_identities for insert
  with check (user_id = (select app.current_user_id()));
-- An identity never moves to another user.
create policy external_identities_update on app.external_identities for update
  using (false);
create policy external_identities_delete on app.external_identities for delete
  using (user_id = (select app.current_user_id()));
-- Like users_select_definer_lookups: lets app.sign_in_external find an identity by (issuer,
-- subject) before anyone is signed in.
create policy external_identities_select_definer_lookups on app.external_identities for select
  to tenantql_owner using (true);

grant select on app.external_identities to tenantql_api;

-- The first token of an identity provider account: find its user, link it to an existing account,
-- or create one. The API verified the token (signature, issuer, audience, expiry) before calling;
-- what it passes here are that token's claims. Outcomes:
--   existing          the identity was known
--   linked            a verified email matched an account, which is now linked and verified
--   created           no account had the email: a new one without a password
--   email_unverified  an account has this email but the provider did not verify it: nothing is
--                     linked or created (linking would hand that account to whoever can make an
--                     unverified address appear in a token; creating needs the email, which is
--                     unique). The person verifies it at the provider, or signs in by password.
--   no_email          the token has no usable email, which a new account needs
-- SECURITY DEFINER because it must look across users nobody is signed in as yet; it does nothing
-- else. It inserts the identity as the linked user (app.user_id), which external_identities_insert
-- requires, and restores the caller's app.user_id; marking the email verified relies on
-- users_update_definer (0014), like app.verify_email.
create function app.sign_in_external(
  p_issuer text,
  p_subject text,
  p_email text,
  p_email_verified boolean,
  p_name text,
  out user_id uuid,
  out outcome text
)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  caller text := current_setting('app.user_id', true);
  verified boolean := coalesce(p_email_verified, false);
begin
  -- Two first tokens of one subject at once take turns, so only one of them creates a user.
  perform pg_advisory_xact_lock(hashtextextended('external identity ' || p_issuer || ' ' || p_subject, 0));
  select i.user_id into user_id
    from app.external_identities i where i.issuer = p_issuer and i.subject = p_subject;
  if found then
    outcome := 'existing';
    return;
  end if;
  if p_email is null then
    outcome := 'no_email';
    return;
  end if;
  loop
    select u.id into user_id from app.users u where u.email = p_email;
    if found then
      if not verified then
        user_id := null;
        outcome := 'email_unverified';
        return;
      end if;
      perform set_config('app.user_id', user_id::text, true);
      update app.users u set email_verified_at = coalesce(u.email_verified_at, now())
       where u.id = user_id;
      outcome := 'linked';
      exit;
    end if;
    user_id := gen_random_uuid();
    insert into app.users (id, email, name, password_hash, email_verified_at)
      values (user_id, p_email, p_name, null, case when verified then now() end)
      on conflict (email) do nothing;
    if found then
      perform set_config('app.user_id', user_id::text, true);
      outcome := 'created';
      exit;
    end if;
    -- A sign-up took this email a moment ago: decide again with that account in place.
  end loop;
  insert into app.external_identities (issuer, subject, user_id)
    values (p_issuer, p_subject, user_id);
  perform set_config('app.user_id', coalesce(caller, ''), true);
end
$$;

grant execute on function app.sign_in_external(text, text, text, boolean, text) to tenantql_api;
