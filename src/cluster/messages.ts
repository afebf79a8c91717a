import cluster from 'node:cluster';

/**
 * The IPC messages between the primary and its API workers. Every type starts with `tenantql:` so
 * they never collide with prom-client's and rate-limiter-flexible's messages on the same channel.
 */
export type ClusterMessage =
  /** Worker → primary: listening for messages, send the start. */
  | { type: 'tenantql:hello' }
  /** Primary → worker: what it needs to serve (passwords travel here, never in env or logs). */
  | {
      type: 'tenantql:start';
      apiUrl: string;
      adminUrl: string | undefined;
      defaultTenantId: string | undefined;
    }
  /** Worker → primary: accepting requests. */
  | { type: 'tenantql:ready'; url: string }
  /** Worker → primary: startup failed (the worker exits next). */
  | { type: 'tenantql:failed'; error: string }
  /** Primary → worker: drain and exit. */
  | { type: 'tenantql:shutdown' }
  /** Worker → primary: the instance's metrics, please; the primary answers with `body` or `error`. */
  | { type: 'tenantql:metrics'; id: number; body?: string; error?: string }
  /** Primary → worker: your registry, please (for the aggregate). */
  | { type: 'tenantql:collect'; id: number }
  /** Worker → primary: its registry, as prom-client's getMetricsAsJSON(). */
  | { type: 'tenantql:collected'; id: number; metrics: object[] };

/** Set in each worker's environment by the primary: its slot, 1…N, kept by its replacements. */
export const WORKER_SLOT_ENV = 'TENANTQL_WORKER_SLOT';

export function isClusterMessage<T extends ClusterMessage['type']>(
  message: unknown,
  type: T,
): message is Extract<ClusterMessage, { type: T }> {
  return (
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type
  );
}

/** This process's worker slot, or undefined outside a tenantql cluster worker. */
export function workerSlot(): string | undefined {
  return cluster.isWorker ? process.env[WORKER_SLOT_ENV] : undefined;
}

/** Sends a message to the primary; resolves once it is handed to the channel. */
export function sendToPrimary(message: ClusterMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}
