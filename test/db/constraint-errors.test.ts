import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSTRAINT_ERRORS, toAppError } from '../../src/db/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await db.drop();
});

describe('the constraint → error table', () => {
  it('names only constraints that exist, so a renamed constraint fails here', async () => {
    const { rows } = await client.query<{ conname: string }>(
      `select conname from pg_constraint where connamespace = 'app'::regnamespace`,
    );
    const existing = new Set(rows.map((r) => r.conname));
    expect(Object.keys(CONSTRAINT_ERRORS).filter((name) => !existing.has(name))).toEqual([]);
  });

  it('covers every check, unique and foreign key a client can trip in the project domain', async () => {
    // Left out: primary keys (ids are generated) and the references to tenants and users, whose
    // values default to the operation's own tenant and user and are never client input.
    const { rows } = await client.query<{ conname: string }>(
      `select conname from pg_constraint
        where conrelid in ('app.projects'::regclass, 'app.tasks'::regclass, 'app.comments'::regclass)
          and contype in ('c', 'u', 'f')
          and not (contype = 'f' and confrelid in ('app.tenants'::regclass, 'app.users'::regclass))`,
    );
    expect(rows.map((r) => r.conname).filter((name) => !(name in CONSTRAINT_ERRORS))).toEqual([]);
  });
});

describe('an error a Citus coordinator relays from a worker', () => {
  // Citus passes on SQLSTATE, message and detail only; the worker names its shard's constraint.
  const relayed = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('maps to the field by the constraint the message names, without the shard id', () => {
    const duplicate = toAppError(
      relayed(
        '23505',
        'duplicate key value violates unique constraint "projects_key_unique_102057"',
      ),
    );
    expect(duplicate?.extensions).toMatchObject({ code: 'CONFLICT', field: 'key' });
    const reference = toAppError(
      relayed(
        '23503',
        'insert or update on table "tasks_102089" violates foreign key constraint "tasks_project_fk_102089"',
      ),
    );
    expect(reference?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'projectId' });
    const check = toAppError(
      relayed(
        '23514',
        'new row for relation "projects_102057" violates check constraint "projects_key_format"',
      ),
    );
    expect(check?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'key' });
  });

  it('names no field for a constraint the table does not know', () => {
    const other = toAppError(
      relayed(
        '23503',
        'insert or update on table "tasks_102089" violates foreign key constraint "tasks_created_by_fkey_102089"',
      ),
    );
    expect(other?.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });
});
