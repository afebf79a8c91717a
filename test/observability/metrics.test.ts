import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundedLabel } from '../../src/observability/metrics.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { metricSample as sample } from '../support/metrics.js';

let db: TestDatabase;
let api: TestApp;
let first: SeededTenant;
let second: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  first = await seedTenant(db.ownerUrl, 'metrics-a');
  second = await seedTenant(db.ownerUrl, 'metrics-b');
  // One named tenant: the second one seen must be reported as "other".
  api = await startTestApp(db, { METRICS_TENANT_LABEL_LIMIT: '1' });
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function scrape(): Promise<string> {
  const response = await fetch(new URL('/metrics', api.url));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

async function settle(): Promise<void> {
  // Samples are recorded once each transaction has ended, just after its response.
  await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('/metrics', () => {
  it('counts operations by name, tenant and outcome, with latency and database histograms', async () => {
    const a = await callerFor(api, first.id, first.users.member);
    const b = await callerFor(api, second.id, second.users.admin);
    await a('query Projects { projects { totalCount } }');
    await a('query Projects { projects { totalCount } }');
    await b('query Projects { projects { totalCount } }');
    const conflict = await b(
      'mutation Dup { createProject(input: { key: "PRJ", name: "x" }) { id } }',
    );
    expect(conflict.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    await settle();
    const text = await scrape();

    const labels = { operation: 'Projects', type: 'query', outcome: 'success' };
    expect(sample(text, 'tenantql_operations_total', { ...labels, tenant: first.id })).toBe(2);
    expect(sample(text, 'tenantql_operations_total', { ...labels, tenant: 'other' })).toBe(1);
    expect(text).not.toContain(second.id);
    expect(
      sample(text, 'tenantql_operations_total', {
        operation: 'Dup',
        type: 'mutation',
        tenant: 'other',
        outcome: 'error',
      }),
    ).toBe(1);
    expect(sample(text, 'tenantql_operation_errors_total', { code: 'CONFLICT' })).toBe(1);
    expect(sample(text, 'tenantql_transactions_total', { outcome: 'rolled_back' })).toBe(1);
    expect(sample(text, 'tenantql_transactions_total', { outcome: 'committed' })).toBe(3);
    expect(
      sample(text, 'tenantql_operation_duration_seconds_count', {
        type: 'query',
        outcome: 'success',
      }),
    ).toBe(3);
    expect(sample(text, 'tenantql_operation_db_seconds_count', { type: 'query' })).toBe(3);
    expect(sample(text, 'tenantql_db_pool_acquire_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'tenantql_db_pool_waits_total')).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'tenantql_db_pool_connections', { pool: 'api', state: 'total' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tenantql_db_pool_connections', { pool: 'api', state: 'waiting' })).toBe(0);
    expect(text).toContain('tenantql_process_cpu_seconds_total');
  });

  it('is absent when METRICS_ENABLED=false', async () => {
    const off = await startTestApp(db, { METRICS_ENABLED: 'false' });
    try {
      expect((await fetch(new URL('/metrics', off.url))).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('BoundedLabel', () => {
  it('names the first N values and pinned ones, and folds the rest into "other"', () => {
    const label = new BoundedLabel(2, ['vip']);
    expect(label.of('vip')).toBe('vip');
    expect(label.of('a')).toBe('a');
    expect(label.of('b')).toBe('other');
    expect(label.of(undefined)).toBe('none');
    expect(label.of('a')).toBe('a');
  });
});
