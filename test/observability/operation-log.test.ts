import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { signUpAccount } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

interface LogLine {
  msg: string;
  requestId?: string;
  operationName?: string;
  operationType?: string;
  tenantId?: string;
  userId?: string;
  outcome?: string;
  errorCodes?: string[];
  durationMs?: number;
  dbMs?: number;
  dbQueries?: number;
  transaction?: string;
}

let db: TestDatabase;
let api: TestApp;
let tenant: SeededTenant;
const raw: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  tenant = await seedTenant(db.ownerUrl, 'logs');
  const log = createLogger('info', { destination: { write: (line: string) => raw.push(line) } });
  api = await startTestApp(db, {}, { log });
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

function operationLines(): LogLine[] {
  return raw.map((line) => JSON.parse(line) as LogLine).filter((l) => l.msg === 'operation');
}

/** Log lines are written once the transaction has ended, just after the response. */
async function lineFor(predicate: (line: LogLine) => boolean): Promise<LogLine> {
  for (let i = 0; i < 50; i++) {
    const found = operationLines().find(predicate);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no such log line in:\n${raw.join('')}`);
}

describe('operation log', () => {
  it('writes one JSON line per operation with ids, tenant, user, timings and outcome', async () => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'req-logs-1',
        'x-tenant-id': tenant.id,
        authorization: `Bearer ${await api.app.deps.tokens.signAccess(tenant.users.member, undefined)}`,
      },
      body: JSON.stringify({ query: 'query ListProjects { projects { totalCount } }' }),
    });
    expect(response.status).toBe(200);
    const line = await lineFor((l) => l.requestId === 'req-logs-1');
    expect(line).toMatchObject({
      operationName: 'ListProjects',
      operationType: 'query',
      tenantId: tenant.id,
      userId: tenant.users.member,
      outcome: 'success',
      transaction: 'committed',
    });
    expect(line.errorCodes).toBeUndefined();
    expect(line.durationMs).toBeGreaterThan(0);
    expect(line.dbMs).toBeGreaterThan(0);
    expect(line.dbMs).toBeLessThanOrEqual(line.durationMs ?? 0);
    expect(line.dbQueries).toBeGreaterThan(0);
    // Nothing else in the response path logs the same request twice.
    expect(operationLines().filter((l) => l.requestId === 'req-logs-1')).toHaveLength(1);
  });

  it('records error codes and the rollback of a failed mutation', async () => {
    const call = await callerFor(api, tenant.id, tenant.users.admin);
    const result = await call(
      `mutation DuplicateProject { createProject(input: { key: "PRJ", name: "again" }) { id } }`,
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const line = await lineFor((l) => l.operationName === 'DuplicateProject');
    expect(line).toMatchObject({
      operationType: 'mutation',
      outcome: 'error',
      errorCodes: ['CONFLICT'],
      transaction: 'rolled back',
    });
  });

  it('never logs passwords, tokens or variables', async () => {
    const account = await signUpAccount(api, 'secretive');
    const login = await api.request<{ login: { token: string; refreshToken: string } }>(
      `mutation Login($input: LoginInput!) { login(input: $input) { token refreshToken } }`,
      { input: { email: account.email, password: account.password } },
    );
    const token = login.data?.login.token;
    expect(token).toBeTruthy();
    await api.request('query Me { me { id } }', {}, { token: token ?? '' });
    await lineFor((l) => l.operationName === 'Me');
    await lineFor((l) => l.operationName === 'Login');
    const everything = raw.join('');
    expect(everything).not.toContain(account.password);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(login.data?.login.refreshToken);
    expect(everything).not.toContain(account.email);
  });
});
