import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigurationDoc, withCurrentTables } from './cli/config-docs.js';
import { ConfigError, loadConfig } from './config.js';
import { VARIABLES } from './config-variables.js';

function problem(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`${JSON.stringify(env)} was accepted`);
}

describe('configuration errors a person can fix', () => {
  it.each([
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ],
    [
      { JWT_ALGORITHM: 'none' },
      'JWT_ALGORITHM must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, got "none"',
    ],
    [
      { DATABASE_POOL_SIZE: 'ten' },
      'DATABASE_POOL_SIZE must be an integer from 1 to 10000, got "ten"',
    ],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE must be an integer from 1 to 10000, got "0"'],
    [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535, got "70000"'],
    [{ PORT: '-1' }, 'PORT must be an integer from 0 to 65535, got "-1"'],
    [{ QUERY_MAX_DEPTH: '0' }, 'QUERY_MAX_DEPTH must be an integer of at least 1, got "0"'],
    [{ SHUTDOWN_GRACE_MS: '1.5' }, 'SHUTDOWN_GRACE_MS must be a non-negative integer, got "1.5"'],
    [
      { TENANT_REQUIRED: 'maybe' },
      'TENANT_REQUIRED must be true or false (also 1/0, yes/no, on/off), got "maybe"',
    ],
    [
      { EMAIL_VERIFICATION: 'sometimes' },
      'EMAIL_VERIFICATION must be one of required, off, got "sometimes"',
    ],
    [{ APP_URL: 'ftp://x' }, 'APP_URL must be an absolute http:// or https:// URL, got "ftp://x"'],
    [
      { APP_URL: 'example.com' },
      'APP_URL must be an absolute http:// or https:// URL, got "example.com"',
    ],
    [
      { TENANT_RESOLUTION: 'claim,cookie' },
      'TENANT_RESOLUTION must be a comma-separated list of claim, header, slug-header, query, subdomain, got "claim,cookie"',
    ],
    [
      { DATABASE_TENANT_MAX_CONNECTIONS: '0' },
      'DATABASE_TENANT_MAX_CONNECTIONS must be at least 1',
    ],
  ])('%o', (env, message) => {
    expect(problem(env)).toBe(message);
  });

  it('never repeats a value that may hold a password or key', () => {
    const message = problem({
      DATABASE_URL: 'mysql://api:hunter2@db.example.com/app',
      SMTP_URL: 'http://mail:s3cret@mail.example.com',
    });
    expect(message).toBe(
      [
        'DATABASE_URL must be an absolute postgres:// or postgresql:// URL (the value is not shown: it may hold a secret)',
        'SMTP_URL must be an absolute smtp:// or smtps:// URL (the value is not shown: it may hold a secret)',
      ].join('\n'),
    );
    expect(message).not.toMatch(/hunter2|s3cret/);
  });

  it('names every wrong variable at once, one line each', () => {
    expect(
      problem({ LOG_LEVEL: 'loud', PORT: 'http', WEB_CONCURRENCY: 'many' }).split('\n'),
    ).toEqual([
      'PORT must be an integer from 0 to 65535, got "http"',
      'WEB_CONCURRENCY must be a number of API worker processes (1 or more) or "auto", got "many"',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  it('keeps the defaults, reads values loosely where that is safe, and treats empty as unset', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      webConcurrency: 1,
      logLevel: 'info',
      introspection: true,
      production: false,
      host: undefined,
      database: { poolSize: 10, tenantMaxConnections: 2, migrationLockTimeoutMs: 60_000 },
      auth: { jwtAlgorithm: 'HS256', issuer: 'tenantql', emailVerification: 'required' },
      tenancy: { idHeader: 'x-tenant-id', order: ['claim', 'header', 'slug-header', 'query'] },
      delivery: { requireHttps: false, mailFrom: 'tenantql <notifications@localhost>' },
      embedded: { port: 54329, choosePortIfTaken: true, databaseName: 'tenantql' },
    });
    expect(loadConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(loadConfig({ PORT: ' 8080 ', LOG_LEVEL: '' }).port).toBe(8080);
    expect(loadConfig({ TENANT_REQUIRED: 'Yes' }).tenancy.required).toBe(true);
    expect(loadConfig({ JWT_PRIVATE_KEY: 'pem' }).auth.jwtAlgorithm).toBe('ES256');
    expect(loadConfig({ APP_URL: 'https://app.example.com' }).auth.appUrl).toBe(
      'https://app.example.com/',
    );
    const production = loadConfig({ NODE_ENV: 'production' });
    expect([production.introspection, production.playground.enabled]).toEqual([false, false]);
    expect(production.delivery.requireHttps).toBe(true);
  });

  it('declares every variable the code reads', async () => {
    // psql's own variable, passed on to it; the slot number a cluster primary gives each worker.
    const notSettings = new Set(['PGOPTIONS', 'TENANTQL_WORKER_SLOT']);
    const files = [
      ...(await fs.readdir('src', { recursive: true })).map((f) => path.join('src', f)),
      ...(await fs.readdir('bin')).map((f) => path.join('bin', f)),
    ].filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.test.ts'));
    const read = new Set<string>();
    for (const file of files) {
      const text = await fs.readFile(file, 'utf8');
      for (const [, name] of text.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]+)/g)) read.add(name);
    }
    expect(read.size).toBeGreaterThan(0);
    for (const name of read) {
      if (!notSettings.has(name)) expect(Object.keys(VARIABLES), name).toContain(name);
    }
  });

  it('documents every variable, and the tables in docs/operations.md are current (run `npm run docs:config`)', async () => {
    for (const [name, spec] of Object.entries(VARIABLES)) {
      expect(spec.doc, name).not.toBe('');
    }
    const doc = await readConfigurationDoc();
    expect(await withCurrentTables(doc)).toBe(doc);
  });
});
