import pg from 'pg';
import { afterAll, beforeEach } from 'vitest';
import { CITUS_DISTRIBUTED_TABLES } from '../../src/db/citus.js';
import { sessionOf, statementsOf } from './round-trips.js';

// Every statement the API and the delivery worker send to a tenant table names its tenant
// (`tenant_id = $n`): PostgreSQL then uses the (tenant_id, …) indexes, and Citus sends the
// statement to the one shard of that tenant instead of all of them. RLS stays the guard; the
// predicate is for routing. Installed for every test file (vitest setupFiles): whatever a test
// makes the API or the worker send is recorded, and the file fails on a statement that does not
// name its tenant.

/** The sessions checked: the API's operation pool and the delivery worker's. */
const AUDITED_SESSIONS = new Set(['tenantql', 'tenantql-worker']);

const TABLES = CITUS_DISTRIBUTED_TABLES.join('|');
/** A tenant table as kysely quotes it or raw SQL writes it (not a function such as app.tasks_x()). */
const TENANT_TABLE = new RegExp(`(?:"app"\\."|\\bapp\\.)(?:${TABLES})"?(?![\\w("])`, 'g');
/** Named by a parameter or by the current tenant's setting. */
const TENANT_PREDICATE = /"?tenant_id"?\s*=\s*(?:\$\d+|app\.current_tenant_id\(\))/g;
/** OperationDatabase's ACROSS_TENANTS: a read across the caller's tenants by design. */
const ACROSS_TENANTS = '/* across tenants */';

/** Whether `statement` names a tenant for each tenant table it touches. */
export function namesItsTenant(statement: string): boolean {
  const tables = statement.match(TENANT_TABLE)?.length ?? 0;
  if (tables === 0 || statement.endsWith(ACROSS_TENANTS)) return true;
  // An inserted row carries its tenant_id, by which Citus routes it.
  if (/^\s*insert\s+into\b/i.test(statement) && tables === 1) return /"tenant_id"/.test(statement);
  return (statement.match(TENANT_PREDICATE)?.length ?? 0) >= tables;
}

interface Audit {
  /** Each statement without a tenant predicate, with the test that sent it first. */
  unnamed: Map<string, string>;
  currentTest: string;
}

/**
 * Installed once per process: a worker that runs several test files (vitest's `isolate: false`)
 * loads pg once, and wrapping its query method again for each file would stack the wrappers.
 */
function install(): Audit {
  const audit: Audit = { unnamed: new Map(), currentTest: '' };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with apply below
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const session = sessionOf(this);
    if (session !== undefined && AUDITED_SESSIONS.has(session)) {
      for (const { text } of statementsOf(args)) {
        if (!audit.unnamed.has(text) && !namesItsTenant(text)) {
          audit.unnamed.set(text, audit.currentTest);
        }
      }
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  return audit;
}

const INSTALLED = Symbol.for('tenantql.tenantPredicateAudit');
const audit = ((globalThis as { [INSTALLED]?: Audit })[INSTALLED] ??= install());
audit.unnamed.clear();
audit.currentTest = 'the file’s setup';

beforeEach((context) => {
  audit.currentTest = context.task.name;
});

afterAll(() => {
  const found = [...audit.unnamed];
  audit.unnamed.clear();
  if (found.length === 0) return;
  // The first line names one statement: CI's summary shows a failed file's first line only.
  throw new Error(
    `${found.length} statement(s) on a tenant table without a tenant predicate ` +
      `(tenant_id = …; see test/support/tenant-predicate-audit.ts), the first: ` +
      `${found[0][0].replace(/\s+/g, ' ')}\n` +
      found.map(([statement, test]) => `- in "${test}": ${statement}`).join('\n'),
  );
});
