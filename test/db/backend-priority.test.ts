import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendPriority } from '../../src/db/backend-priority.js';
import { createPool } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { schedulingNice } from '../support/scheduling.js';

const started = BackendPriority.start(10, {
  unavailable: () => undefined,
  lowered: () => undefined,
});
const unavailable = started instanceof BackendPriority ? undefined : started.unavailable;

/** pg keeps the backend's process id on the client; its types do not say so. */
const backendPid = (client: pg.PoolClient) =>
  (client as unknown as { processID: number }).processID;

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.apiUrl, max: 2, statementTimeoutMs: 0 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** A BackendPriority whose reports are kept, to be read by the test. */
function startRecorded() {
  const reasons: string[] = [];
  const lowered: string[] = [];
  const priority = BackendPriority.start(10, {
    unavailable: (reason) => reasons.push(reason),
    lowered: (how) => lowered.push(how),
  });
  if (!(priority instanceof BackendPriority)) throw new Error(priority.unavailable);
  return { priority, reasons, lowered };
}

describe.skipIf(unavailable)(`backend CPU priority (${unavailable ?? 'available here'})`, () => {
  it("lowers an over-share operation's backend and gives the usual priority back", async () => {
    const { priority, reasons, lowered } = startRecorded();
    const client = await pool.connect();
    try {
      const pid = backendPid(client);
      const usual = schedulingNice(pid);
      priority.set(client, false);
      expect(schedulingNice(pid)).toBe(usual);
      priority.set(client, true);
      expect(schedulingNice(pid)).toBe(10);
      // The backend still serves its connection at that priority.
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      expect(rows[0]?.pid).toBe(pid);
      priority.set(client, false);
      expect(schedulingNice(pid)).toBe(usual);
      expect(reasons).toEqual([]);
      // Said once, however often it lowers.
      priority.set(client, true);
      priority.set(client, false);
      expect(lowered).toHaveLength(1);
    } finally {
      client.release();
    }
  });

  it('never touches a process that is not the backend of this very connection', async () => {
    const { priority, reasons, lowered } = startRecorded();
    const client = await pool.connect();
    try {
      const before = schedulingNice(process.pid);
      const backendBefore = schedulingNice(backendPid(client));
      // A remote server's backend id that is a local process id: here, this test's own.
      const impostor = Object.assign(Object.create(client) as pg.PoolClient, {
        processID: process.pid,
      });
      priority.set(impostor, true);
      expect(schedulingNice(process.pid)).toBe(before);
      expect(reasons).toEqual([
        'PostgreSQL does not run on this host (or its process titles are off)',
      ]);
      expect(lowered).toEqual([]);
      // Once it has found the backends are not its to change, it changes none.
      priority.set(client, true);
      expect(schedulingNice(backendPid(client))).toBe(backendBefore);
    } finally {
      client.release();
    }
  });
});
