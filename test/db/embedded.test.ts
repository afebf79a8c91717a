import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.js';
import { createLogger } from '../../src/logger.js';
import { freePort } from '../support/ports.js';

let dataDir: string;
let port: number;
const log = createLogger('silent');

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const start = () => startEmbeddedPostgres({ dataDir, port, databaseName: 'tenantql' }, log);

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-embedded-'));
  port = await freePort();
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  let server: EmbeddedServer | undefined;

  it('creates a cluster on first start and keeps its data across restarts', async () => {
    server = await start();
    expect(server.created).toBe(true);
    await query(
      server.migrationUrl,
      'create table kept (note text); insert into kept values ($$hello$$)',
    );
    await server.stop();

    server = await start();
    expect(server.created).toBe(false);
    expect((await query(server.migrationUrl, 'select note from kept')).rows).toEqual([
      { note: 'hello' },
    ]);
  });

  it('refuses a second server on the same data directory, and tools attach to the running one', async () => {
    await expect(start()).rejects.toThrow(/already running/);
    const attached = await startEmbeddedPostgres(
      { dataDir, port: 1, databaseName: 'tenantql' },
      log,
      {
        attach: true,
      },
    );
    expect(
      (await query(attached.migrationUrl, 'select count(*)::int as n from kept')).rows,
    ).toEqual([{ n: 1 }]);
    await attached.stop(); // leaves the running server alone
    expect((await query(server!.migrationUrl, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('recovers from a crash that left a stale postmaster.pid', async () => {
    const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (
      let i = 0;
      i < 100 && existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(existsSync(pidFile)).toBe(true);

    server = await start();
    expect((await query(server.migrationUrl, 'select note from kept')).rows).toEqual([
      { note: 'hello' },
    ]);
    await server.stop();
    expect(existsSync(pidFile)).toBe(false);
  });
});
