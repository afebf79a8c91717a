import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-shutdown-'));
});
afterAll(async () => {
  await db.drop();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** `npm start` as a real process against the test database, once it answers. */
async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const server = await spawnServer(db, dataDir, env);
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${server.port}/healthz`)).ok) break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return server;
}

/**
 * A POST whose body is sent in two parts, so the request is in flight for as long as the test
 * wants. Resolves with the status and body once the server answers.
 */
function slowRequest(port: number, body: string) {
  const request = http.request({
    host: '127.0.0.1',
    port,
    path: '/graphql',
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const answered = new Promise<{ status: number; body: string; connection: string | undefined }>(
    (resolve, reject) => {
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: text,
            connection: response.headers.connection,
          }),
        );
      });
      request.on('error', reject);
    },
  );
  const half = Math.floor(body.length / 2);
  request.write(body.slice(0, half));
  return {
    answered,
    finish: () => request.end(body.slice(half)),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('graceful shutdown', () => {
  it('finishes a request that is in flight when SIGTERM arrives, refusing new connections', async () => {
    const server = await startServer({ SHUTDOWN_GRACE_MS: '10000' });
    const inFlight = slowRequest(server.port, JSON.stringify({ query: '{ __typename }' }));
    await sleep(200);

    server.child.kill('SIGTERM');
    await sleep(300);
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
    expect(server.output()).toContain('shutting down');
    expect(server.output()).not.toContain('"msg":"stopped"');

    inFlight.finish();
    const finished = Date.now();
    const answer = await inFlight.answered;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ data: { __typename: 'Query' } });

    // Exits once the last request is done, not when the 10 s grace period ends.
    expect(await server.exited).toBe(0);
    expect(Date.now() - finished).toBeLessThan(5_000);
    expect(server.output()).toContain('"msg":"stopped"');
    expect(server.output()).not.toContain('grace period over');
  }, 60_000);

  it('cuts a request that outlives SHUTDOWN_GRACE_MS and still exits cleanly', async () => {
    const server = await startServer({ SHUTDOWN_GRACE_MS: '300' });
    const stuck = slowRequest(server.port, JSON.stringify({ query: '{ __typename }' }));
    const outcome = stuck.answered.then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(200);
    const signalled = Date.now();
    server.child.kill('SIGTERM');

    expect(await server.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(await outcome).toBe('cut');
    expect(server.output()).toContain('grace period over');
    expect(server.output()).toContain('"msg":"stopped"');
  }, 60_000);
});
