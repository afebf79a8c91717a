import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Tx } from './operation.js';

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
 * One keyset page of `base`: the rows after the cursor in order, one more than asked for to tell
 * whether more follow (an index range scan that stops early, however long the list).
 */
export async function fetchPage<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  // Any database view of the base (joins and aliases add tables to it); only its SQL is used.
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<Page<O>> {
  const { orderBy, isAfter } = ordering(page);
  const rows = sql<O & PageMeta & { has_previous?: boolean }>`
    select f.*, ${SORT_KEY_TEXT[page.sort.type](page.sort.expression)} as sort_key
      from (${base}) f
     where ${isAfter}
     order by ${orderBy}
     limit ${page.first + 1}`;
  // Past the end the page is empty, so whether rows precede the cursor comes from a row of its own.
  const { rows: found } = page.after
    ? await sql<O & PageMeta & { has_previous: boolean }>`
        select r.*, m.has_previous
          from (select exists (select from (${base}) b where not ${isAfter}) as has_previous) m
          left join lateral (${rows}) r on true`.execute(trx)
    : await rows.execute(trx);
  const hasPreviousPage = found[0]?.has_previous ?? false;
  const present = found.filter((row) => row.id !== null);
  let counted: Promise<number> | undefined;
  return {
    rows: present.slice(0, page.first),
    hasNextPage: present.length > page.first,
    hasPreviousPage,
    count: () =>
      (counted ??= sql<{ count: string }>`select count(*) from (${base}) f`
        .execute(trx)
        .then(({ rows: [row] }) => Number(row?.count ?? 0))),
  };
}

/**
 * The same page of a nested list for each of several parents in one query (Project.tasks for
 * every project of an operation): a LATERAL page per parent, so each stops after `first + 1` rows
 * of its own. Pages come back in the order of `parents.ids`; `base` must not filter by parent.
 */
export async function fetchPages<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  parents: PageParents,
): Promise<Page<O>[]> {
  if (parents.ids.length === 0) return [];
  const { orderBy, isAfter } = ordering(page);
  const column = sql.ref(parents.column);
  const previous = page.after
    ? sql`exists (select from (${base}) b where b.${column} = p.page_parent and not ${isAfter})`
    : sql`false`;
  // The parent's columns are named so that the sort expression's bare names find the page's row.
  const { rows: found } = await sql<O & PageMeta & { page_parent: string; has_previous: boolean }>`
    select p.page_parent, m.has_previous, r.*
      from unnest(${parents.ids}::uuid[]) with ordinality as p (page_parent, page_position)
     cross join lateral (select ${previous} as has_previous) m
      left join lateral (
        select f.*, ${SORT_KEY_TEXT[page.sort.type](page.sort.expression)} as sort_key
          from (${base}) f
         where f.${column} = p.page_parent and ${isAfter}
         order by ${orderBy}
         limit ${page.first + 1}
      ) r on true
     order by p.page_position, ${orderBy}`.execute(trx);
  const byParent = new Map<string, (O & PageMeta)[]>(parents.ids.map((id) => [id, []]));
  const previousByParent = new Map<string, boolean>();
  for (const row of found) {
    previousByParent.set(row.page_parent, row.has_previous);
    if (row.id !== null) byParent.get(row.page_parent)?.push(row);
  }
  let counted: Promise<Map<string, number>> | undefined;
  const countAll = () =>
    (counted ??= sql<{ page_parent: string; count: string }>`
      select f.${column} as page_parent, count(*)
        from (${base}) f
       where f.${column} = any(${parents.ids}::uuid[])
       group by 1`
      .execute(trx)
      .then(({ rows }) => new Map(rows.map((row) => [row.page_parent, Number(row.count)]))));
  return parents.ids.map((id) => {
    const rows = byParent.get(id) ?? [];
    return {
      rows: rows.slice(0, page.first),
      hasNextPage: rows.length > page.first,
      hasPreviousPage: previousByParent.get(id) ?? false,
      count: async () => (await countAll()).get(id) ?? 0,
    };
  });
}

/**
 * The page with its count taken now: for transactions that end before the GraphQL response is
 * built (the audited admin ones), where a count asked for later would find them closed.
 */
export async function countNow<R>(page: Page<R>): Promise<Page<R>> {
  const total = await page.count();
  return { ...page, count: () => Promise.resolve(total) };
}
