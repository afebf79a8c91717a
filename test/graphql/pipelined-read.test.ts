import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FairShare } from '../../src/db/fair-share.js';
import { OperationDatabase } from '../../src/db/operation.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, ownerQuery, texts } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { roundTrips } from '../support/round-trips.js';

// A read-only operation's first read travels with the context statement, before the membership
// is known: these tests make sure that read's rows never reach a caller the check refuses.

const PROJECT = `query($id: ID!) {
  project(id: $id) { name tasks(first: 20) { edges { node { title comments(first: 10) {
    edges { node { body } } } } } } }
}`;
const LISTS = `query($projectId: ID!) {
  projects { edges { node { name } } }
  tasks(projectId: $projectId) { edges { node { title } } }
}`;
const NAMES = ['name', 'title', 'body'];

let db: TestDatabase;
let api: TestApp;
let open: SeededTenant;
let suspended: SeededTenant;
let unlisted: SeededTenant;
let strict: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  [open, suspended, unlisted] = await Promise.all([
    seedTenant(db.ownerUrl, 'Open'),
    seedTenant(db.ownerUrl, 'Suspended'),
    seedTenant(db.ownerUrl, 'Unlisted'),
  ]);
  await ownerQuery(db.ownerUrl, `update app.tenants set status = 'suspended' where id = $1`, [
    suspended.id,
  ]);
  api = await startTestApp(db);
  strict = await startTestApp(db, { TENANT_ALLOWLIST: `${open.slug},${suspended.slug}` });
});
afterAll(async () => {
  await Promise.all([api?.close(), strict?.close()]);
  await db.drop();
});

describe('a read sent with the context statement', () => {
  it('answers the reference operation in one round trip', async () => {
    const call = await callerFor(api, open.id, open.users.viewer);
    await call(PROJECT, { id: open.projectId });
    let result: Awaited<ReturnType<typeof call>> | undefined;
    const trips = await roundTrips(async () => {
      result = await call(PROJECT, { id: open.projectId });
    });
    expect(texts(result?.data, NAMES)).toEqual(['Open project', 'Open task', 'Open comment']);
    expect(trips).toHaveLength(1);
    if (CITUS_TEST_URL) {
      // BEGIN + context statement + the planned statement + COMMIT: a Citus coordinator replays
      // the context's SET LOCAL on its workers only inside a transaction block.
      expect(trips[0]).toMatch(
        /^start transaction read only \+ .*set_operation_context.* \+ .*string_agg.* \+ commit$/s,
      );
      return;
    }
    // The context statement and the planned statement building the response, as one
    // transaction without BEGIN and COMMIT (soleRead), read only.
    expect(trips[0]).toMatch(
      /^\/\* held \*\/ select .*set_config\('transaction_read_only', 'on', true\).*set_operation_context[^+]* \+ [^+]*string_agg[^+]*$/s,
    );
  });

  // On Citus planned reads keep BEGIN … COMMIT (the planner passes transactionBlock).
  it.skipIf(CITUS_TEST_URL)(
    'runs a planned read in a read-only transaction of its own, which ends with it',
    async () => {
      const single = await startTestApp(db, { DATABASE_POOL_SIZE: '1' });
      try {
        const operation = () =>
          new OperationDatabase(single.app.deps.db, {
            userId: open.users.owner,
            tenant: { id: open.id },
            tenantHint: '',
          });
        const [inside] = await operation().soleRead<{ tenant: string; read_only: string }>(
          `select current_setting('app.tenant_id', true) as tenant,
                current_setting('transaction_read_only') as read_only`,
          [],
        );
        expect(inside).toEqual({ tenant: open.id, read_only: 'on' });
        await expect(
          operation().soleRead(`update app.projects set name = 'x' where tenant_id = $1`, [
            open.id,
          ]),
        ).rejects.toMatchObject({
          message: 'This operation is read-only.',
          extensions: { code: 'FORBIDDEN' },
        });
        // The pool's one connection, after both: no tenant left, no transaction, writable.
        // A transaction left open would have started before this statement.
        const { rows } = await sql<{ tenant: string; read_only: string; fresh: boolean }>`
        select coalesce(current_setting('app.tenant_id', true), '') as tenant,
               current_setting('transaction_read_only') as read_only,
               now() = statement_timestamp() as fresh`.execute(single.app.deps.db);
        expect(rows).toEqual([{ tenant: '', read_only: 'off', fresh: true }]);
      } finally {
        await single.close();
      }
    },
  );

  it('hands the rows to nobody once the tenant is suspended, though the read ran', async () => {
    const later = await seedTenant(db.ownerUrl, 'Later');
    const call = await callerFor(api, later.id, later.users.owner);
    // A first operation verifies the membership, which the rate limit then remembers.
    expect(texts((await call(PROJECT, { id: later.projectId })).data, NAMES)).toHaveLength(3);
    await ownerQuery(db.ownerUrl, `update app.tenants set status = 'suspended' where id = $1`, [
      later.id,
    ]);
    for (const [query, variables] of [
      [PROJECT, { id: later.projectId }],
      [LISTS, { projectId: later.projectId }],
    ] as const) {
      const trips = await roundTrips(async () => {
        const result = await call(query, variables);
        expect(errorCode(result)).toBe('TENANT_SUSPENDED');
        expect(texts(result, NAMES)).toEqual([]);
      });
      // The read went with the context statement, so only the gate kept its rows back.
      expect(trips[0]).toMatch(/set_operation_context.* \+ /s);
    }
  });

  it('sends notification and workflow reads with the context statement, and gates them too', async () => {
    const later = await seedTenant(db.ownerUrl, 'Notified');
    await ownerQuery(
      db.ownerUrl,
      `insert into app.notifications (tenant_id, recipient_id, kind, payload)
       values ($1, $2, 'MEMBER_ADDED', '{}')`,
      [later.id, later.users.member],
    );
    const call = await callerFor(api, later.id, later.users.member);
    const READS = [
      ['{ notifications(first: 5) { edges { node { message } } } }', '"app"."notifications"'],
      ['{ unreadNotificationCount }', '"app"."notifications"'],
      ['{ projectWorkflow { from to } }', '"app"."project_workflow"'],
    ] as const;
    await call(READS[0][0]);
    for (const [query, table] of READS) {
      let result: Awaited<ReturnType<typeof call>> | undefined;
      const trips = await roundTrips(async () => {
        result = await call(query);
      });
      expect(result?.errors).toBeUndefined();
      expect(trips).toHaveLength(2);
      expect(trips[0]).toContain(`set_operation_context`);
      expect(trips[0].split(' + ').at(-1)).toContain(table);
    }
    const INBOX = `{ notifications(first: 5) { edges { node { message } } } }`;
    expect(texts((await call(INBOX)).data, ['message']).length).toBeGreaterThan(0);

    await ownerQuery(db.ownerUrl, `update app.tenants set status = 'suspended' where id = $1`, [
      later.id,
    ]);
    const refused = await roundTrips(async () => {
      const result = await call(INBOX);
      expect(errorCode(result)).toBe('TENANT_SUSPENDED');
      expect(texts(result.data, ['message'])).toEqual([]);
    });
    expect(refused[0]).toMatch(/set_operation_context.* \+ /s);
  });

  it('hands the rows to nobody once the member is removed, though the read ran', async () => {
    const later = await seedTenant(db.ownerUrl, 'Removed');
    const call = await callerFor(api, later.id, later.users.member);
    expect(texts((await call(PROJECT, { id: later.projectId })).data, NAMES)).toHaveLength(3);
    await ownerQuery(
      db.ownerUrl,
      `delete from app.memberships where tenant_id = $1 and user_id = $2`,
      [later.id, later.users.member],
    );
    const trips = await roundTrips(async () => {
      const result = await call(PROJECT, { id: later.projectId });
      expect(errorCode(result)).toBe('FORBIDDEN');
      expect(texts(result, NAMES)).toEqual([]);
    });
    expect(trips[0]).toMatch(/set_operation_context.* \+ /s);
    // A field that checks no membership itself still reads nothing in a refused tenant: the
    // rows of its read, sent with the context statement, are held back and refused.
    const meTrips = await roundTrips(async () => {
      const me = await call('{ me { email } }');
      expect(errorCode(me)).toBe('FORBIDDEN');
      expect(texts(me, ['email'])).toEqual([]);
    });
    expect(meTrips[0]).toMatch(/set_operation_context.* \+ .*"app"\."users"/s);
  });

  it('waits for the check before reading for a membership it has not verified', async () => {
    for (const [api_, target] of [
      [api, suspended],
      [strict, unlisted],
    ] as const) {
      const call = await callerFor(api_, target.id, target.users.owner);
      const trips = await roundTrips(async () => {
        const result = await call(PROJECT, { id: target.projectId });
        expect(errorCode(result)).toMatch(/^TENANT_(SUSPENDED|NOT_ALLOWED)$/);
        expect(texts(result, NAMES)).toEqual([]);
      });
      expect(trips[0]).toMatch(/set_operation_context[^+]*$/s);
    }
  });

  it('hands a forged tenant header nothing, by id or by list', async () => {
    // A member of Open naming the suspended tenant and Unlisted, and asking for their ids.
    for (const target of [suspended, unlisted]) {
      const forged = await callerFor(api, target.id, open.users.owner);
      for (const [query, variables] of [
        [PROJECT, { id: target.projectId }],
        [LISTS, { projectId: target.projectId }],
      ] as const) {
        const result = await forged(query, variables);
        expect(errorCode(result)).toBe('FORBIDDEN');
        expect(texts(result, NAMES)).toEqual([]);
      }
    }
    // And its own tenant with the other tenant's ids: RLS finds nothing.
    const own = await callerFor(api, open.id, open.users.owner);
    const result = await own(PROJECT, { id: unlisted.projectId });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ project: null });
  });

  it('runs no transaction when refused its turn at the pool', async () => {
    const gate = new FairShare({ capacity: 1, perKey: 1, timeoutMs: 50 });
    const holder = await gate.acquire('tenant');
    const op = new OperationDatabase(api.app.deps.db, {
      userId: open.users.owner,
      tenant: { id: open.id },
      tenantHint: '',
      fairShare: { gate, key: () => 'tenant' },
    });
    op.setReadOnly(true);
    await expect(op.soleRead('select 1', [])).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
    expect(op.stats).toMatchObject({ outcome: 'none', queries: 0 });
    holder();
  });

  it('makes no tenant outside the allowlist current, so even a read past the gate sees nothing', async () => {
    const op = new OperationDatabase(strict.app.deps.db, {
      userId: unlisted.users.owner,
      tenant: { id: unlisted.id },
      tenantHint: '',
      allowlist: [open.slug],
    });
    // Without the gate's plugin: what RLS alone lets this read of the named tenant, sent with the
    // context statement, see.
    const raw = (await op.transaction()).withoutPlugins();
    const trips = await roundTrips(async () => {
      const { rows } = await sql<{ tenant: string; projects: number }>`
        select current_setting('app.tenant_id', true) as tenant,
               (select count(*) from app.projects
                 where tenant_id = ${unlisted.id}::uuid)::int as projects`.execute(raw);
      expect(rows).toEqual([{ tenant: '', projects: 0 }]);
    });
    expect(trips[0]).toMatch(/set_operation_context.* \+ /s);
    await expect(op.tenant()).rejects.toMatchObject({ extensions: { code: 'TENANT_NOT_ALLOWED' } });
    await op.finish(false);
  });
});
