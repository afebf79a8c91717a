import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';
import { ClusterMetrics } from './metrics.js';
import { isClusterMessage, WORKER_SLOT_ENV, type ClusterMessage } from './messages.js';

/** A worker that dies sooner than this after its fork counts as crash-looping. */
const STABLE_AFTER_MS = 10_000;
const BACKOFF_START_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

export interface WorkerPoolOptions {
  log: Logger;
  workers: number;
  start: Omit<Extract<ClusterMessage, { type: 'tenantql:start' }>, 'type'>;
  /** On SIGTERM, how long workers get to drain before they are killed. */
  shutdownTimeoutMs: number;
  /**
   * The module a worker runs: the bundle `npm start` built. Without it, cluster.fork() re-runs
   * process.argv[1] (bin/start.js would compile everything again in every worker).
   */
  entry?: string | undefined;
}

export interface WorkerPool {
  /** The URL the first worker reported (they share the port). */
  url: string;
  /** Workers serving now. */
  serving: number;
  /** Asks every worker to drain, and resolves once all have exited. */
  close(): Promise<void>;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  forkedAt: number;
  ready: boolean;
  /** Deaths in a row, each within STABLE_AFTER_MS of its fork. */
  failures: number;
  lastError: string | undefined;
  restart: NodeJS.Timeout | undefined;
}

/**
 * Forks the API workers and keeps them running: a worker that dies is replaced, with a growing
 * delay while replacements keep dying young (a broken configuration must not fork-loop). Resolves
 * once every worker has started or failed, with at least one serving; rejects with a worker's
 * error when none could start. The primary also answers the workers' metrics requests (the
 * aggregate of all of them, see ClusterMetrics) and keeps the in-memory rate-limit budgets they
 * share.
 */
export function startWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const { log } = options;
  const execArgv = [...process.execArgv, '--enable-source-maps'];
  if (options.entry) cluster.setupPrimary({ exec: options.entry, execArgv });
  // Workers ask, the primary counts: every worker spends from the same budgets.
  new RateLimiterClusterMaster();
  const metrics = new ClusterMetrics();

  const slots: Slot[] = Array.from({ length: options.workers }, (_, i) => ({
    index: i + 1,
    worker: undefined,
    forkedAt: 0,
    ready: false,
    failures: 0,
    lastError: undefined,
    restart: undefined,
  }));
  let stopping = false;
  let settled = false;
  let url = '';
  let allExited: (() => void) | undefined;

  return new Promise<WorkerPool>((resolve, reject) => {
    const pool: WorkerPool = {
      get url() {
        return url;
      },
      get serving() {
        return slots.filter((s) => s.ready).length;
      },
      close,
    };

    function fork(slot: Slot): void {
      slot.restart = undefined;
      if (options.entry && !existsSync(options.entry)) {
        // A newer `npm start` replaced the bundle this primary runs: the worker compiles afresh.
        log.warn({ entry: options.entry }, 'API worker bundle is gone; forking bin/start.js');
        cluster.setupPrimary({ exec: process.argv[1], execArgv: process.execArgv });
        options.entry = undefined;
      }
      const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
      Object.assign(slot, { worker, forkedAt: Date.now(), ready: false, lastError: undefined });
      worker.on('message', (message: unknown) => {
        if (isClusterMessage(message, 'tenantql:hello')) {
          worker.send({ type: 'tenantql:start', ...options.start } satisfies ClusterMessage);
        } else if (isClusterMessage(message, 'tenantql:ready')) {
          slot.ready = true;
          url ||= message.url;
          log.debug({ apiWorker: slot.index, pid: worker.process.pid }, 'API worker ready');
          checkSettled();
        } else if (isClusterMessage(message, 'tenantql:failed')) {
          slot.lastError = message.error;
        } else if (isClusterMessage(message, 'tenantql:collected')) {
          metrics.collected(worker, message);
        } else if (isClusterMessage(message, 'tenantql:metrics')) {
          const serving = slots.flatMap((s) =>
            s.ready && s.worker?.isConnected() ? [s.worker] : [],
          );
          metrics.collect(serving).then(
            (body) => send(worker, { type: 'tenantql:metrics', id: message.id, body }),
            (error: Error) =>
              send(worker, { type: 'tenantql:metrics', id: message.id, error: error.message }),
          );
        }
      });
      worker.on('exit', (code, signal) => exited(slot, worker, code, signal));
      // A message to a worker that is exiting fails (EPIPE); its exit is handled above. Without a
      // listener the error would take the primary down with it.
      worker.on('error', (error: Error) =>
        log.warn({ apiWorker: slot.index, err: error }, 'API worker channel error'),
      );
    }

    function exited(slot: Slot, worker: Worker, code: number | null, signal: string | null) {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      metrics.exited(worker);
      if (stopping) {
        if (slots.every((s) => s.worker === undefined)) allExited?.();
        return;
      }
      const wasReady = slot.ready;
      slot.ready = false;
      slot.failures = Date.now() - slot.forkedAt < STABLE_AFTER_MS ? slot.failures + 1 : 0;
      const details = {
        apiWorker: slot.index,
        pid: worker.process.pid,
        code,
        signal,
        ...(slot.lastError ? { error: slot.lastError } : {}),
      };
      if (!settled && !wasReady) {
        // Still starting up: decide once every worker has had its first try.
        log.error(details, 'API worker failed to start');
        checkSettled();
        return;
      }
      const delayMs =
        slot.failures === 0
          ? 0
          : Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** (slot.failures - 1));
      log.warn({ ...details, restartInMs: delayMs }, 'API worker exited; starting a replacement');
      slot.restart = setTimeout(() => fork(slot), delayMs);
    }

    function checkSettled(): void {
      if (settled) return;
      const failed = slots.filter((s) => !s.ready && s.worker === undefined);
      if (slots.some((s) => !s.ready && s.worker !== undefined)) return;
      settled = true;
      if (failed.length === slots.length) {
        const error = failed.find((s) => s.lastError)?.lastError ?? 'every worker exited';
        reject(new Error(`no API worker could start: ${error}`));
        return;
      }
      for (const slot of failed) {
        log.warn({ apiWorker: slot.index }, 'API worker failed to start; trying again');
        slot.restart = setTimeout(() => fork(slot), BACKOFF_START_MS);
      }
      resolve(pool);
    }

    async function close(): Promise<void> {
      stopping = true;
      const running = slots.filter((s) => {
        clearTimeout(s.restart);
        return s.worker !== undefined;
      });
      if (running.length === 0) return;
      const done = new Promise<void>((r) => (allExited = r));
      for (const slot of running) send(slot.worker, { type: 'tenantql:shutdown' });
      const deadline = setTimeout(() => {
        log.error('API workers did not stop in time; killing them');
        for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs);
      try {
        await done;
      } finally {
        clearTimeout(deadline);
      }
    }

    for (const slot of slots) fork(slot);
  });
}

function send(worker: Worker | undefined, message: ClusterMessage): void {
  // A worker that is exiting has no channel left; its exit is handled on its own.
  if (worker?.isConnected()) worker.send(message);
}
