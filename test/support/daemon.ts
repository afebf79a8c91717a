import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';

export interface Daemon {
  stop(): Promise<void>;
}

/**
 * A Debian server program (pgbouncer, redis-server) as a child process of the test: spawned, then
 * polled with `ready` until it answers (10 s at most). stop() ends it with SIGTERM and removes its
 * temporary directory.
 */
export async function startDaemon(
  name: string,
  command: string,
  args: string[],
  dir: string,
  ready: () => Promise<boolean>,
): Promise<Daemon> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve());
  });
  const deadline = Date.now() + 10_000;
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
