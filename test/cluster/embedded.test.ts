import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';
import type { ServerProcess } from '../support/server-process.js';
import {
  childPids,
  isRunning,
  processesMentioning,
  startCluster,
  waitFor,
} from './cluster-support.js';

let dataDir: string;
let server: ServerProcess | undefined;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-cluster-embedded-'));
});
afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  for (const pid of processesMentioning(dataDir)) process.kill(pid, 'SIGKILL');
  await fs.rm(dataDir, { recursive: true, force: true });
});

it('Ctrl-C lets both workers finish their requests before the primary stops PostgreSQL, and exits 0', async () => {
  // No database URLs: the primary starts its own PostgreSQL in the data directory.
  const embedded = { apiUrl: '', ownerUrl: '' } as TestDatabase;
  server = await startCluster(embedded, dataDir, {
    WEB_CONCURRENCY: '2',
    EMBEDDED_PG_PORT: String(await freePort()),
    SEED_DEMO: 'false',
    SHUTDOWN_GRACE_MS: '10000',
  });
  const primary = server.child.pid!;
  const postgres = processesMentioning(dataDir);
  expect(postgres.length).toBeGreaterThan(0);
  const workers = childPids(primary).filter((pid) => !postgres.includes(pid));
  expect(workers).toHaveLength(2);

  // A sign-in in flight on each worker (new connections alternate): it needs PostgreSQL once the
  // rest of its body arrives, after the signal.
  const body = JSON.stringify({
    query:
      'mutation { login(input: {email: "nobody@example.test", password: "wrong password"}) { token } }',
  });
  const inFlight = [0, 1].map(() => {
    const request = http.request({
      agent: false,
      host: '127.0.0.1',
      port: server!.port,
      path: '/graphql',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const answered = new Promise<string>((resolve, reject) => {
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(text));
      });
      request.on('error', reject);
    });
    request.write(body.slice(0, 10));
    return { request, answered };
  });
  await new Promise((resolve) => setTimeout(resolve, 300));

  // What Ctrl-C does to the Node processes: every one of them gets SIGINT at once. (In a terminal
  // the embedded postmaster, in the same group, gets it too and stops by itself.)
  for (const pid of [primary, ...workers]) process.kill(pid, 'SIGINT');
  await waitFor(
    'both workers to drain',
    () => server!.output().split('"msg":"API worker draining"').length === 3,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const { request } of inFlight) request.end(body.slice(10));
  for (const { answered } of inFlight) {
    // The wrong password was checked against the database: it was still up.
    expect(JSON.parse(await answered)).toMatchObject({
      errors: [{ extensions: { code: 'UNAUTHENTICATED' } }],
    });
  }

  expect(await server.exited).toBe(0);
  expect(server.output()).toContain('"msg":"stopped"');
  expect(processesMentioning(dataDir)).toEqual([]);
  for (const pid of workers) expect(isRunning(pid)).toBe(false);
}, 60_000);
