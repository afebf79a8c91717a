import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { distribute } from '../../src/db/citus.js';
import { migrate } from '../../src/db/migrate.js';

/**
 * A Citus coordinator to run tests on: a superuser URL to a database of the coordinator that has
 * the citus extension and knows its workers (docs/operations.md, "Scaling out"). Unset in CI: the tests that
 * need a cluster skip, and the rest run on the embedded PostgreSQL.
 */
export const CITUS_TEST_URL = process.env.CITUS_TEST_URL || undefined;

// One creation at a time across test files: the roles are shared by every database of the
// cluster, and Citus re-asserts them on the workers while a database is being set up.
const CREATE_LOCK_KEY = 7_404_112_302;

function at(url: string, host: string, port: number, database: string): string {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  u.pathname = `/${database}`;
  return u.toString();
}

async function onNode(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

export interface CitusDatabase {
  /** Superuser URL of the new database on the coordinator. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A new database on the cluster of CITUS_TEST_URL, set up the way docs/operations.md ("Scaling out") says:
 * created with the citus extension on the coordinator and every worker, the workers added,
 * migrated (roles get the given passwords), then distributed by `tenantql citus distribute`'s
 * code. Every node is reached with the credentials of CITUS_TEST_URL.
 */
export async function createCitusDatabase(
  rolePasswords: Record<string, string>,
): Promise<CitusDatabase> {
  if (!CITUS_TEST_URL) throw new Error('CITUS_TEST_URL is not set');
  const name = `tenantql_citus_${randomBytes(6).toString('hex')}`;
  const coordinator = new pg.Client({ connectionString: CITUS_TEST_URL });
  await coordinator.connect();
  const nodes: { host: string; port: number }[] = [];
  const dropAll = async () => {
    for (const node of nodes) {
      await onNode(at(CITUS_TEST_URL, node.host, node.port, 'postgres'), [
        `drop database if exists ${name} with (force)`,
      ]);
    }
  };
  try {
    await coordinator.query('select pg_advisory_lock($1)', [CREATE_LOCK_KEY]);
    const { rows } = await coordinator.query<{ host: string; port: number; group: number }>(
      `select nodename as host, nodeport as port, groupid as "group" from pg_dist_node
        where noderole = 'primary' and isactive order by groupid`,
    );
    const main = rows.find((r) => r.group === 0) ?? {
      host: new URL(CITUS_TEST_URL).hostname,
      port: Number(new URL(CITUS_TEST_URL).port || 5432),
    };
    const workers = rows.filter((r) => r.group !== 0);
    if (workers.length === 0) throw new Error('CITUS_TEST_URL names a coordinator without workers');
    nodes.push(...workers, main);
    for (const node of nodes) {
      await onNode(at(CITUS_TEST_URL, node.host, node.port, 'postgres'), [
        `create database ${name}`,
      ]);
      await onNode(at(CITUS_TEST_URL, node.host, node.port, name), ['create extension citus']);
    }
    const url = at(CITUS_TEST_URL, main.host, main.port, name);
    await onNode(url, [
      `select citus_set_coordinator_host('${main.host}', ${main.port})`,
      ...workers.map((w) => `select citus_add_node('${w.host}', ${w.port})`),
    ]);
    await migrate(url, { rolePasswords });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await distribute(client, () => undefined);
    } finally {
      await client.end();
    }
    return { url, drop: dropAll };
  } catch (error) {
    await dropAll().catch(() => undefined);
    throw error;
  } finally {
    await coordinator.end();
  }
}
