import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue } from '../../../src/db/schema.js';
import type { GraphQLResult, TestApp } from '../app.js';
import { callersOf, errorCode, ownerQuery, texts, type Call } from '../callers.js';
import { createTestDatabase, type TestDatabase } from '../database.js';
import { seedTenant, type SeededTenant } from '../fixtures.js';
import { BACKGROUND_SESSIONS } from '../round-trips.js';
import type { Route, RoutedApi } from './route.js';

const TENANTS = 20;
const OPERATIONS = 400;
const CONCURRENCY = 16;
const SERVER_CONNECTIONS = 2;
const ROLES: MembershipRoleValue[] = ['owner', 'admin', 'member', 'viewer'];

/** Where a response carries a tenant's own text. */
const TEXT_KEYS = ['name', 'title', 'body'];

const READ_ALL = `{
  projects { edges { node { id name tasks { edges { node { id title comments { edges { node { body author { name } } } } } } } } } }
}`;

async function runBounded(count: number, limit: number, op: (i: number) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < count) await op(next++);
  });
  await Promise.all(workers);
}

/**
 * Defines the pool-leak tests for `route`; call once at the top level of a test file. Fewer server
 * connections than concurrent operations, so every connection serves many tenants in turn, also
 * right after operations that failed.
 */
export function poolLeakSuite(route: Route): void {
  let db: TestDatabase;
  let routed: RoutedApi;
  let api: TestApp;
  let tenants: { seed: SeededTenant; label: string; as: Record<MembershipRoleValue, Call> }[];

  beforeAll(async () => {
    db = await createTestDatabase();
    routed = await route.start(db, SERVER_CONNECTIONS);
    api = routed.api;
    tenants = [];
    for (let i = 0; i < TENANTS; i++) {
      // Labels use letters no uuid or number contains, so a leaked row is recognisable.
      const label = `leak${String.fromCharCode(107 + (i % 15))}${String.fromCharCode(107 + Math.floor(i / 15))}`;
      const seed = await seedTenant(db.ownerUrl, label);
      tenants.push({ seed, label, as: await callersOf(api, seed) });
    }
  }, 120_000);
  afterAll(async () => {
    await routed?.close();
    await db?.drop();
  });

  describe(`a pool of ${SERVER_CONNECTIONS} connections under ${OPERATIONS} interleaved operations of ${TENANTS} tenants${route.suffix}`, () => {
    it('answers every caller with its own tenant only, also after failures', async () => {
      const failures: string[] = [];
      const check = (ok: boolean, what: string) => {
        if (!ok) failures.push(what);
      };
      await runBounded(OPERATIONS, CONCURRENCY, async (i) => {
        const tenant = tenants[i % TENANTS];
        const other = tenants[(i + 7) % TENANTS];
        // Every tenant runs every kind of operation in every role, neighbours being other tenants.
        const kind = Math.floor(i / TENANTS) % 5;
        const role = ROLES[Math.floor(i / (TENANTS * 5)) % ROLES.length];
        const call = tenant.as[role];
        const writer = role !== 'viewer';
        const own = (result: GraphQLResult<unknown>, what: string) => {
          const found = texts(result.data, TEXT_KEYS);
          check(
            found.every(
              (text) => text.startsWith(tenant.label) || text.startsWith(`Tenant ${tenant.label}`),
            ),
            `${what} #${i} as ${tenant.label}/${role} saw ${found.filter((t) => !t.startsWith(tenant.label)).join(', ')}`,
          );
        };
        switch (kind) {
          case 0: {
            const result = await call(READ_ALL);
            check(result.errors === undefined, `read #${i}: ${JSON.stringify(result.errors)}`);
            own(result, 'read');
            check(texts(result.data, TEXT_KEYS).length >= 3, `read #${i} saw too little`);
            break;
          }
          case 1: {
            // Fails at the database on the second field: the first write must roll back with it.
            const second =
              i % 2 === 0
                ? `b: createProject(input: { name: "${tenant.label} dup", key: "PRJ" }) { id }`
                : `b: createTask(input: { projectId: "${tenant.seed.projectId}", title: "${tenant.label} x", assigneeId: "${other.seed.users.member}" }) { id }`;
            const result = await call(`mutation {
              a: createProject(input: { name: "${tenant.label} partial", key: "LEAK${i}" }) { id }
              ${second}
            }`);
            check(result.data == null, `partial #${i} returned data`);
            const expected = writer ? (i % 2 === 0 ? 'CONFLICT' : 'BAD_USER_INPUT') : 'FORBIDDEN';
            check(
              errorCode(result) === expected,
              `partial #${i}: ${String(errorCode(result))} ≠ ${expected}`,
            );
            break;
          }
          case 2: {
            // A read, then a failure in the same operation: refused by the service before any SQL,
            // or by Postgres itself (a cursor whose timestamp does not exist), which aborts the
            // transaction under the other fields.
            const failing =
              i % 2 === 0
                ? `bad: task(id: "not-a-uuid") { title }`
                : `bad: projects(after: "${Buffer.from(JSON.stringify(['CREATED_AT', '2024-13-45T00:00:00.000000Z', randomUUID()])).toString('base64url')}") { totalCount }`;
            const result = await call(`{
              projects { edges { node { name tasks { edges { node { title } } } } } }
              theirs: task(id: "${other.seed.taskId}") { title }
              ${failing}
            }`);
            const codes = (result.errors ?? []).map((e) => e.extensions?.code);
            check(codes.includes('BAD_USER_INPUT'), `invalid #${i}: ${codes.join(', ')}`);
            own(result, 'invalid');
            break;
          }
          case 3: {
            const result = await call(
              `mutation($t: ID!, $body: String!) { addComment(input: { taskId: $t, body: $body }) { body task { title } author { name } } }`,
              { t: tenant.seed.taskId, body: `${tenant.label} note ${i}` },
            );
            if (writer) {
              check(result.errors === undefined, `comment #${i}: ${JSON.stringify(result.errors)}`);
              own(result, 'comment');
            } else
              check(
                errorCode(result) === 'FORBIDDEN',
                `comment #${i}: ${String(errorCode(result))}`,
              );
            break;
          }
          default: {
            const result = await call(
              `query($mine: ID!, $theirs: ID!, $p: ID!) {
                mine: task(id: $mine) { title project { name } }
                theirs: task(id: $theirs) { title }
                theirTasks: tasks(projectId: $p) { totalCount edges { node { title } } }
              }`,
              { mine: tenant.seed.taskId, theirs: other.seed.taskId, p: other.seed.projectId },
            );
            check(result.errors === undefined, `by id #${i}: ${JSON.stringify(result.errors)}`);
            check(
              JSON.stringify(result.data) ===
                JSON.stringify({
                  mine: {
                    title: `${tenant.label} task`,
                    project: { name: `${tenant.label} project` },
                  },
                  theirs: null,
                  theirTasks: { totalCount: 0, edges: [] },
                }),
              `by id #${i}: ${JSON.stringify(result.data)}`,
            );
          }
        }
      });
      expect(failures).toEqual([]);

      const stored = await ownerQuery<{ partial: string; foreign: string; comments: string }>(
        db.ownerUrl,
        `select (select count(*) from app.projects where key like 'LEAK%') as partial,
                (select count(*) from app.comments c join app.tenants t on t.id = c.tenant_id
                  where c.body not like split_part(t.name, ' ', 2) || '%') as foreign,
                (select count(*) from app.comments where body like '%note%') as comments`,
      );
      expect(stored).toEqual([{ partial: '0', foreign: '0', comments: String(3 * 20) }]);

      // The pool is still usable and carries no context: an unknown tenant reads nothing.
      const stranger = await tenants[0].as.owner(`{ task(id: "${randomUUID()}") { id } }`);
      expect(stranger.data).toEqual({ task: null });

      // All of it ran on the route's few server connections, each serving tenant after tenant.
      // The live-updates listener (and on a Citus cluster the live-event poller) holds one more
      // API-role session of its own, outside the pool.
      const [servers] = await ownerQuery<{ n: number }>(
        db.ownerUrl,
        `select count(*)::int as n from pg_stat_activity
          where usename = 'tenantql_api' and datname = current_database()
            and application_name <> all($1::text[])`,
        [BACKGROUND_SESSIONS],
      );
      expect(servers.n).toBeGreaterThan(0);
      expect(servers.n).toBeLessThanOrEqual(routed.serverConnections);
    }, 120_000);
  });
}
