import { sql, type RawBuilder } from 'kysely';

/**
 * `= anyId(ids)` matches any of the uuids as ONE array parameter, so a batch's statement text is
 * the same whatever its size and each connection prepares it once (`in (…)` makes a new
 * statement for every list length). A single id is compared as itself: PostgreSQL's generic plan
 * for `= any($1)` assumes an array of several ids, so on a database of many tenants every
 * execution of a prepared statement loading one row (project(id), the reference operation) was
 * planned afresh, which cost as much as running it.
 */
export function anyId(ids: readonly string[]): RawBuilder<string> {
  const [only] = ids;
  if (ids.length === 1 && only !== undefined) return sql<string>`${only}::uuid`;
  return sql<string>`any(${ids}::uuid[])`;
}
