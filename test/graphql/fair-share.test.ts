import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendPriority } from '../../src/db/backend-priority.js';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { callersOf, errorCode } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { schedulingNice } from '../support/scheduling.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'fairA'), seedTenant(db.ownerUrl, 'fairB')]);
});
afterAll(async () => {
  await db.drop();
});

/** A pool of 4 with a share of one connection per tenant, and time enough to wait for it. */
const SHARE_OF_ONE = {
  DATABASE_POOL_SIZE: '4',
  DATABASE_TENANT_MAX_CONNECTIONS: '1',
  DATABASE_ACQUIRE_TIMEOUT_MS: '20000',
};

const RENAME = `mutation ($id: ID!, $name: String!) {
  updateProject(id: $id, input: { name: $name }) { name } }`;
const LIGHT = `query ($id: ID!) { project(id: $id) { name } }`;

/**
 * Holds a row lock on tenant A's project from outside the API, so every operation of A that
 * renames it keeps its connection while it waits: a genuinely slow operation, for as long as the
 * test wants.
 */
async function lockProject(tenant: SeededTenant): Promise<pg.Client> {
  return lockRow('projects', tenant.id, tenant.projectId);
}

async function lockRow(table: 'projects' | 'tasks', tenantId: string, id: string) {
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  await client.query('begin');
  await client.query(`select 1 from app.${table} where tenant_id = $1 and id = $2 for update`, [
    tenantId,
    id,
  ]);
  return client;
}

async function waitingOnLock(): Promise<number> {
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  try {
    // On a Citus cluster the renames wait on the worker holding A's shard: citus_stat_activity
    // shows every node's sessions.
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from ${CITUS_TEST_URL ? 'citus_stat_activity' : 'pg_stat_activity'}
        where wait_event_type = 'Lock' and datname = current_database()`,
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/** Floods A with 20 renames stuck on the lock, then times one light read of B. */
async function floodAndMeasure(api: TestApp) {
  const asA = await callersOf(api, a);
  const asB = await callersOf(api, b);
  // Both callers' memberships are verified once, as any client's first operation does.
  await asA.owner(LIGHT, { id: a.projectId });
  await asB.viewer(LIGHT, { id: b.projectId });
  const lock = await lockProject(a);
  const finished: number[] = [];
  const flood: Promise<GraphQLResult>[] = [];
  for (let i = 0; i < 20; i += 1) {
    flood.push(
      asA.owner(RENAME, { id: a.projectId, name: `rename ${i}` }).then((result) => {
        finished.push(i);
        return result;
      }),
    );
    // Submitted one after another, so "in order" has a meaning.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await waitFor('a rename to wait on the lock', async () => (await waitingOnLock()) >= 1);
  const started = performance.now();
  const light = await asB.viewer<{ project: { name: string } }>(LIGHT, {
    id: b.projectId,
  });
  const lightMs = performance.now() - started;
  const stuck = await waitingOnLock();
  await lock.query('rollback');
  await lock.end();
  const results = await Promise.all(flood);
  return { light, lightMs, stuck, finished, results };
}

describe('each tenant gets a fair share of the pool', () => {
  it('a flood of slow operations of tenant A leaves tenant B served at once; A drains in order', async () => {
    const api = await startTestApp(db, {
      ...SHARE_OF_ONE,
    });
    try {
      const { light, lightMs, stuck, finished, results } = await floodAndMeasure(api);
      expect(light.errors).toBeUndefined();
      expect(light.data?.project.name).toBe(`fairB project`);
      // B did not wait for A's lock: it was served while A still held its one connection.
      expect(lightMs).toBeLessThan(2_000);
      // A's share is one connection: one rename waits on the lock, the rest wait their turn.
      expect(stuck).toBe(1);
      expect(results.map(errorCode)).toEqual(Array(20).fill(undefined));
      expect(finished).toEqual([...Array(20).keys()]);
    } finally {
      await api.close();
    }
  });

  it('without a share (the whole pool per tenant), the same flood starves B', async () => {
    const api = await startTestApp(db, {
      DATABASE_POOL_SIZE: '4',
      DATABASE_TENANT_MAX_CONNECTIONS: '4',
      DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
    });
    try {
      const { light, stuck } = await floodAndMeasure(api);
      // The control: this is the first-come pool the share replaces.
      expect(stuck).toBe(4);
      expect(errorCode(light)).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await api.close();
    }
  });
});

const RETITLE = `mutation ($id: ID!, $title: String!) {
  updateTask(id: $id, input: { title: $title }) { title } }`;

const priority = BackendPriority.start(10, {
  unavailable: () => undefined,
  lowered: () => undefined,
});
const noPriority = priority instanceof BackendPriority ? undefined : priority.unavailable;

// On a Citus cluster the lock waits are on the workers, not on the API's own backends.
describe.skipIf(noPriority ?? CITUS_TEST_URL)(
  `CPU priority of a tenant over its share (${noPriority ?? 'available here'})`,
  () => {
    /** The backends waiting on a lock, with the table their statement writes. */
    async function waitingBackends(): Promise<{ pid: number; table: string }[]> {
      const client = new pg.Client({ connectionString: db.ownerUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ pid: number; query: string }>(
          `select pid, query from pg_stat_activity
            where wait_event_type = 'Lock' and datname = current_database()`,
        );
        return rows.map(({ pid, query }) => ({
          pid,
          table: /"?(projects|tasks)"?\s+set\b/i.exec(query)?.[1] ?? query,
        }));
      } finally {
        await client.end();
      }
    }

    it("runs A's over-share operation on a lowered backend, B's within-share one as usual", async () => {
      const api = await startTestApp(db, {
        ...SHARE_OF_ONE,
      });
      const locks: pg.Client[] = [];
      try {
        const asA = await callersOf(api, a);
        const asB = await callersOf(api, b);
        await asA.owner(LIGHT, { id: a.projectId });
        await asB.viewer(LIGHT, { id: b.projectId });
        const projectOfA = await lockRow('projects', a.id, a.projectId);
        const taskOfA = await lockRow('tasks', a.id, a.taskId);
        const projectOfB = await lockRow('projects', b.id, b.projectId);
        locks.push(projectOfA, taskOfA, projectOfB);
        // A's first operation is within its share (one connection); it waits on the lock.
        const first = asA.owner(RENAME, { id: a.projectId, name: 'first' });
        await waitFor('A’s rename to wait', async () => (await waitingBackends()).length === 1);
        const firstOfA = (await waitingBackends())[0]?.pid;
        // Its second is over the share: it waits its turn, then runs lowered.
        const second = asA.owner(RETITLE, { id: a.taskId, title: 'second' });
        const ofB = asB.owner(RENAME, { id: b.projectId, name: 'of B' });
        await waitFor('B’s rename to wait', async () => (await waitingBackends()).length === 2);
        const backendOfB = (await waitingBackends()).find(({ pid }) => pid !== firstOfA)?.pid;
        await projectOfA.query('rollback');
        expect(errorCode(await first)).toBeUndefined();
        await waitFor('A’s second operation to wait', async () =>
          (await waitingBackends()).some(({ table }) => table === 'tasks'),
        );
        const secondOfA = (await waitingBackends()).find(({ table }) => table === 'tasks')?.pid;
        expect(schedulingNice(secondOfA as number)).toBe(10);
        expect(schedulingNice(backendOfB as number)).toBe(0);
        await taskOfA.query('rollback');
        await projectOfB.query('rollback');
        expect([await second, await ofB].map(errorCode)).toEqual([undefined, undefined]);
      } finally {
        await Promise.all(locks.map((lock) => lock.end()));
        await api.close();
      }
    });
  },
);
