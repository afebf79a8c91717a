set local role tenantql_owner;

-- Refresh tokens, one row per issued token. A sign-in starts a family; each rotation marks the
-- presented token used and issues the next one in the same family. Presenting a used or revoked
-- token revokes the whole family (RFC 9700 §4.14.2 refresh token rotation). The first token of a
-- family has id = family_id: rotation, reuse detection and logout lock that row first, so they
-- serialise per family and a revocation always sees tokens issued by a rotation it waited for.
-- Not tenant-owned: a refresh token belongs to a user, whichever tenant they work in.
create table app.refresh_tokens (
  user_id uuid not null references app.users (id) on delete cascade,
  id uuid not null,
  family_id uuid not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (user_id, id)
);
create index refresh_tokens_family_idx on app.refresh_tokens (user_id, family_id);
create index refresh_tokens_expires_idx on app.refresh_tokens (expires_at);

alter table app.refresh_tokens enable row level security;
alter table app.refresh_tokens force row level security;

-- Only the user a token belongs to, as set by the API after verifying the token's signature.
create policy refresh_tokens_select on app.refresh_tokens for select
  using (user_id = (select app.current_user_id()));
create policy refresh_tokens_insert on app.refresh_tokens for insert
  with check (user_id = (select app.current_user_id()));
create policy refresh_tokens_update on app.refresh_tokens for update
  using (user_id = (select app.current_user_id()))
  with check (user_id = (select app.current_user_id()));
create policy refresh_tokens_delete on app.refresh_tokens for delete
  using (user_id = (select app.current_user_id()));

grant select, insert, delete on app.refresh_tokens to tenantql_api;
-- A token is never re-pointed at another user or family; only its state changes.
grant update (used_at, revoked_at) on app.refresh_tokens to tenantql_api;
