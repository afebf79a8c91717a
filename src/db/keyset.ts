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
  /**
   * False when no cursor of the page will be read: rows then carry no sort key (null), which
   * spares Postgres a to_char per row. Pages fetched ahead know; others always carry it.
   */
  cursors?: boolean;
}

/** What fetchPage adds to each row of the base query: the sort key as text, for its cursor. */
export interface PageMeta {
  /** Null only in a page asked for without cursors (PageRequest.cursors). */
  sort_key: string | null;
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

/**
 * A page of a child list fetched inside the parent page's statement (Task.comments inside a page
 * of tasks): one json value per parent row instead of a round trip of its own.
 */
export interface Embed {
  /** Its key in the parent row's `embedded` object. */
  name: string;
  /** The child list, not filtered by parent (any query builder; only its SQL is used). */
  base: OperationNodeSource;
  /** The child's column holding the parent row's id. */
  column: string;
  /** The child columns to carry, in order: each row arrives as a json array of them. */
  columns: readonly string[];
  page: PageRequest;
  /** Pages of the child rows' own children (Project.tasks embedding Task.comments). */
  embeds?: readonly Embed[];
}

/**
 * An embedded page as it arrives: each row a json array of the embed's columns followed by its
 * sort key and its own embedded pages (or null): arrays, not objects, so no key is repeated per
 * row for Postgres to write and Node to read.
 */
export interface EmbeddedPage {
  rows: unknown[][];
  has_previous: boolean;
}

/** What a page with embeds adds to each of its rows. */
export interface Embedding {
  embedded: Record<string, EmbeddedPage> | null;
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
  embeds: readonly Embed[] = [],
  // Nested embeds name their rows apart, or a child's filter would find its own row as parent.
  alias = 'f',
): RawBuilder<unknown> {
  const { orderBy, isAfter } = ordering(page);
  const row = sql.table(alias);
  const ofParent = parent ? sql`${row}.${sql.ref(parent.column)} = ${parent.id} and ` : sql``;
  const sortKey =
    page.cursors === false ? sql`null::text` : SORT_KEY_TEXT[page.sort.type](page.sort.expression);
  // With ORDER BY and LIMIT, Postgres evaluates the (costly) embeds only for the rows kept.
  const embedded =
    embeds.length > 0 ? sql`, ${embeddedJson(embeds, sql.ref(`${alias}.id`))} as embedded` : sql``;
  return sql`
    select ${row}.*, ${sortKey} as sort_key${embedded}
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

/**
 * The embeds' pages for the row whose id is `rowId`, as one json object keyed by embed name: for
 * the select list of a query over the parent rows (see Embedding).
 */
export function embeddedJson(
  embeds: readonly Embed[],
  rowId: RawBuilder<unknown>,
): RawBuilder<Embedding['embedded']> {
  const pages = embeds.map((embed): RawBuilder<unknown> => {
    const parent = { column: embed.column, id: rowId };
    const nested = embed.embeds ?? [];
    const values = [
      ...embed.columns.map((column) => sql.ref(`c.${column}`)),
      sql.ref('c.sort_key'),
      nested.length > 0 ? sql.ref('c.embedded') : sql`null`,
    ];
    return sql`${embed.name}::text, (
      select json_build_object(
               'rows', coalesce(json_agg(json_build_array(${sql.join(values)}) order by ${ordering(embed.page).orderBy}), '[]'::json),
               'has_previous', ${rowsBefore(embed.base, embed.page, parent)})
        from (${pageRows(embed.base, embed.page, parent, nested, `${embed.name}_row`)}) c)`;
  });
  return sql<Embedding['embedded']>`json_build_object(${sql.join(pages)})`;
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
 * One keyset page of `base` with an index-ordered LIMIT, and the embeds' pages inside each row.
 * The total is counted by its own query the first time a client asks for it, or with `countNow`
 * in this same statement (for transactions that end before the response is built: the audited
 * admin ones, where a count asked for later would find them closed).
 */
export async function fetchPage<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  // Any database view of the base (joins and aliases add tables to it); only its SQL is used.
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  options: { embeds?: readonly Embed[]; countNow?: boolean } = {},
): Promise<Page<O & Embedding>> {
  const total = options.countNow ? sql`(select count(*) from (${base}) c)` : sql`null`;
  // Past the end the page is empty, so whether rows precede the cursor comes from a row of its own.
  const { rows: found } = await sql<
    O & PageMeta & Embedding & { has_previous: boolean; total_count: string | null }
  >`
    select r.*, m.has_previous, m.total_count
      from (select ${rowsBefore(base, page)} as has_previous, ${total} as total_count) m
      left join lateral (${pageRows(base, page, undefined, options.embeds)}) r on true`.execute(
    trx,
  );
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
 * of its own, with the embeds' pages inside each row. Pages come back in the order of
 * `parents.ids`; `base` must not filter by parent.
 */
export async function fetchPages<DB, TB extends keyof DB, O extends { id: string }>(
  trx: Tx,
  base: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  parents: PageParents,
  embeds: readonly Embed[] = [],
): Promise<Page<O & Embedding>[]> {
  if (parents.ids.length === 0) return [];
  const parent = { column: parents.column, id: sql.ref('p.page_parent') };
  // The parent's columns are named so that the sort expression's bare names find the page's row.
  const { rows: found } = await sql<
    O & PageMeta & Embedding & { page_parent: string; has_previous: boolean }
  >`
    select p.page_parent, m.has_previous, r.*
      from unnest(${parents.ids}::uuid[]) with ordinality as p (page_parent, page_position)
     cross join lateral (select ${rowsBefore(base, page, parent)} as has_previous) m
      left join lateral (${pageRows(base, page, parent, embeds)}) r on true
     order by p.page_position, ${ordering(page).orderBy}`.execute(trx);
  const byParent = new Map<string, (O & PageMeta & Embedding)[]>(parents.ids.map((id) => [id, []]));
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

/**
 * An embedded page (see Embed) as a Page: `revive` turns a row's column values (in the embed's
 * order; json made timestamps strings) back into a row, `count` counts the parent's whole child
 * list when a client asks.
 */
export function embeddedPage<R extends { id: string }>(
  embedded: EmbeddedPage,
  first: number,
  revive: (values: unknown[]) => R,
  count: () => Promise<number>,
): Page<R & Embedding> {
  const rows = embedded.rows.map((values) => {
    const row: R & Partial<PageMeta & Embedding> = revive(values);
    row.sort_key = values[values.length - 2] as string | null;
    row.embedded = values[values.length - 1] as Embedding['embedded'];
    return row as R & PageMeta & Embedding;
  });
  return toPage(rows, first, embedded.has_previous, count);
}

/**
 * A row from the values of an embedded page that carries `columns`, in their order: json made
 * the `timestamps` strings, which become Dates again. Columns not carried stay undefined, so the
 * row is whole only for the fields that asked for them (see Projection in graphql/ahead.ts).
 */
export function rowFromJson<R>(
  columns: readonly string[],
  values: readonly unknown[],
  timestamps: readonly string[],
): R {
  const row: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]] = values[i];
  for (const column of timestamps) {
    const value = row[column];
    if (typeof value === 'string') row[column] = new Date(value);
  }
  return row as R;
}
