import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { freePort } from './ports.js';
import type { TestDatabase } from './database.js';

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  /** Everything the process printed so far, stdout and stderr. */
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * `npm start` (bin/start.js, or a TypeScript entry through tsx) as a real process against the test
 * database, on a free loopback port. The caller waits for whatever "started" means to it.
 */
export async function spawnServer(
  db: TestDatabase,
  dataDir: string,
  env: Record<string, string>,
  entry = 'bin/start.js',
): Promise<ServerProcess> {
  const port = await freePort();
  const args = entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry];
  const child = spawn('node', args, {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.apiUrl,
      MIGRATION_DATABASE_URL: db.ownerUrl,
      TENANTQL_DATA_DIR: dataDir,
      JWT_SECRET: 'server-process-test-secret-long-enough-0123456789',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, port, output: () => output, exited };
}
