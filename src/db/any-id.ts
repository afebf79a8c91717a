import { sql, type RawBuilder } from 'kysely';

/**
 * `= anyId(ids)` matches any of the uuids as ONE array parameter, so a batch's statement text is
 * the same whatever its size and each connection prepares it once (`in (…)` makes a new
 * statement for every list length).
 */
export function anyId(ids: readonly string[]): RawBuilder<string> {
  return sql<string>`any(${ids}::uuid[])`;
}
