import type { GraphQLResolveInfo } from 'graphql';
import {
  embeddedPage,
  rowFromJson,
  type Embed,
  type Embedding,
  type PageRequest,
  type SortKey,
} from '../db/keyset.js';
import type { TenantKey, Tx } from '../db/operation.js';
import { toConnection, type Connection, type PageArgs } from './connection.js';
import { fieldsBelow, soleArgumentsBelow } from './selection.js';

/** A page of a child list fetched inside the statement that reads its parents. */
export interface PageAhead<P> {
  /** Names what is fetched ahead, for the parents' loader (different pages, different loaders). */
  key: string;
  embed: (trx: Tx, tenantId: TenantKey) => Embed;
  /** Gives each parent its embedded page; `row` is the parent's own row, in any order. */
  attach: (trx: Tx, tenantId: TenantKey, parents: readonly { parent: P; row: Embedding }[]) => void;
}

/** Which columns of a node's row its GraphQL fields read, so a page carries only those. */
export interface Projection {
  /** Every column a row can carry, in the order they are carried. */
  all: readonly string[];
  /** The columns each field reads (none for `__typename`); a field not listed reads them all. */
  byField: Readonly<Record<string, readonly string[]>>;
  /** The timestamp columns, which json carries as strings (see rowFromJson). */
  timestamps: readonly string[];
}

/**
 * The columns the fields selected on the node at `path` read, `id` always (it keys nested pages
 * and loaders): Postgres writes, and Node reads, no json value nobody asked for.
 */
export function projectedColumns(
  info: GraphQLResolveInfo,
  path: readonly string[],
  projection: Projection,
): readonly string[] {
  const wanted = new Set(['id']);
  for (const field of fieldsBelow(info, path)) {
    const columns = projection.byField[field];
    if (!columns) return projection.all;
    for (const column of columns) wanted.add(column);
  }
  return projection.all.filter((column) => wanted.has(column));
}

export interface PageAheadSpec<P, R, N> {
  /** The connection field on the parent type whose arguments are read from the query. */
  field: string;
  /** Validates the field's arguments as the field itself will, throwing the same error. */
  pageOf: (args: Record<string, unknown>) => PageArgs;
  /** The cursor's order name and its sort. */
  order: string;
  sort: SortKey;
  /** The embed carrying `columns` of each row (of the tenant named, see routingTenant). */
  embed: (trx: Tx, tenantId: TenantKey, page: PageRequest, columns: readonly string[]) => Embed;
  /** Which columns the nodes' fields read; rows are rebuilt from them. */
  projection: Projection;
  /** The total of each parent's whole list, counted when a client asks. */
  count: (
    trx: Tx,
    tenantId: TenantKey,
    parentIds: readonly string[],
  ) => (id: string) => Promise<number>;
  /** The node of each row (handing the rows' own embedded pages on), all rows at once. */
  nodes: (
    trx: Tx,
    tenantId: TenantKey,
    rows: readonly (R & Embedding)[],
  ) => (row: R & Embedding) => N;
  /** Keeps the connection on the parent, where the field's resolver looks for it by `key`. */
  keep: (parent: P, key: string, connection: Connection<N>) => void;
  /** What the nodes fetch ahead themselves, to tell loaders apart. */
  nestedKey?: string | undefined;
}

/**
 * The page of `spec.field` every parent being resolved will be asked for, read from the query
 * (`path` leads from the field being resolved to a parent), so it can be fetched in the parents'
 * own statement. Undefined when the field is not selected, is selected with several different
 * arguments (aliases), or with arguments the field will refuse: then it loads as usual.
 */
export function pageAhead<P extends { id: string }, R extends { id: string }, N>(
  info: GraphQLResolveInfo,
  path: readonly string[],
  spec: PageAheadSpec<P, R, N>,
): PageAhead<P> | undefined {
  const args = soleArgumentsBelow(info, [...path, spec.field]);
  if (!args) return undefined;
  let page: ReturnType<PageAheadSpec<P, R, N>['pageOf']>;
  try {
    page = spec.pageOf(args);
  } catch {
    return undefined;
  }
  const { first, after, key } = page;
  const field = [...path, spec.field];
  const cursors =
    fieldsBelow(info, [...field, 'edges']).has('cursor') ||
    ['startCursor', 'endCursor'].some((name) =>
      fieldsBelow(info, [...field, 'pageInfo']).has(name),
    );
  const request: PageRequest = { sort: spec.sort, direction: 'ASC', first, after, cursors };
  const columns = projectedColumns(info, [...field, 'edges', 'node'], spec.projection);
  const revive = (values: unknown[]) => rowFromJson<R>(columns, values, spec.projection.timestamps);
  return {
    // Pages carrying other columns (or cursors) are other pages: parents' loaders keep them apart.
    key: `${key}:${columns.join(',')}:${cursors ? 'cursors' : ''}:${spec.nestedKey ?? ''}`,
    embed: (trx, tenantId) => spec.embed(trx, tenantId, request, columns),
    attach: (trx, tenantId, parents) => {
      const count = spec.count(
        trx,
        tenantId,
        parents.map(({ parent }) => parent.id),
      );
      const pages = parents.flatMap(({ parent, row }) => {
        const embedded = row.embedded?.[spec.field];
        if (!embedded) return [];
        return [{ parent, page: embeddedPage(embedded, first, revive, () => count(parent.id)) }];
      });
      const toNode = spec.nodes(
        trx,
        tenantId,
        pages.flatMap(({ page }) => page.rows),
      );
      for (const { parent, page } of pages) {
        spec.keep(parent, key, toConnection(page, spec.order, toNode));
      }
    },
  };
}
