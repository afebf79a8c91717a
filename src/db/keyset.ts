import { sql, type OperationNodeSource, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Tx } from './operation.js';
import { anyId } from './any-id.js';

/** How a sort key is cast back from its cursor text. */
export type SortType = 'timestamptz' | 'text' | 'date';

export interface SortKey {
  /** An expression over the base query's output columns, written without a table qualifier. */
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
}

/** What fetchPage adds to each row of the base query: the sort key as text, for its cursor. */
export interface PageMeta {
  sort_key: string;
}

/** One page of a list, with what the page alone cannot tell computed only when asked. */
export interface Page<R> {
  rows: (R & PageMeta)[];
  hasNextPage: boolean;
  /** Whether rows precede the cursor; false without one. */
  hasPreviousPage: boolean;
  /** Rows of the whole list; counted by its own query on first call, since most pages never ask. */
  count: () => Promise<number>;
}

/** The column that ties each row of a nested list to its parent, and the parents asked for. */
export interface PageParents {
  column: string;
  ids: readonly string[];
}

const SORT_KEY_TEXT: Record<SortType, (e: RawBuilder<unknown>) => RawBuilder<string>> = {
  // Microseconds and UTC, so the key reads back exactly: Date would lose the microseconds and the
  // next page would repeat or skip rows created within the same millisecond.
  timestamptz: (e) =>
    sql<string>`to_char(${e} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
  text: (e) => sql<string>`${e}::text`,
  date: (e) => sql<string>`${e}::text`,
};

function ordering({ sort, direction, after }: PageRequest) {
  const dir = sql.raw(direction === 'ASC' ? 'asc' : 'desc');
  const isAfter = after
    ? sql<boolean>`(${sort.expression}, id) ${sql.raw(direction === 'ASC' ? '>' : '<')}
        (${after.value}::${sql.raw(sort.type)}, ${after.id}::uuid)`
    : sql<boolean>`true`;
  return { orderBy: sql`${sort.expression} ${dir}, id ${dir}`, isAfter };
}

/**
 * The rows of one page after the cursor, in order, one more than asked for to tell whether more
 * follow: an index range scan that stops early however long the list. `parent` narrows the list
 * to one parent's rows (an expression of the enclosing query).
 */
function pageRows(
  base: OperationNodeSource,
  page: PageRequest,
  parent?: ParentFilter,
): RawBuilder<unknown> {
  const { orderBy, isAfter } = ordering(page);
  const row = sql.table('f');
  const ofParent = parent ? sql`${row}.${sql.ref(parent.column)} = ${parent.id} and ` : sql``;
  const sortKey = SORT_KEY_TEXT[page.sort.type](page.sort.expression);
  return sql`
    select ${row}.*, ${sortKey} as sort_key
      from (${base}) ${row}
     where ${ofParent}${isAfter}
     order by ${orderBy}
     limit ${page.first + 1}`;
}

interface ParentFilter {
  column: string;
  id: RawBuilder<unknown>;
}

/** Whether rows precede the cursor (in the parent's list); false without a cursor. */
function rowsBefore(base: OperationNodeSource, page: PageRequest, parent?: ParentFilter) {
  if (!page.after) return sql<boolean>`false`;
  const ofParent = parent ? sql`b.${sql.ref(parent.column)} = ${parent.id} and ` : sql``;
  return sql<boolean>`exists (select from (${base}) b where ${ofParent}not ${ordering(page).isAfter})`;
}

/** A page from the rows fetched for it: one more than asked for tells whether more follow. */
function toPage<R>(
  rows: (R & PageMeta)[],
  first: number,
  hasPreviousPage: boolean,
  count: () => Promise<number>,
): Page<R> {
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first, hasPreviousPage, count };
}

/** Counts of a list per parent, all parents in one statement on first call. */
export function countsPerParent(
  trx: Tx,
  base: OperationNodeSource,
  column: string,
  ids: readonly string[],
): (id: string) => Promise<number> {
  let counted: Promise<Map<string, number>> | undefined;
  const countAll = () =>
    (counted ??= sql<{ page_parent: string; count: string }>`
      select f.${sql.ref(column)} as page_parent, count(*)
        from (${base}) f
       where f.${sql.ref(column)} = ${anyId(ids)}
       group by 1`
      .execute(trx)
      .then(({ rows }) => new Map(rows.map((row) => [row.page_parent, Number(row.count)]))));
  return async (id) => (await countAll()).get(id) ?? 0;
}

/**
 * One keyset page of `base` with an index-ordered LIMIT.
 * The total is counted by its own query the first time a client asks for it, or with `countNow`
 * in this same statement (for transactions that end before the response is built: the audited
 * admin ones, where a count asked for later would find them closed).
 */
export async function fetchPage<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  // Any database view of the base (joins and aliases add tables to it); only its SQL is used.
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  options: { countNow?: boolean } = {},
): Promise<Page<O>> {
  const total = options.countNow ? sql`(select count(*) from (${base}) c)` : sql`null`;
  // Past the end the page is empty, so whether rows precede the cursor comes from a row of its own.
  const { rows: found } = await sql<
    O & PageMeta & { has_previous: boolean; total_count: string | null }
  >`
    select r.*, m.has_previous, m.total_count
      from (select ${rowsBefore(base, page)} as has_previous, ${total} as total_count) m
      left join lateral (${pageRows(base, page)}) r on true`.execute(trx);
  const head = found[0];
  let counted =
    typeof head?.total_count === 'string' ? Promise.resolve(Number(head.total_count)) : undefined;
  return toPage(
    found.filter((row) => row.id !== null),
    page.first,
    head?.has_previous ?? false,
    () =>
      (counted ??= sql<{ count: string }>`select count(*) from (${base}) f`
        .execute(trx)
        .then(({ rows: [row] }) => Number(row?.count ?? 0))),
  );
}

/**
 * The same page of a nested list for each of several parents in one statement (Project.tasks for
 * every project of an operation): a LATERAL page per parent, each stopping after `first + 1` rows
 * of its own. Pages come back in the order of
 * `parents.ids`; `base` must not filter by parent.
 */
export async function fetchPages<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  parents: PageParents,
): Promise<Page<O>[]> {
  if (parents.ids.length === 0) return [];
  const parent = { column: parents.column, id: sql.ref('p.page_parent') };
  // The parent's columns are named so that the sort expression's bare names find the page's row.
  const { rows: found } = await sql<O & PageMeta & { page_parent: string; has_previous: boolean }>`
    select p.page_parent, m.has_previous, r.*
      from unnest(${parents.ids}::uuid[]) with ordinality as p (page_parent, page_position)
     cross join lateral (select ${rowsBefore(base, page, parent)} as has_previous) m
      left join lateral (${pageRows(base, page, parent)}) r on true
     order by p.page_position, ${ordering(page).orderBy}`.execute(trx);
  const byParent = new Map<string, (O & PageMeta)[]>(parents.ids.map((id) => [id, []]));
  const previousByParent = new Map<string, boolean>();
  for (const row of found) {
    previousByParent.set(row.page_parent, row.has_previous);
    if (row.id !== null) byParent.get(row.page_parent)?.push(row);
  }
  const count = countsPerParent(trx, base, parents.column, parents.ids);
  return parents.ids.map((id) =>
    toPage(byParent.get(id) ?? [], page.first, previousByParent.get(id) ?? false, () => count(id)),
  );
}
