import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type pg from 'pg';
import type { Logger } from '../logger.js';

/**
 * Lowers the CPU priority of the PostgreSQL backends that serve a tenant over its share of the
 * pool (see FairShare), so that when the cores are contended the tenants within their share get
 * them first. Turns at the pool alone leave a light tenant's statement queued for a core behind a
 * heavy tenant's running ones; PostgreSQL has no CPU priority of its own to say otherwise.
 *
 * Only for a PostgreSQL on the API's own Linux host whose processes the API may change (the same
 * user, or root): the embedded PostgreSQL of `npm start`, or a local server. A backend is changed
 * only once its process title names this connection's client port, so a remote server's backend
 * id that happens to be a local process id is never touched.
 *
 * PostgreSQL makes every backend a session leader. Where the kernel groups tasks by session
 * (autogroup, on by default in most distributions), each backend is then a scheduling group of its
 * own, weighted like the whole API process, and a process's nice value orders it only within its
 * group: there the nice value goes on the backend's group, whose owner may set it and take it
 * back. Elsewhere it goes on the process, whose nice value only root may take back.
 */
export class BackendPriority {
  readonly #nice: number;
  readonly #useAutogroup: boolean;
  readonly #report: PriorityReport;
  /** Per client: the backend and the nice value it has now; null when not ours to change. */
  readonly #backends = new WeakMap<pg.PoolClient, Backend | null>();
  #disabled = false;
  #lowered = false;

  private constructor(nice: number, useAutogroup: boolean, report: PriorityReport) {
    this.#nice = nice;
    this.#useAutogroup = useAutogroup;
    this.#report = report;
  }

  /** The mechanism, or why this host cannot have it. */
  static start(nice: number, report: PriorityReport): BackendPriority | { unavailable: string } {
    if (nice === 0) return { unavailable: 'turned off (DATABASE_OVER_SHARE_NICE=0)' };
    if (process.platform !== 'linux') return { unavailable: 'not on Linux' };
    const useAutogroup = readText('/proc/sys/kernel/sched_autogroup_enabled')?.trim() === '1';
    if (!useAutogroup && process.getuid?.() !== 0) {
      return {
        unavailable:
          "without the kernel's autogroup only root may give a backend its priority back",
      };
    }
    return new BackendPriority(nice, useAutogroup, report);
  }

  /** Gives the client's backend the priority of an operation over its share, or the usual one. */
  set(client: pg.PoolClient, overShare: boolean): void {
    if (this.#disabled) return;
    let backend = this.#backends.get(client);
    if (backend === undefined) {
      // A backend nobody lowered has its usual priority still.
      if (!overShare) return;
      backend = this.#identify(client);
      this.#backends.set(client, backend);
    }
    if (!backend) return;
    const nice = overShare ? this.#nice : backend.usual;
    if (backend.nice === nice) return;
    try {
      if (backend.autogroup) writeFileSync(`/proc/${backend.pid}/autogroup`, String(nice));
      else os.setPriority(backend.pid, nice);
      backend.nice = nice;
      if (!this.#lowered) {
        this.#lowered = true;
        this.#report.lowered(backend.autogroup ? 'autogroup' : 'process');
      }
    } catch (error) {
      this.#backends.set(client, null);
      const code = (error as NodeJS.ErrnoException).code;
      // ESRCH: the backend just ended (its connection closes with it). Anything else holds for
      // every backend.
      if (code === 'EACCES' || code === 'EPERM') {
        this.#disable(`PostgreSQL's processes are not this user's to change (${code})`);
      } else if (code !== 'ESRCH' && code !== 'ENOENT') {
        this.#disable(`changing a backend's priority failed (${code ?? String(error)})`);
      }
    }
  }

  #identify(client: pg.PoolClient): Backend | null {
    const { processID: pid, connection } = client as unknown as ClientInternals;
    const localPort = connection?.stream?.localPort;
    if (pid === null || pid <= 0 || localPort === undefined) {
      this.#disable('the API reaches PostgreSQL through a Unix socket');
      return null;
    }
    const title = readText(`/proc/${pid}/cmdline`);
    if (!title?.startsWith('postgres: ') || !title.includes(`(${localPort})`)) {
      this.#disable('PostgreSQL does not run on this host (or its process titles are off)');
      return null;
    }
    // A backend that leads its own session has a scheduling group of its own.
    const ownGroup = this.#useAutogroup && sessionOf(pid) === pid;
    if (this.#useAutogroup && !ownGroup && process.getuid?.() !== 0) {
      this.#disable('its backends share a scheduling group with other processes');
      return null;
    }
    const usual = ownGroup ? autogroupNice(pid) : os.getPriority(pid);
    if (usual === undefined) return null;
    return { pid, autogroup: ownGroup, usual, nice: usual };
  }

  #disable(reason: string): void {
    if (this.#disabled) return;
    this.#disabled = true;
    this.#report.unavailable(reason);
  }
}

/**
 * Told once: when it turns out that the backends cannot be changed after all (another host,
 * another user), or when it first lowers one, and how (its autogroup or the process).
 */
export interface PriorityReport {
  unavailable: (reason: string) => void;
  lowered: (how: 'autogroup' | 'process') => void;
}

/** BackendPriority for the API; the log says once whether it applies, and why not. */
export function startBackendPriority(nice: number, log: Logger): BackendPriority | undefined {
  const report: PriorityReport = {
    unavailable: (reason) =>
      log.info({ reason }, 'database CPU priority for tenants over their share: unavailable'),
    lowered: (how) =>
      log.info({ how, nice }, 'database CPU priority for tenants over their share: lowering'),
  };
  const started = BackendPriority.start(nice, report);
  if (started instanceof BackendPriority) return started;
  report.unavailable(started.unavailable);
  return undefined;
}

interface Backend {
  pid: number;
  /** Whether the nice value goes on the backend's autogroup rather than the process. */
  autogroup: boolean;
  usual: number;
  nice: number;
}

/** pg's Client keeps its backend's process id (from BackendKeyData) and its socket. */
interface ClientInternals {
  processID: number | null;
  connection?: { stream?: { localPort?: number } };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The session id in /proc/<pid>/stat (the sixth field; the second, the name, is parenthesised). */
function sessionOf(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields?.[3] === undefined ? undefined : Number(fields[3]);
}

/** "/autogroup-123 nice 0" */
function autogroupNice(pid: number): number | undefined {
  const match = /nice (-?\d+)/.exec(readText(`/proc/${pid}/autogroup`) ?? '');
  return match ? Number(match[1]) : undefined;
}
