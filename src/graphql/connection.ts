import { ArgsType, Field, Int, ObjectType, registerEnumType, type ClassType } from 'type-graphql';
import type { Keyset, Page, SortDirection, SortType } from '../db/keyset.js';
import { BadUserInputError } from '../errors.js';
import { UUID } from '../formats.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export const OrderDirection = { ASC: 'ASC', DESC: 'DESC' } as const satisfies Record<
  SortDirection,
  SortDirection
>;
registerEnumType(OrderDirection, { name: 'OrderDirection' });

@ObjectType({ description: 'Relay page information (forward pagination with first/after).' })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'Whether rows precede the `after` cursor.' })
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
    @Field(() => String, { description: 'Opaque; pass as `after` to continue after this node.' })
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

/** `first` and `after`, shared by every connection field. */
@ArgsType()
export class ConnectionArgs {
  @Field(() => Int, {
    nullable: true,
    defaultValue: DEFAULT_PAGE_SIZE,
    description: `Page size, 1–${MAX_PAGE_SIZE}.`,
  })
  first!: number | null;

  @Field(() => String, { nullable: true, description: 'A cursor from a previous page.' })
  after!: string | null;
}

export interface PageArgs {
  first: number;
  after: Keyset | undefined;
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

// Checked before any SQL runs, so a forged cursor is a BAD_USER_INPUT on `after` and never a
// failed cast that aborts the operation's transaction.
const SORT_VALUE: Record<SortType, (value: string) => boolean> = {
  timestamptz: (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(v) && isRealTime(v, 23),
  date: (v) => v === 'infinity' || (/^\d{4}-\d{2}-\d{2}$/.test(v) && isRealTime(v, 10)),
  text: (v) => v.length <= 10_000 && !v.includes('\u0000'),
};

/** BAD_USER_INPUT unless 1 ≤ first ≤ MAX_PAGE_SIZE; null means the default. */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new BadUserInputError('first', `first must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return size;
}

/**
 * Cursors are base64url JSON `[order, sortKey, id]`. The order name is checked so a cursor taken
 * under one ordering is refused under another instead of silently skipping rows.
 */
export function encodeCursor(order: string, value: string, id: string): string {
  return Buffer.from(JSON.stringify([order, value, id])).toString('base64url');
}

export function decodeCursor(
  after: string | null | undefined,
  order: string,
  type: SortType,
): Keyset | undefined {
  if (after === null || after === undefined) return undefined;
  const refuse = () => new BadUserInputError('after', 'after is not a cursor of this list.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw refuse();
  const [tag, value, id] = parsed as unknown[];
  if (tag !== order || typeof value !== 'string' || typeof id !== 'string') throw refuse();
  if (!UUID.test(id) || !SORT_VALUE[type](value)) throw refuse();
  return { value, id };
}

/** Validates `first`/`after` for an ordering. */
export function pageArgs(
  args: { first?: number | null; after?: string | null },
  order: string,
  type: SortType,
): PageArgs {
  const first = pageSize(args.first);
  return {
    first,
    after: decodeCursor(args.after, order, type),
    key: `${first}:${args.after ?? ''}`,
  };
}

/** Builds a connection from a page fetchPage or fetchPages returned. */
export function toConnection<R extends { id: string }, T>(
  page: Page<R>,
  order: string,
  toNode: (row: R) => T,
): Connection<T> {
  const edges = page.rows.map((row) => new LazyEdge(order, row.sort_key, row.id, toNode(row)));
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
    private readonly sortKey: string,
    private readonly id: string,
    readonly node: T,
  ) {}

  get cursor(): string {
    return encodeCursor(this.order, this.sortKey, this.id);
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
