import { sql, type OperationNodeSource, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Tx } from './operation.js';
import { anyId } from './any-id.js';

/** How a sort key is cast back from its cursor text. */
export type SortType = 'timestamptz' | 'text' | 'date' | 'integer';

export interface SortKey {
  /**
   * An expression over the base query's output columns, written without a table qualifier. It
   * must never be null: a nullable column is coalesced to a sentinel that places its nulls.
   */
  expression: RawBuilder<unknown>;
  type: SortType;
}

export type SortDirection = 'ASC' | 'DESC';

/** One key of an ordering. */
export interface OrderKey {
  sort: SortKey;
  direction: SortDirection;
}

/** A position in a keyset order: each sort key as text, and the id that breaks ties. */
export interface Keyset {
  values: readonly string[];
  id: string;
}

export interface PageRequest {
  /** At least one key; `id` breaks ties last, in the direction of the last key. */
  keys: readonly OrderKey[];
  /** Rows on the page (`first`, or `last` when `backward`). */
  size: number;
  after: Keyset | undefined;
  before: Keyset | undefined;
  /** `last`: the page is the `size` rows nearest `before` (or the end), still in list order. */
  backward: boolean;
}

/** What fetchPage adds to each row of the base query: the sort keys as text, for its cursor. */
export interface PageMeta {
  sort_keys: string[];
}

/** One page of a list, with what the page alone cannot tell computed only when asked. */
export interface Page<R> {
  /** In list order, whichever way the page was read. */
  rows: (R & PageMeta)[];
  hasNextPage: boolean;
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
  integer: (e) => sql<string>`${e}::text`,
};

/** The same keys, each the other way round. */
function reversed(keys: readonly OrderKey[]): OrderKey[] {
  return keys.map((key) => ({ ...key, direction: key.direction === 'ASC' ? 'DESC' : 'ASC' }));
}

/** The ordering the rows are read in: the list's own, or its reverse for a backward page. */
function readOrder(page: PageRequest): readonly OrderKey[] {
  return page.backward ? reversed(page.keys) : page.keys;
}

function orderBy(keys: readonly OrderKey[]): RawBuilder<unknown> {
  const dir = (direction: SortDirection) => sql.raw(direction === 'ASC' ? 'asc' : 'desc');
  const last = keys.at(-1)?.direction ?? 'ASC';
  return sql.join([
    ...keys.map((key) => sql`${key.sort.expression} ${dir(key.direction)}`),
    sql`id ${dir(last)}`,
  ]);
}

/**
 * Whether a row comes after `position` in `keys` order (the id breaking ties, in the last key's
 * direction). One row comparison when every key runs the same way, which an index range scan
 * serves; otherwise the expanded form `k1 > v1 or (k1 = v1 and (k2 < v2 or …))`.
 */
function follows(keys: readonly OrderKey[], position: Keyset): RawBuilder<boolean> {
  const last = keys.at(-1)?.direction ?? 'ASC';
  const columns = [
    ...keys.map((key, i) => ({
      expression: key.sort.expression,
      value: sql`${position.values[i]}::${sql.raw(key.sort.type)}`,
      direction: key.direction,
    })),
    { expression: sql`id`, value: sql`${position.id}::uuid`, direction: last },
  ];
  const greater = (direction: SortDirection) => sql.raw(direction === 'ASC' ? '>' : '<');
  if (keys.every((key) => key.direction === last)) {
    const left = sql.join(columns.map((c) => c.expression));
    const right = sql.join(columns.map((c) => c.value));
    return sql<boolean>`(${left}) ${greater(last)} (${right})`;
  }
  let condition: RawBuilder<boolean> | undefined;
  for (const c of [...columns].reverse()) {
    const beyond = sql<boolean>`${c.expression} ${greater(c.direction)} ${c.value}`;
    condition = condition
      ? sql<boolean>`(${beyond} or (${c.expression} = ${c.value} and ${condition}))`
      : beyond;
  }
  return condition ?? sql<boolean>`true`;
}

/** The cursor bounds of a page: after `after` and before `before` in list order. */
function bounds(page: PageRequest): RawBuilder<boolean> {
  const parts = [
    ...(page.after ? [follows(page.keys, page.after)] : []),
    ...(page.before ? [follows(reversed(page.keys), page.before)] : []),
  ];
  return parts.length ? sql<boolean>`${sql.join(parts, sql` and `)}` : sql<boolean>`true`;
}

/**
 * The rows of one page within its cursors, in reading order, one more than asked for to tell
 * whether more follow: an index range scan that stops early however long the list. `parent`
 * narrows the list to one parent's rows (an expression of the enclosing query).
 */
function pageRows(
  base: OperationNodeSource,
  page: PageRequest,
  parent?: ParentFilter,
): RawBuilder<unknown> {
  const row = sql.table('f');
  const ofParent = parent ? sql`${row}.${sql.ref(parent.column)} = ${parent.id} and ` : sql``;
  const sortKeys = sql.join(
    page.keys.map((key) => SORT_KEY_TEXT[key.sort.type](key.sort.expression)),
  );
  return sql`
    select ${row}.*, array[${sortKeys}] as sort_keys
      from (${base}) ${row}
     where ${ofParent}${bounds(page)}
     order by ${orderBy(readOrder(page))}
     limit ${page.size + 1}`;
}

interface ParentFilter {
  column: string;
  id: RawBuilder<unknown>;
}

/**
 * Whether rows lie beyond the cursor the page is read from (before `after` going forward, after
 * `before` going backward): the page's far side, which the extra row cannot tell.
 */
function rowsBeyond(base: OperationNodeSource, page: PageRequest, parent?: ParentFilter) {
  const cursor = page.backward ? page.before : page.after;
  if (!cursor) return sql<boolean>`false`;
  const keys = readOrder(page);
  const ofParent = parent ? sql`b.${sql.ref(parent.column)} = ${parent.id} and ` : sql``;
  return sql<boolean>`exists (select from (${base}) b where ${ofParent}not ${follows(keys, cursor)})`;
}

/**
 * A page from the rows fetched for it, in reading order: one more than asked for tells whether
 * more follow that way. Relay's pageInfo: going forward, hasNextPage comes from that row and
 * hasPreviousPage from rows before `after`; going backward, the other way round.
 */
function toPage<R>(
  rows: (R & PageMeta)[],
  page: PageRequest,
  beyond: boolean,
  count: () => Promise<number>,
): Page<R> {
  const more = rows.length > page.size;
  const kept = rows.slice(0, page.size);
  if (page.backward) {
    return { rows: kept.reverse(), hasNextPage: beyond, hasPreviousPage: more, count };
  }
  return { rows: kept, hasNextPage: more, hasPreviousPage: beyond, count };
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
 * One keyset page of `base` with an index-ordered LIMIT, read backwards for `last`.
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
    O & PageMeta & { has_beyond: boolean; total_count: string | null }
  >`
    select r.*, m.has_beyond, m.total_count
      from (select ${rowsBeyond(base, page)} as has_beyond, ${total} as total_count) m
      left join lateral (${pageRows(base, page)}) r on true`.execute(trx);
  const head = found[0];
  let counted =
    typeof head?.total_count === 'string' ? Promise.resolve(Number(head.total_count)) : undefined;
  return toPage(
    found.filter((row) => row.id !== null),
    page,
    head?.has_beyond ?? false,
    () =>
      (counted ??= sql<{ count: string }>`select count(*) from (${base}) f`
        .execute(trx)
        .then(({ rows: [row] }) => Number(row?.count ?? 0))),
  );
}

/**
 * The same page of a nested list for each of several parents in one statement (Project.tasks for
 * every project of an operation): a LATERAL page per parent, each stopping after `size + 1` rows
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
  const { rows: found } = await sql<O & PageMeta & { page_parent: string; has_beyond: boolean }>`
    select p.page_parent, m.has_beyond, r.*
      from unnest(${parents.ids}::uuid[]) with ordinality as p (page_parent, page_position)
     cross join lateral (select ${rowsBeyond(base, page, parent)} as has_beyond) m
      left join lateral (${pageRows(base, page, parent)}) r on true
     order by p.page_position, ${orderBy(readOrder(page))}`.execute(trx);
  const byParent = new Map<string, (O & PageMeta)[]>(parents.ids.map((id) => [id, []]));
  const beyondByParent = new Map<string, boolean>();
  for (const row of found) {
    beyondByParent.set(row.page_parent, row.has_beyond);
    if (row.id !== null) byParent.get(row.page_parent)?.push(row);
  }
  const count = countsPerParent(trx, base, parents.column, parents.ids);
  return parents.ids.map((id) =>
    toPage(byParent.get(id) ?? [], page, beyondByParent.get(id) ?? false, () => count(id)),
  );
}
