import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/graphql/planner/relations.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/**
 * The planner writes 'unescaped' columns into JSON strings as they are: only safe while the
 * database itself keeps every value free of quotes, backslashes and control characters.
 */
describe('columns the planner writes without escaping', () => {
  const unescaped = Object.values(ENTITIES).flatMap((entity) =>
    Object.values(entity.scalars)
      .filter((scalar) => scalar.format === 'unescaped')
      .map((scalar) => ({ table: entity.table, column: scalar.column })),
  );

  it('are listed', () => {
    expect(unescaped.length).toBeGreaterThan(0);
  });

  it.each(unescaped)('$column of $table is a uuid or held to capitals by a check', async (c) => {
    const [type] = await ownerQuery<{ type: string }>(
      db.ownerUrl,
      `select format_type(a.atttypid, a.atttypmod) as type
         from pg_attribute a where a.attrelid = $1::regclass and a.attname = $2`,
      [c.table, c.column],
    );
    expect(type, `${c.table}.${c.column} exists`).toBeDefined();
    if (type?.type === 'uuid') return;
    const checks = await ownerQuery<{ definition: string }>(
      db.ownerUrl,
      `select pg_get_constraintdef(k.oid) as definition
         from pg_constraint k
         join pg_attribute a on a.attrelid = k.conrelid and a.attnum = any (k.conkey)
        where k.conrelid = $1::regclass and k.contype = 'c' and a.attname = $2`,
      [c.table, c.column],
    );
    const allowed = checks.flatMap(({ definition }) => {
      const list = /= ANY \(ARRAY\[(.*)\]\)/.exec(definition)?.[1];
      return list ? [...list.matchAll(/'([^']*)'::text/g)].map((m) => m[1]) : [];
    });
    expect(allowed.length, `a check listing ${c.column}'s values`).toBeGreaterThan(0);
    for (const value of allowed) expect(value).toMatch(/^[A-Z_]+$/);
  });
});
