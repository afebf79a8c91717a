import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';

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
    const port = await freePort();
    const child = spawn('node', ['bin/start.js'], {
      env: {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: db.apiUrl,
        MIGRATION_DATABASE_URL: db.ownerUrl,
        TENANTQL_DATA_DIR: dataDir,
        JWT_SECRET: 'external-mode-secret-long-enough-0123456789abcdef',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );

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
    expect(answer, output).toEqual({ data: { __typename: 'Query' } });
    expect(output).toContain('"database":"external"');
    await expect(fs.access(path.join(dataDir, 'postgres'))).rejects.toThrow();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});
