set local role tenantql_owner;

-- A password reset wrote the same users row twice in one transaction: the address verification
-- inside app.consume_password_reset (SECURITY DEFINER, as tenantql_owner) and then the new hash
-- and tokens_valid_after as tenantql_api. On a Citus cluster users is a reference table and each
-- role reaches the workers over connections of its own, so the second write waited for the
-- first one's row lock in the same distributed transaction: "canceling the transaction since it
-- was involved in a distributed deadlock" (issue 16). This does all of a reset's users writes as
-- one role. Holding the token is what entitles the caller to set the password, as before.
create function app.reset_password(
  p_token_hash bytea,
  p_password_hash text,
  p_tokens_valid_after timestamptz
) returns table (reset_user_id uuid, reset_email text)
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  spent uuid := app.consume_password_reset(p_token_hash);
begin
  if spent is null then
    return;
  end if;
  return query
    update app.users u
       set password_hash = p_password_hash, tokens_valid_after = p_tokens_valid_after
     where u.id = spent
    returning u.id, u.email::text;
end
$$;
revoke all on function app.reset_password(bytea, text, timestamptz) from public;
grant execute on function app.reset_password(bytea, text, timestamptz) to tenantql_api;
