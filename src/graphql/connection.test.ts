import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Page, SortType } from '../db/keyset.js';
import {
  decodeCursor,
  encodeCursor,
  orderingOf,
  pageArgs,
  pageSize,
  toConnection,
  type Ordering,
} from './connection.js';

const ID = '2b1f8a4e-6f0c-4c8e-9a51-0d3c2b7e9f10';

/** An ordering by one key of this type, tagged `tag`. */
function by(tag: string, type: SortType): Ordering {
  return { tag, keys: [{ sort: { expression: sql.ref('x'), type }, direction: 'ASC' }] };
}

function fieldOf(run: () => unknown): unknown {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as { extensions?: { field?: unknown } }).extensions?.field;
  }
}

describe('cursors', () => {
  it('round-trip the order, sort key and id', () => {
    const cursor = encodeCursor('CREATED_AT', ['2024-01-01T00:00:00.123456Z'], ID);
    // One key: the format cursors had before orderings of several keys (the planner writes it).
    expect(JSON.parse(Buffer.from(cursor, 'base64url').toString())).toEqual([
      'CREATED_AT',
      '2024-01-01T00:00:00.123456Z',
      ID,
    ]);
    expect(decodeCursor(cursor, by('CREATED_AT', 'timestamptz'))).toEqual({
      values: ['2024-01-01T00:00:00.123456Z'],
      id: ID,
    });
    expect(decodeCursor(null, by('CREATED_AT', 'timestamptz'))).toBeUndefined();
  });

  it('refuse other orders, bad ids and impossible values on "after"', () => {
    const refused = [
      [encodeCursor('NAME', ['x'], ID), 'CREATED_AT', 'timestamptz'],
      [encodeCursor('NAME', ['x'], 'nope'), 'NAME', 'text'],
      [encodeCursor('DUE_DATE', ['2023-02-29'], ID), 'DUE_DATE', 'date'],
      [encodeCursor('CREATED_AT', ['2024-01-01'], ID), 'CREATED_AT', 'timestamptz'],
      [encodeCursor('PRIORITY', ['HIGH'], ID), 'PRIORITY', 'integer'],
      ['%%%', 'NAME', 'text'],
    ] as const;
    for (const [cursor, order, type] of refused) {
      expect(fieldOf(() => decodeCursor(cursor, by(order, type)))).toBe('after');
      expect(fieldOf(() => decodeCursor(cursor, by(order, type), 'before'))).toBe('before');
    }
    expect(
      decodeCursor(encodeCursor('DUE_DATE', ['infinity'], ID), by('DUE_DATE', 'date')),
    ).toEqual({ values: ['infinity'], id: ID });
  });

  it('of several keys are bound to every key and direction', () => {
    const fields = {
      PRIORITY: { expression: sql.ref('p'), type: 'integer' },
      DUE_DATE: { expression: sql.ref('d'), type: 'date' },
    } as const;
    const fallback = { field: 'DUE_DATE', direction: 'ASC' } as const;
    const order = orderingOf(
      fields,
      {
        sort: [
          { field: 'PRIORITY', direction: 'DESC' },
          { field: 'DUE_DATE', direction: 'ASC' },
        ],
      },
      fallback,
    );
    expect(order.tag).toBe('PRIORITY:DESC,DUE_DATE');
    const cursor = encodeCursor(order.tag, ['3', '2027-01-05'], ID);
    expect(decodeCursor(cursor, order)).toEqual({ values: ['3', '2027-01-05'], id: ID });
    const upward = orderingOf(
      fields,
      {
        sort: [
          { field: 'PRIORITY', direction: 'ASC' },
          { field: 'DUE_DATE', direction: 'ASC' },
        ],
      },
      fallback,
    );
    expect(fieldOf(() => decodeCursor(cursor, upward))).toBe('after');
    // The single-key orderBy and a one-key sort are the same ordering, with the same cursors.
    expect(
      orderingOf(fields, { orderBy: { field: 'DUE_DATE', direction: 'ASC' } }, fallback),
    ).toEqual(orderingOf(fields, { sort: [{ field: 'DUE_DATE', direction: 'ASC' }] }, fallback));
    expect(fieldOf(() => orderingOf(fields, { sort: [fallback, fallback] }, fallback))).toBe(
      'sort',
    );
    expect(
      fieldOf(() => orderingOf(fields, { sort: [fallback], orderBy: fallback }, fallback)),
    ).toBe('sort');
  });

  it('take last/before for backward pages; last wins over the default first', () => {
    const order = by('NAME', 'text');
    const before = encodeCursor('NAME', ['m'], ID);
    expect(pageArgs({ first: 20, last: 5, before }, order)).toMatchObject({
      size: 5,
      backward: true,
      before: { values: ['m'], id: ID },
      after: undefined,
    });
    expect(pageArgs({ first: 7 }, order)).toMatchObject({ size: 7, backward: false });
    expect(fieldOf(() => pageArgs({ last: 0 }, order))).toBe('last');
    expect(fieldOf(() => pageArgs({ last: 101 }, order))).toBe('last');
  });
});

describe('page size', () => {
  it('defaults to 20 and accepts 1–100 only', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(pageSize(null)).toBe(20);
    expect(pageSize(100)).toBe(100);
    for (const bad of [0, 101, -5, 1.5]) expect(fieldOf(() => pageSize(bad))).toBe('first');
  });
});

describe('toConnection', () => {
  const row = (id: string) => ({ id, sort_keys: [id] });
  const page = (ids: string[], more: Partial<Page<{ id: string }>> = {}) => ({
    rows: ids.map(row),
    hasNextPage: false,
    hasPreviousPage: false,
    count: () => Promise.resolve(5),
    ...more,
  });

  it('reports both directions and counts only when the total is read', async () => {
    let counted = 0;
    const connection = toConnection(
      page(['a', 'b'], {
        hasNextPage: true,
        hasPreviousPage: true,
        count: () => Promise.resolve(++counted && 5),
      }),
      by('NAME', 'text'),
      (r) => r.id,
    );
    expect(counted).toBe(0);
    expect(connection.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(connection.edges.map((e) => e.node)).toEqual(['a', 'b']);
    expect(connection.pageInfo.endCursor).toBe(connection.edges[1]?.cursor);
    expect(connection.pageInfo.startCursor).toBe(encodeCursor('NAME', ['a'], 'a'));
    expect(await connection.totalCount).toBe(5);
    expect(counted).toBe(1);
  });

  it('has no cursors for an empty page', async () => {
    const connection = toConnection(
      page([], { hasPreviousPage: true }),
      by('NAME', 'text'),
      (r) => r.id,
    );
    const { hasNextPage, hasPreviousPage, startCursor, endCursor } = connection.pageInfo;
    expect(connection.edges).toEqual([]);
    expect({ hasNextPage, hasPreviousPage, startCursor, endCursor }).toEqual({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: null,
      endCursor: null,
    });
    expect(await connection.totalCount).toBe(5);
  });
});
