set local role tenantql_owner;

-- Citus 13.2 copies a RESTRICTIVE policy to the shards and workers as PERMISSIVE (and so does
-- citus_add_local_table_to_metadata on the coordinator): on a cluster the restrictive insert
-- policies of 0034 turned into grants. `api_keys_insert_api_columns` alone let an operation
-- running under an API key create keys, and `invitations_insert_api_columns` let any signed-in
-- caller insert an invitation into another tenant's shard as its own inviter.
--
-- Each restrictive condition moves into the permissive INSERT policy it narrowed, for the API
-- role only (`current_user`, which is the role the policy meets on every node), and the
-- restrictive policy goes. Same meaning on a single PostgreSQL; test/db/distributable.test.ts
-- now refuses restrictive policies.

alter policy tenants_insert on app.tenants
  with check (id = app.current_tenant_id() and app.current_member_role() = 'owner'
              and (current_user <> 'tenantql_api'
                   or (plan = 'free' and status = 'active' and max_members is null
                       and max_projects is null and max_tasks is null
                       and requests_per_minute is null)));
drop policy tenants_insert_api_columns on app.tenants;

alter policy users_insert on app.users
  with check (current_user <> 'tenantql_api'
              or (not is_platform_admin and email_verified_at is null
                  and tokens_valid_after = '-infinity'));
drop policy users_insert_api_columns on app.users;

alter policy invitations_insert on app.invitations
  with check (tenant_id = app.current_tenant_id() and app.is_tenant_admin()
              and (role <> 'owner' or app.current_member_role() = 'owner')
              and (current_user <> 'tenantql_api'
                   or (invited_by = app.current_user_id() and accepted_at is null
                       and accepted_by is null and revoked_at is null)));
drop policy invitations_insert_api_columns on app.invitations;

alter policy api_keys_insert on app.api_keys
  with check (tenant_id = app.current_tenant_id() and app.is_tenant_admin()
              and (role <> 'owner' or app.current_member_role() = 'owner')
              and created_by = app.current_user_id() and app.current_api_key_id() is null
              and (current_user <> 'tenantql_api'
                   or (revoked_at is null and last_used_at is null)));
drop policy api_keys_insert_api_columns on app.api_keys;

alter policy account_tokens_insert on app.account_tokens
  with check (user_id = app.current_user_id() and purpose = 'verify_email'
              and (current_user <> 'tenantql_api' or used_at is null));
drop policy account_tokens_insert_api_columns on app.account_tokens;

alter policy account_emails_insert on app.account_emails
  with check (status = 'pending' and attempts = 0
              and (current_user <> 'tenantql_api'
                   or (lease_token is null and lease_expires_at is null
                       and last_attempt_at is null and last_error is null
                       and delivered_at is null)));
drop policy account_emails_insert_api_columns on app.account_emails;
