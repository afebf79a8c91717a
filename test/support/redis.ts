import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from './daemon.js';
import { freePort } from './ports.js';
import { PROGRAMS } from './programs.js';

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Debian's redis-server (installed by .ci/run) as a child process of the test, on a free loopback
 * port, without persistence, in a temporary directory; never the system service.
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-redis-'));
  const daemon = await startDaemon(
    'redis-server',
    PROGRAMS.redis.path,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    dir,
    () => answersPing(port),
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => daemon.stop(),
  };
}
