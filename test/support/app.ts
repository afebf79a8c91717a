import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { ensureDefaultTenant } from '../../src/tenancy/default-tenant.js';
import type { TestDatabase } from './database.js';

export interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Query string appended to /graphql, e.g. "tenant=acme". */
  search?: string;
}

export interface TestApp {
  app: App;
  url: string;
  /** POSTs one operation over real HTTP, the way clients do. */
  request<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<GraphQLResult<T>>;
  close(): Promise<void>;
}

/** The real server (HTTP, Apollo, pool) on a random port against a test database. */
export async function startTestApp(
  db: TestDatabase,
  env: Record<string, string> = {},
  /** withoutAdmin starts the API as if no admin URL were configured; log captures lines. */
  options: { withoutAdmin?: boolean; log?: Logger } = {},
): Promise<TestApp> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-app-'));
  const config = loadConfig({
    TENANTQL_DATA_DIR: dataDir,
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_POOL_SIZE: '4',
    // Every test client signs in from 127.0.0.1; the budgets have their own test
    // (auth-rate-limit.test.ts), which passes its own.
    LOGIN_ACCOUNT_ATTEMPTS: '100000',
    LOGIN_ADDRESS_ATTEMPTS: '100000',
    SIGNUP_ADDRESS_ATTEMPTS: '100000',
    REFRESH_ADDRESS_ATTEMPTS: '100000',
    USER_REQUESTS_PER_MINUTE: '100000',
    ANONYMOUS_REQUESTS_PER_MINUTE: '100000',
    // Invitations are account emails: tests invite many people, and some addresses many times.
    ACCOUNT_EMAIL_ADDRESS_ATTEMPTS: '100000',
    ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS: '100000',
    ...env,
  });
  const app = await startApp({
    config,
    log: options.log ?? createLogger(config.logLevel),
    apiUrl: db.apiUrl,
    // The bypass pool, as production has it; withoutAdmin starts the API as if it were unconfigured.
    adminUrl: options.withoutAdmin ? undefined : db.adminUrl,
    port: 0,
    defaultTenantId: await ensureDefaultTenant(config.tenancy, db.ownerUrl),
  });
  const url = app.url.replace('localhost', '127.0.0.1');
  return {
    app,
    url,
    async request<T>(
      query: string,
      variables?: Record<string, unknown>,
      options: RequestOptions = {},
    ) {
      const response = await fetch(options.search ? `${url}?${options.search}` : url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResult<T>, 'status'>;
      return { status: response.status, ...body };
    },
    async close() {
      await app.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
