import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from './daemon.js';
import { freePort } from './ports.js';
import { PROGRAMS } from './programs.js';

export interface PgBouncer {
  /** `url` with host and port replaced by PgBouncer's. */
  route(url: string): string;
  stop(): Promise<void>;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Debian's pgbouncer in transaction-pooling mode on a free loopback port, in front of the server
 * of `serverUrl`, for the given login roles. `serverPoolSize` server connections per database and
 * user are shared by all clients, so consecutive transactions of one client connection land on
 * different server connections.
 */
export async function startPgBouncer(
  serverUrl: string,
  users: Record<string, string>,
  serverPoolSize: number,
): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-pgbouncer-'));
  // PgBouncer refuses to run as root; as root it is started as the postgres user (-u), which
  // must read these files.
  await fs.chmod(dir, 0o755);
  const userlist = Object.entries(users)
    .map(([user, password]) => `"${user}" "${password.replace(/"/g, '""')}"`)
    .join('\n');
  await fs.writeFile(path.join(dir, 'userlist.txt'), `${userlist}\n`, { mode: 0o644 });
  const ini = `[databases]
* = host=${server.hostname} port=${server.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
pool_mode = transaction
default_pool_size = ${serverPoolSize}
max_client_conn = 500
server_reset_query =
; NOTE: pg sends statement_timeout as a startup parameter, which PgBouncer refuses unless told
; to ignore it; it then never reaches the server, and only the API's per-transaction setting holds
; (test/pgbouncer/statement-timeout.test.ts).
ignore_startup_parameters = statement_timeout, extra_float_digits
`;
  await fs.writeFile(path.join(dir, 'pgbouncer.ini'), ini, { mode: 0o644 });
  const asRoot = os.userInfo().uid === 0;
  const daemon = await startDaemon(
    'pgbouncer',
    PROGRAMS.pgbouncer.path,
    [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')],
    dir,
    () => listening(port),
  );
  return {
    route(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    stop: () => daemon.stop(),
  };
}
