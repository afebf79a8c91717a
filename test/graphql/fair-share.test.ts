import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { callersOf, errorCode } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
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

const RENAME = `mutation ($id: ID!, $name: String!) {
  updateProject(id: $id, input: { name: $name }) { name } }`;
const LIGHT = `query ($id: ID!) { project(id: $id) { name } }`;

/**
 * Holds a row lock on tenant A's project from outside the API, so every operation of A that
 * renames it keeps its connection while it waits: a genuinely slow operation, for as long as the
 * test wants.
 */
async function lockProject(tenant: SeededTenant): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from app.projects where tenant_id = $1 and id = $2 for update', [
    tenant.id,
    tenant.projectId,
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
      DATABASE_POOL_SIZE: '4',
      DATABASE_TENANT_MAX_CONNECTIONS: '1',
      DATABASE_ACQUIRE_TIMEOUT_MS: '20000',
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
