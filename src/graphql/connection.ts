import { ArgsType, Field, Int, ObjectType, registerEnumType, type ClassType } from 'type-graphql';
import type {
  Keyset,
  OrderKey,
  Page,
  PageRequest,
  SortDirection,
  SortKey,
  SortType,
} from '../db/keyset.js';
import { BadUserInputError } from '../errors.js';
import { UUID } from '../formats.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export const OrderDirection = { ASC: 'ASC', DESC: 'DESC' } as const satisfies Record<
  SortDirection,
  SortDirection
>;
registerEnumType(OrderDirection, { name: 'OrderDirection' });

@ObjectType({
  description:
    'Relay page information. Going forward (first), hasNextPage says whether rows follow the page and hasPreviousPage whether rows precede `after`; going backward (last), hasPreviousPage says whether rows precede the page and hasNextPage whether rows follow `before`.',
})
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  /** A promise: the count is its own query, run only for clients that select it. */
  totalCount: number | Promise<number>;
}

/**
 * Declares `<Name>Edge` and `<Name>Connection` object types for a node type. Subclass the result
 * with `@ObjectType('<Name>Connection')` so the class can be named in thunks and types.
 */
export function ConnectionType<T extends object>(name: string, node: () => ClassType<T>) {
  @ObjectType(`${name}Edge`)
  class EdgeType implements Edge<T> {
    @Field(() => String, {
      description: 'Opaque; pass as `after` to continue after this node, or `before` to page back.',
    })
    cursor!: string;

    @Field(node)
    node!: T;
  }

  // Registered so the subclass inherits its fields; unreachable itself, so never emitted.
  @ObjectType(`${name}ConnectionBase`)
  abstract class ConnectionClass implements Connection<T> {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Matching rows in all pages.' })
    totalCount!: number | Promise<number>;
  }
  return ConnectionClass;
}

/** `first` and `after`: a connection read forward only (search, ranked in SQL per request). */
@ArgsType()
export class ForwardConnectionArgs {
  @Field(() => Int, {
    nullable: true,
    defaultValue: DEFAULT_PAGE_SIZE,
    description: `Page size, 1–${MAX_PAGE_SIZE}, counted from the start (after \`after\`); ignored when \`last\` is given.`,
  })
  first!: number | null;

  @Field(() => String, { nullable: true, description: 'A cursor from a previous page.' })
  after!: string | null;
}

/** `first`/`after` and `last`/`before`, shared by the keyset-paged connection fields. */
@ArgsType()
export class ConnectionArgs extends ForwardConnectionArgs {
  @Field(() => Int, {
    nullable: true,
    description: `Page size, 1–${MAX_PAGE_SIZE}, counted from the end (before \`before\`): the last rows of the list, in list order.`,
  })
  last?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'A cursor from a previous page: only rows before it.',
  })
  before?: string | null;
}

/** A list's ordering: its keys, and the tag that binds its cursors to it. */
export interface Ordering {
  tag: string;
  keys: readonly OrderKey[];
}

export interface PageArgs extends PageRequest {
  /** Names the page asked for: loaders are kept by it. */
  key: string;
}

/** Whether a calendar date or UTC timestamp names a real instant (2024-02-30 does not). */
function isRealTime(value: string, length: number): boolean {
  if (value.startsWith('0000')) return false; // Postgres has no year zero
  const time = Date.parse(value);
  return (
    !Number.isNaN(time) && new Date(time).toISOString().slice(0, length) === value.slice(0, length)
  );
}

// Checked before any SQL runs, so a forged cursor is a BAD_USER_INPUT on `after` or `before` and
// never a failed cast that aborts the operation's transaction.
const SORT_VALUE: Record<SortType, (value: string) => boolean> = {
  timestamptz: (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(v) && isRealTime(v, 23),
  date: (v) => v === 'infinity' || (/^\d{4}-\d{2}-\d{2}$/.test(v) && isRealTime(v, 10)),
  text: (v) => v.length <= 10_000 && !v.includes('\u0000'),
  integer: (v) => /^-?\d{1,9}$/.test(v),
};

/** BAD_USER_INPUT unless 1 ≤ size ≤ MAX_PAGE_SIZE; null means the default. */
export function pageSize(
  size: number | null | undefined,
  field: 'first' | 'last' = 'first',
): number {
  const value = size ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw new BadUserInputError(field, `${field} must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return value;
}

/**
 * Cursors are base64url JSON `[order, sortKey, id]`, or `[order, [sortKeys…], id]` for an
 * ordering of several keys. The order tag is checked so a cursor taken under one ordering is
 * refused under another instead of silently skipping rows.
 */
export function encodeCursor(order: string, values: readonly string[], id: string): string {
  const key = values.length === 1 ? values[0] : values;
  return Buffer.from(JSON.stringify([order, key, id])).toString('base64url');
}

export function decodeCursor(
  cursor: string | null | undefined,
  order: Ordering,
  field: 'after' | 'before' = 'after',
): Keyset | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const refuse = () => new BadUserInputError(field, `${field} is not a cursor of this list.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw refuse();
  const [tag, key, id] = parsed as unknown[];
  const values: unknown[] = order.keys.length === 1 ? [key] : Array.isArray(key) ? key : [];
  if (tag !== order.tag || typeof id !== 'string' || !UUID.test(id)) throw refuse();
  if (values.length !== order.keys.length) throw refuse();
  const checked = order.keys.map((orderKey, i) => {
    const value = values[i];
    if (typeof value !== 'string' || !SORT_VALUE[orderKey.sort.type](value)) throw refuse();
    return value;
  });
  return { values: checked, id };
}

/**
 * Validates `first`/`after`/`last`/`before` for an ordering. `last` reads the page from the end;
 * `first` then is ignored, since it always has a value (its default) and a client asking for the
 * last rows means those, not the last of the first 20.
 */
export function pageArgs(
  args: {
    first?: number | null;
    after?: string | null;
    last?: number | null;
    before?: string | null;
  },
  order: Ordering,
): PageArgs {
  const backward = args.last !== null && args.last !== undefined;
  const size = backward ? pageSize(args.last, 'last') : pageSize(args.first, 'first');
  const after = decodeCursor(args.after, order, 'after');
  const before = decodeCursor(args.before, order, 'before');
  return {
    keys: order.keys,
    size,
    after,
    before,
    backward,
    key: `${order.tag}:${backward ? 'last' : 'first'}:${size}:${args.after ?? ''}:${args.before ?? ''}`,
  };
}

/** Builds a connection from a page fetchPage or fetchPages returned. */
export function toConnection<R extends { id: string }, T>(
  page: Page<R>,
  order: Ordering,
  toNode: (row: R) => T,
): Connection<T> {
  const edges = page.rows.map((row) => new LazyEdge(order.tag, row.sort_keys, row.id, toNode(row)));
  return new LazyConnection(
    edges,
    new LazyPageInfo(page.hasNextPage, page.hasPreviousPage, edges),
    page.count,
  );
}

class LazyConnection<T> implements Connection<T> {
  constructor(
    readonly edges: Edge<T>[],
    readonly pageInfo: PageInfo,
    private readonly count: () => Promise<number>,
  ) {}

  get totalCount(): Promise<number> {
    return this.count();
  }
}

// Cursors are encoded only when a client selects them: most pages are read for their nodes, and
// encoding every edge's cursor was a measurable share of a nested list's cost.
class LazyEdge<T> implements Edge<T> {
  constructor(
    private readonly order: string,
    private readonly sortKeys: readonly string[],
    private readonly id: string,
    readonly node: T,
  ) {}

  get cursor(): string {
    return encodeCursor(this.order, this.sortKeys, this.id);
  }
}

class LazyPageInfo<T> implements PageInfo {
  constructor(
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
    private readonly edges: Edge<T>[],
  ) {}

  get startCursor(): string | null {
    return this.edges[0]?.cursor ?? null;
  }

  get endCursor(): string | null {
    return this.edges.at(-1)?.cursor ?? null;
  }
}

/** One key of a requested ordering, as `sort` and the single-key `orderBy` arguments give it. */
export interface RequestedOrder<F extends string> {
  field: F;
  direction: SortDirection;
}

/**
 * The ordering a list field asks for: the keys of `sort`, else the one of `orderBy`, else the
 * list's default. The tag names each key (`PRIORITY:DESC,DUE_DATE`), so a cursor is refused by any
 * other ordering; a single ascending key keeps its bare name, as cursors had it before `sort`.
 */
export function orderingOf<F extends string>(
  fields: Readonly<Record<F, SortKey>>,
  requested: {
    sort?: readonly RequestedOrder<F>[] | null;
    orderBy?: RequestedOrder<F> | null;
  },
  fallback: RequestedOrder<F>,
): Ordering {
  const { sort, orderBy } = requested;
  if (sort?.length && orderBy) {
    throw new BadUserInputError('sort', 'Give sort or orderBy, not both.');
  }
  const keys = sort?.length ? sort : orderBy ? [orderBy] : [fallback];
  const seen = new Set<F>();
  for (const { field } of keys) {
    if (seen.has(field)) {
      throw new BadUserInputError('sort', `sort names ${field} twice; name each field once.`);
    }
    seen.add(field);
  }
  return {
    tag: keys.map((k) => (k.direction === 'ASC' ? k.field : `${k.field}:DESC`)).join(','),
    keys: keys.map((k) => ({ sort: fields[k.field], direction: k.direction })),
  };
}

/** What the `sort` argument of every list says. */
export const SORT_DESCRIPTION =
  'Keys in order of precedence (`[{field: PRIORITY, direction: DESC}, {field: DUE_DATE}]`), the id ' +
  'breaking ties in the direction of the last key; not together with orderBy where a list has ' +
  'both. Defaults to oldest first (CREATED_AT ASC).';
