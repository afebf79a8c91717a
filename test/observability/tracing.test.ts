import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp } from '../support/app.js';
import { callerFor } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import {
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver.js';
import { spawnServer } from '../support/server-process.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let tenant: SeededTenant;
let receiver: OtlpReceiver;

beforeAll(async () => {
  db = await createTestDatabase();
  tenant = await seedTenant(db.ownerUrl, 'tracing');
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await db?.drop();
});

/**
 * OpenTelemetry packages this process has loaded (they are CommonJS: require's cache), except
 * @opentelemetry/api, which prom-client requires for its exemplars whether tracing is on or not.
 */
function loadedOpenTelemetry(): string[] {
  const cache = createRequire(import.meta.url).cache;
  const packages = Object.keys(cache)
    .map((file) => /node_modules\/(@opentelemetry\/[^/]+)\//.exec(file)?.[1])
    .filter((name): name is string => name !== undefined && name !== '@opentelemetry/api');
  return [...new Set(packages)];
}

const PROJECTS = 'query Projects { projects(first: 5) { totalCount edges { node { id key } } } }';

describe('tracing configuration', () => {
  it('is off by default, on with an OTLP endpoint, and refuses what it cannot export with', () => {
    expect(loadConfig({}).tracing.enabled).toBe(false);
    const on = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing;
    expect(on).toEqual({
      enabled: true,
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'tenantql',
    });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://x.example/otlp/traces' }).tracing
        .endpoint,
    ).toBe('https://x.example/otlp/traces');
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing).toMatchObject({
      enabled: true,
      endpoint: 'http://localhost:4318/v1/traces',
    });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })
        .tracing.enabled,
    ).toBe(false);
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })
        .tracing.enabled,
    ).toBe(false);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/http\/protobuf/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });
});

describe('tracing in process', () => {
  // NOTE: in this order: once on, the SDK stays in this process's module cache.
  it('off: serves operations without loading any OpenTelemetry package', async () => {
    const api = await startTestApp(db);
    try {
      const call = await callerFor(api, tenant.id, tenant.users.member);
      expect((await call(PROJECTS)).errors).toBeUndefined();
    } finally {
      await api.close();
    }
    expect(loadedOpenTelemetry()).toEqual([]);
  });

  it('on: one trace per operation with parse, validate, transaction and statement spans', async () => {
    const lines: string[] = [];
    const log = createLogger('info', {
      destination: { write: (line: string) => lines.push(line) },
      traceIds: true,
    });
    const api = await startTestApp(
      db,
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'tenantql-test' },
      { log },
    );
    const exported = receiver.spans.length;
    try {
      expect(loadedOpenTelemetry()).toContain('@opentelemetry/sdk-trace-node');
      const token = await api.app.deps.tokens.signAccess(tenant.users.member, undefined);
      const headers = { 'x-tenant-id': tenant.id };
      const read = await api.request(PROJECTS, undefined, { token, headers });
      expect(read.errors).toBeUndefined();
      const write = await api.request(
        'mutation Duplicate($name: String!) { createProject(input: { key: "PRJ", name: $name }) { id } }',
        { name: 'secret-name-7f3a' },
        { token, headers },
      );
      // The key is taken: a failed operation is traced too, its transaction rolled back.
      expect(write.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      // /healthz is probed every few seconds: not traced.
      await fetch(new URL('/healthz', api.url));
      await waitFor('both operation log lines', () =>
        lines.some((l) => l.includes('"operationName":"Duplicate"')),
      );
    } finally {
      // Shutting down exports what is still buffered.
      await api.close();
    }
    const spans = receiver.spans.slice(exported);
    expect(receiver.contentTypes.every((t) => t === 'application/x-protobuf')).toBe(true);

    const operations = spans.filter(
      (s) => s.name === 'query Projects' || s.name.startsWith('mutation'),
    );
    expect(operations.map((s) => s.name).sort()).toEqual(['mutation Duplicate', 'query Projects']);
    const [projects, duplicate] = ['query Projects', 'mutation Duplicate'].map((name) =>
      operations.find((s) => s.name === name)!,
    ) as [ReceivedSpan, ReceivedSpan];
    // One trace per operation, rooted in the HTTP request's span.
    expect(projects.traceId).not.toBe(duplicate.traceId);
    for (const operation of [projects, duplicate]) {
      const trace = spans.filter((s) => s.traceId === operation.traceId);
      const root = trace.find((s) => s.parentSpanId === '');
      expect(root).toMatchObject({
        name: 'POST /graphql',
        kind: 2,
        scope: '@opentelemetry/instrumentation-http',
      });
      expect(operation.parentSpanId).toBe(root?.spanId);
      expect(operation.attributes).toMatchObject({
        'tenantql.tenant.id': tenant.id,
        'user.id': tenant.users.member,
      });
      const children = trace.filter((s) => s.parentSpanId === operation.spanId);
      const names = children.map((s) => s.name);
      expect(names).toContain('graphql.parse');
      expect(names).toContain('graphql.validate');
      expect(names).toContain('transaction');
      const transaction = children.find((s) => s.name === 'transaction');
      expect(transaction?.attributes['tenantql.tenant.id']).toBe(tenant.id);
      const statements = children.filter((s) => s.name.startsWith('pg.query:'));
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(statement).toMatchObject({ kind: 3, scope: '@opentelemetry/instrumentation-pg' });
        // The command, not a prepared statement's name (tq_…).
        expect(statement.name).toMatch(/^pg\.query:(SELECT|INSERT|COMMIT|ROLLBACK) tenantql/);
        expect(statement.resource['service.name']).toBe('tenantql-test');
      }
    }
    expect(projects.attributes).toMatchObject({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'Projects',
    });
    expect(projects.statusCode).toBe(0);
    expect(duplicate.statusCode).toBe(2);
    const duplicateTransaction = spans.find(
      (s) => s.traceId === duplicate.traceId && s.name === 'transaction',
    );
    expect(duplicateTransaction?.attributes).toMatchObject({
      'tenantql.transaction.read_only': false,
      'tenantql.transaction.outcome': 'rolled back',
    });

    // Statement text, never the values bound to it.
    const texts = spans
      .map((s) => s.attributes['db.query.text'] ?? s.attributes['db.statement'])
      .filter((t): t is string => typeof t === 'string');
    // (A planned read travels in its transaction's one round trip, whose span is its COMMIT's;
    // the mutation's statements have spans of their own.)
    expect(
      texts.some((t) => /\binsert into "?app"?\."?projects"?/i.test(t) && t.includes('$1')),
    ).toBe(true);
    const everything = JSON.stringify(spans);
    expect(everything).not.toContain('secret-name-7f3a');
    expect(everything).not.toContain('/healthz');

    // The log lines of an operation carry its trace id.
    const logged = lines
      .map((l) => JSON.parse(l) as { msg: string; operationName?: string; trace_id?: string })
      .filter((l) => l.msg === 'operation');
    expect(logged.find((l) => l.operationName === 'Projects')?.trace_id).toBe(projects.traceId);
    expect(logged.find((l) => l.operationName === 'Duplicate')?.trace_id).toBe(duplicate.traceId);
  });
});

describe('tracing in `npm start`', () => {
  it('exports the compiled server’s operations, with trace ids in its JSON log lines', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-tracing-'));
    const exported = receiver.spans.length;
    const server = await spawnServer(db, dataDir, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      LOG_LEVEL: 'info',
    });
    try {
      let answer: unknown;
      await waitFor(
        'the server to answer',
        async () => {
          try {
            const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ query: 'query Ping { __typename }' }),
            });
            answer = await response.json();
            return true;
          } catch {
            return false;
          }
        },
        30_000,
      );
      expect(answer, server.output()).toEqual({ data: { __typename: 'Query' } });
      await waitFor('the operation span', () =>
        receiver.spans.slice(exported).some((s) => s.name === 'query Ping'),
      );
      const operation = receiver.spans.slice(exported).find((s) => s.name === 'query Ping')!;
      const trace = receiver.spans.filter((s) => s.traceId === operation.traceId);
      expect(trace.map((s) => s.name)).toEqual(
        expect.arrayContaining(['graphql.parse', 'graphql.validate']),
      );
      expect(trace.find((s) => s.parentSpanId === '')?.scope).toBe(
        '@opentelemetry/instrumentation-http',
      );
      await waitFor('the operation log line', () => server.output().includes('"msg":"operation"'));
      const line = server
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"operation"'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({ trace_id: operation.traceId });
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
