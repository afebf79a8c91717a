import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Tx } from './operation.js';

/** How a sort key is cast back from its cursor text. */
export type SortType = 'timestamptz' | 'text' | 'date';

export interface SortKey {
  /** An expression over the base query's output columns. */
  expression: RawBuilder<unknown>;
  type: SortType;
}

export type SortDirection = 'ASC' | 'DESC';

/** A position in a keyset order: the sort key as text, and the id that breaks ties. */
export interface Keyset {
  value: string;
  id: string;
}

export interface PageRequest {
  sort: SortKey;
  direction: SortDirection;
  first: number;
  after: Keyset | undefined;
  /** For one page per parent in one query (nested connections): the parent column. */
  partitionBy?: string;
}

/** What fetchPage adds to each row of the base query. */
export interface PageMeta {
  /** Rows of this partition matching the base query, ignoring the cursor. */
  total_count: string;
  /** Rows of this partition after the cursor. */
  remaining_count: string;
  /** False only on the marker row kept when nothing follows the cursor (carries total_count). */
  is_after: boolean;
  /** The sort key as text, for the next cursor. */
  sort_key: string;
}

const SORT_KEY_TEXT: Record<SortType, (e: RawBuilder<unknown>) => RawBuilder<string>> = {
  // Microseconds and UTC, so the key reads back exactly: Date would lose the microseconds and the
  // next page would repeat or skip rows created within the same millisecond.
  timestamptz: (e) =>
    sql<string>`to_char(${e} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
  text: (e) => sql<string>`${e}::text`,
  date: (e) => sql<string>`${e}::text`,
};

/**
 * One keyset page of `base` (or one page per `partitionBy` parent) in a single round trip, with the
 * total count and whether rows precede or follow the page. The cursor predicate is evaluated as a
 * column rather than a filter so the counts survive a cursor past the end.
 */
export async function fetchPage<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  // Any database view of the base (joins and aliases add tables to it); only its SQL is used.
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<(O & PageMeta)[]> {
  const { sort, direction, first, after, partitionBy } = page;
  const dir = sql.raw(direction === 'ASC' ? 'asc' : 'desc');
  const isAfter = after
    ? sql<boolean>`(${sort.expression}, id) ${sql.raw(direction === 'ASC' ? '>' : '<')}
        (${after.value}::${sql.raw(sort.type)}, ${after.id}::uuid)`
    : sql<boolean>`true`;
  const parent = partitionBy ? sql.ref(partitionBy) : undefined;
  const partition = parent ? sql`partition by ${parent}` : sql``;
  const pagePartition = parent ? sql`partition by ${parent}, is_after` : sql`partition by is_after`;
  const { rows } = await sql<O & PageMeta>`
    select * from (
      select m.*,
             count(*) over (${partition}) as total_count,
             count(*) filter (where is_after) over (${partition}) as remaining_count,
             row_number() over (${pagePartition} order by ${sort.expression} ${dir}, id ${dir})
               as page_row
        from (select f.*, ${isAfter} as is_after, ${SORT_KEY_TEXT[sort.type](sort.expression)} as sort_key
                from (${base}) f) m
    ) p
    where (is_after and page_row <= ${first})
       or (not is_after and remaining_count = 0 and page_row = 1)
    order by ${parent ? sql`${parent}, ` : sql``}is_after desc, page_row`.execute(trx);
  return rows;
}
