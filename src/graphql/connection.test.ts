import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import type { Page } from '../db/keyset.js';
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
  const row = (id: string) => ({ id, sort_key: id });
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
      'NAME',
      (r) => r.id,
    );
    expect(counted).toBe(0);
    expect(connection.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(connection.edges.map((e) => e.node)).toEqual(['a', 'b']);
    expect(connection.pageInfo.endCursor).toBe(connection.edges[1]?.cursor);
    expect(connection.pageInfo.startCursor).toBe(encodeCursor('NAME', 'a', 'a'));
    expect(await connection.totalCount).toBe(5);
    expect(counted).toBe(1);
  });

  it('has no cursors for an empty page', async () => {
    const connection = toConnection(page([], { hasPreviousPage: true }), 'NAME', (r) => r.id);
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
