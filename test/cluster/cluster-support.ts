import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import type { TestDatabase } from '../support/database.js';

export interface Answer {
  status: number;
  body: string;
  json: { data?: unknown; errors?: { extensions?: { code?: string } }[] };
}

/**
 * A request on a connection of its own (no keep-alive): the cluster hands each new connection to
 * the next worker in turn, so a series of these reaches every worker.
 */
export function freshRequest(
  port: number,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent: false,
        host: '127.0.0.1',
        port,
        path,
        method: options.body === undefined ? 'GET' : 'POST',
        headers: {
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          let json: Answer['json'] = {};
          try {
            json = JSON.parse(text) as Answer['json'];
          } catch {
            // /metrics is text
          }
          resolve({ status: response.statusCode ?? 0, body: text, json });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

export function graphql(port: number, query: string, headers: Record<string, string> = {}) {
  return freshRequest(port, '/graphql', { body: JSON.stringify({ query }), headers });
}

/** The sum of a metric's series whose labels include all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

export async function scrape(port: number): Promise<string> {
  const answer = await freshRequest(port, '/metrics');
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}: ${answer.body}`);
  return answer.body;
}

/** Direct children of a process (Linux): a primary's workers, and its embedded PostgreSQL. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The JSON log lines a server printed. */
export function logLines(server: ServerProcess): Record<string, unknown>[] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `npm start` with WEB_CONCURRENCY workers, once the primary says all of them serve. */
export async function startCluster(
  db: TestDatabase,
  dataDir: string,
  env: Record<string, string>,
): Promise<ServerProcess> {
  const server = await spawnServer(db, dataDir, { LOG_LEVEL: 'info', ...env });
  await waitFor(
    'the cluster to serve',
    () => {
      if (server.child.exitCode !== null) {
        throw new Error(`server exited with ${server.child.exitCode}:\n${server.output()}`);
      }
      return server.output().includes('tenantql is serving');
    },
    45_000,
  );
  return server;
}

/** Processes whose command line mentions `text` (a data directory: its PostgreSQL). */
export function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && commandLine(pid).includes(text));
}
