import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnServer } from '../support/server-process.js';

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-external-'));
});
afterAll(async () => {
  await db.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('npm start with DATABASE_URL', () => {
  it('serves from the given server, starts no embedded PostgreSQL, and stops on SIGTERM', async () => {
    const { port, output: printed, exited, child } = await spawnServer(db, dataDir, {});
    let answer: unknown;
    for (let i = 0; i < 100 && answer === undefined; i++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        answer = await response.json();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(answer, printed()).toEqual({ data: { __typename: 'Query' } });
    expect(printed()).toContain('"database":"external"');
    await expect(fs.access(path.join(dataDir, 'postgres'))).rejects.toThrow();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(printed()).toContain('"msg":"stopped"');
  });
});
