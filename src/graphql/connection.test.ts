import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import type { PageMeta } from '../db/keyset.js';
import { decodeCursor, encodeCursor, pageSize, toConnection } from './connection.js';

const ID = '2b1f8a4e-6f0c-4c8e-9a51-0d3c2b7e9f10';

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
    const cursor = encodeCursor('CREATED_AT', '2024-01-01T00:00:00.123456Z', ID);
    expect(decodeCursor(cursor, 'CREATED_AT', 'timestamptz')).toEqual({
      value: '2024-01-01T00:00:00.123456Z',
      id: ID,
    });
    expect(decodeCursor(null, 'CREATED_AT', 'timestamptz')).toBeUndefined();
  });

  it('refuse other orders, bad ids and impossible values on "after"', () => {
    const refused = [
      [encodeCursor('NAME', 'x', ID), 'CREATED_AT', 'timestamptz'],
      [encodeCursor('NAME', 'x', 'nope'), 'NAME', 'text'],
      [encodeCursor('DUE_DATE', '2023-02-29', ID), 'DUE_DATE', 'date'],
      [encodeCursor('CREATED_AT', '2024-01-01', ID), 'CREATED_AT', 'timestamptz'],
      ['%%%', 'NAME', 'text'],
    ] as const;
    for (const [cursor, order, type] of refused) {
      expect(fieldOf(() => decodeCursor(cursor, order, type))).toBe('after');
    }
    expect(decodeCursor(encodeCursor('DUE_DATE', 'infinity', ID), 'DUE_DATE', 'date')).toEqual({
      value: 'infinity',
      id: ID,
    });
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
  const row = (id: string, meta: Partial<PageMeta> = {}) => ({
    id,
    total_count: '5',
    remaining_count: '3',
    is_after: true,
    sort_key: id,
    ...meta,
  });

  it('reports both directions from the counts', () => {
    const connection = toConnection([row('a'), row('b')], 2, 'NAME', (r) => r.id);
    expect(connection.totalCount).toBe(5);
    expect(connection.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(connection.edges.map((e) => e.node)).toEqual(['a', 'b']);
    expect(connection.pageInfo.endCursor).toBe(connection.edges[1]?.cursor);
    expect(connection.pageInfo.startCursor).toBe(encodeCursor('NAME', 'a', 'a'));
  });

  it('keeps the total from the marker row past the end, without edges', () => {
    const connection = toConnection(
      [row('z', { is_after: false, remaining_count: '0' })],
      2,
      'NAME',
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
    expect(connection.totalCount).toBe(5);
  });
});
