import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSTRAINT_ERRORS } from '../../src/db/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  await db.drop();
});

describe('CONSTRAINT_ERRORS', () => {
  it('names only constraints that exist, so a renamed constraint fails the build', async () => {
    const { rows } = await owner.query<{ name: string }>(
      `select c.conname as name from pg_constraint c
         join pg_namespace n on n.oid = c.connamespace where n.nspname = 'app'`,
    );
    const existing = new Set(rows.map((r) => r.name));
    const missing = Object.keys(CONSTRAINT_ERRORS).filter((name) => !existing.has(name));
    expect(missing).toEqual([]);
  });
});
