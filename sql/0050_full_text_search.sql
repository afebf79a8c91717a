-- Runs in one transaction with its bookkeeping row: all of it applies, or none.
set local role tenantql_owner;

-- Full-text search over project names and descriptions, task titles and descriptions and comment
-- bodies (the `search` query). Each table gets a stored tsvector column and a GIN index leading
-- with tenant_id: btree_gin gives uuid a GIN operator class, so a search reads the posting lists
-- of its own tenant's rows instead of every tenant's matches and filtering them afterwards.
-- btree_gin is a trusted contrib extension (PostgreSQL 13+): tenantql_owner may create it, in a
-- schema of its own so that the app schema keeps holding only tenantql's objects.
create schema if not exists extensions;
create extension if not exists btree_gin schema extensions;

-- A generated column needs an immutable expression, so the vectors name a text search
-- configuration rather than a setting read at run time. Queries name the same one, so documents
-- and queries always agree. SEARCH_LANGUAGE picks its dictionaries (app.set_search_language,
-- applied by the migrator); 'simple' until then: no stemming and no stop words, right for any
-- language a tenant writes in.
create text search configuration app.search (copy = pg_catalog.simple);

-- The columns and their indexes, (re)built from their one definition: here, and again after the
-- language changes (the vectors must be recomputed; dropping and adding the column rewrites the
-- table without firing row triggers or needing to see past RLS).
create function app.build_search_columns() returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
begin
  alter table app.projects drop column if exists search_vector;
  alter table app.projects add column search_vector tsvector generated always as (
    setweight(to_tsvector('app.search'::regconfig, name), 'A')
    || setweight(to_tsvector('app.search'::regconfig, description), 'B')
  ) stored;
  create index projects_search_idx on app.projects using gin (tenant_id, search_vector);

  alter table app.tasks drop column if exists search_vector;
  alter table app.tasks add column search_vector tsvector generated always as (
    setweight(to_tsvector('app.search'::regconfig, title), 'A')
    || setweight(to_tsvector('app.search'::regconfig, description), 'B')
  ) stored;
  create index tasks_search_idx on app.tasks using gin (tenant_id, search_vector);

  alter table app.comments drop column if exists search_vector;
  alter table app.comments add column search_vector tsvector generated always as (
    setweight(to_tsvector('app.search'::regconfig, body), 'B')
  ) stored;
  create index comments_search_idx on app.comments using gin (tenant_id, search_vector);
end
$$;

select app.build_search_columns();

-- Makes app.search map words as the built-in configuration `language` does ('english',
-- 'german', 'simple' …) and rebuilds the vectors. False, and nothing done, when it already does.
-- Only the migrator calls it (as tenantql_owner): it takes an exclusive lock on the three tables
-- while they are rewritten.
create function app.set_search_language(language regconfig) returns boolean
  language plpgsql
  set search_path = pg_catalog, pg_temp
  as $$
declare
  target oid := 'app.search'::regconfig;
  token record;
begin
  if (select cfgparser from pg_ts_config where oid = language)
     is distinct from (select cfgparser from pg_ts_config where oid = target) then
    raise exception 'text search configuration % uses another parser than app.search', language
      using errcode = 'invalid_parameter_value';
  end if;
  if not exists (
    (select maptokentype, mapseqno, mapdict from pg_ts_config_map where mapcfg = language
     except
     select maptokentype, mapseqno, mapdict from pg_ts_config_map where mapcfg = target)
    union all
    (select maptokentype, mapseqno, mapdict from pg_ts_config_map where mapcfg = target
     except
     select maptokentype, mapseqno, mapdict from pg_ts_config_map where mapcfg = language)
  ) then
    return false;
  end if;
  for token in
    select t.alias,
           (select string_agg(m.mapdict::regdictionary::text, ', ' order by m.mapseqno)
              from pg_ts_config_map m
             where m.mapcfg = language and m.maptokentype = t.tokid) as dictionaries
      from ts_token_type((select cfgparser from pg_ts_config where oid = target)) t
  loop
    execute format('alter text search configuration app.search drop mapping if exists for %I',
                   token.alias);
    if token.dictionaries is not null then
      execute format('alter text search configuration app.search add mapping for %I with %s',
                     token.alias, token.dictionaries);
    end if;
  end loop;
  perform app.build_search_columns();
  return true;
end
$$;

-- The activity log lists the columns an update changed: a recomputed vector is not one of them.
-- (As sql/0034, with search_vector left out of `changed`.)
create or replace function app.record_activity() returns trigger
  language plpgsql security definer
  set search_path = pg_catalog, pg_temp
  as $$
declare
  entity text := tg_argv[0];
  after_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) - 'search_vector' end;
  before_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) - 'search_vector' end;
  subject jsonb := coalesce(after_row, before_row);
  tenant uuid := (subject ->> 'tenant_id')::uuid;
  changed text[] := '{}';
  v_entity_id uuid;
  v_action text;
  v_label text;
begin
  if tenant is distinct from app.current_tenant_id() then
    return null;
  end if;
  if tg_op = 'DELETE' then
    if not exists (select 1 from app.tenants t where t.id = tenant)
       or (entity = 'TASK' and not exists (
             select 1 from app.projects p
              where p.tenant_id = tenant and p.id = (subject ->> 'project_id')::uuid))
       or (entity = 'COMMENT' and not exists (
             select 1 from app.tasks x
              where x.tenant_id = tenant and x.id = (subject ->> 'task_id')::uuid))
       -- An account deleting itself takes its memberships along.
       or (entity = 'MEMBERSHIP' and not exists (
             select 1 from app.users u where u.id = (subject ->> 'user_id')::uuid)) then
      return null;
    end if;
  elsif tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(after_row) n
     where n.key <> 'updated_at' and n.value is distinct from before_row -> n.key;
    if cardinality(changed) = 0 then
      return null;
    end if;
  end if;
  if entity = 'MEMBERSHIP' then
    v_entity_id := (subject ->> 'user_id')::uuid;
    v_label := subject ->> 'role';
  else
    v_entity_id := (subject ->> 'id')::uuid;
    if entity = 'PROJECT' then
      v_label := subject ->> 'name';
    elsif entity = 'TASK' then
      v_label := subject ->> 'title';
    end if;
  end if;
  if tg_op = 'INSERT' then
    v_action := 'CREATED';
  elsif tg_op = 'UPDATE' then
    v_action := 'CHANGED';
  else
    v_action := 'DELETED';
  end if;
  insert into app.activity (tenant_id, entity_type, entity_id, action, changed_fields, label)
  values (tenant, entity, v_entity_id, v_action, changed, v_label);
  return null;
end
$$;
