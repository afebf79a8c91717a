set local role tenantql_owner;

-- Citus computes a distributed statement's STABLE expressions on the coordinator, and refuses
-- one inside CASE or COALESCE ("non-IMMUTABLE functions are not allowed in CASE or COALESCE
-- statements"): `v_now + make_interval(…)` is one (timestamptz + interval depends on the time
-- zone), so recording a delivery's retry failed on a cluster and no delivery was ever recorded;
-- signing in with an identity provider failed on `coalesce(…, now())`. The values are computed
-- first, into variables, which reach the statement as parameters. Same meaning everywhere.

create or replace function app.record_notification_delivery(
  p_tenant_id uuid,
  p_id uuid,
  p_lease_token uuid,
  p_delivered boolean,
  p_http_status integer,
  p_error text,
  p_retry_after_ms integer
) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  v_now timestamptz := now();
  -- Null keeps the row's next_attempt_at (delivered, or given up).
  v_next timestamptz;
begin
  if p_retry_after_ms is not null then
    v_next := v_now + make_interval(secs => p_retry_after_ms / 1000.0);
  end if;
  update app.notification_deliveries d
     set status = case when p_delivered then 'delivered'
                       when p_retry_after_ms is null then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then v_now end,
         next_attempt_at = coalesce(v_next, d.next_attempt_at),
         last_http_status = p_http_status,
         last_error = case when p_delivered then null else left(p_error, 1000) end,
         lease_token = null,
         lease_expires_at = null
   where d.tenant_id = p_tenant_id and d.id = p_id and d.lease_token = p_lease_token;
  -- As the SQL version: true when the claim held the row, null (no row) otherwise.
  return case when found then true end;
end
$$;

create or replace function app.record_account_email(
  p_id uuid,
  p_lease_token uuid,
  p_delivered boolean,
  p_error text,
  p_retry_after_ms integer
) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  v_now timestamptz := now();
  v_next timestamptz;
begin
  if p_retry_after_ms is not null then
    v_next := v_now + make_interval(secs => p_retry_after_ms / 1000.0);
  end if;
  update app.account_emails e
     set status = case when p_delivered then 'delivered'
                       when p_retry_after_ms is null then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then v_now end,
         body = case when p_delivered or p_retry_after_ms is null then '' else e.body end,
         next_attempt_at = coalesce(v_next, e.next_attempt_at),
         last_error = case when p_delivered then null else left(p_error, 1000) end,
         lease_token = null,
         lease_expires_at = null
   where e.id = p_id and e.lease_token = p_lease_token;
  return case when found then true end;
end
$$;

-- As 0016 wrote it, with now() taken once.
create or replace function app.sign_in_external(
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
  v_now timestamptz := now();
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
      update app.users u set email_verified_at = coalesce(u.email_verified_at, v_now)
       where u.id = user_id;
      outcome := 'linked';
      exit;
    end if;
    user_id := gen_random_uuid();
    insert into app.users (id, email, name, password_hash, email_verified_at)
      values (user_id, p_email, p_name, null, case when verified then v_now end)
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

