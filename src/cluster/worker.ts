import { startApp, type App } from '../app.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createShutdown } from './shutdown.js';
import { isClusterMessage, sendToPrimary, workerSlot, type ClusterMessage } from './messages.js';

/**
 * One API worker of the cluster: waits for the database endpoints the primary resolved, serves
 * the API on the port the cluster shares, and drains when asked.
 *
 * NOTE: SIGINT and SIGTERM drain the worker like the primary's shutdown message does, rather than
 * being ignored: Ctrl-C reaches every process of the group at once, and a worker that drains on
 * its own is simply early. The primary stops PostgreSQL only after every worker has exited.
 */
export function runWorker(config: Config, baseLog: Logger): void {
  const log = baseLog.child({ apiWorker: Number(workerSlot()) });
  // Past SHUTDOWN_GRACE_MS connections are cut; closing the pool then gets a little more.
  const shutdownTimeoutMs = config.http.shutdownGraceMs + 5_000;
  let startup: Promise<App> | undefined;

  async function start(message: Extract<ClusterMessage, { type: 'tenantql:start' }>) {
    try {
      const app = await startApp({
        config,
        log,
        apiUrl: message.apiUrl,
        adminUrl: message.adminUrl,
        defaultTenantId: message.defaultTenantId,
      });
      await sendToPrimary({ type: 'tenantql:ready', url: app.url });
      return app;
    } catch (error) {
      log.error({ err: error }, 'API worker could not start');
      await sendToPrimary({ type: 'tenantql:failed', error: (error as Error).message });
      process.exit(1);
    }
  }

  const stop = createShutdown({
    log,
    message: 'API worker draining',
    timeoutMs: shutdownTimeoutMs,
    async close() {
      const app = await startup?.catch(() => undefined);
      await app?.close();
    },
  });

  process.on('message', (message: unknown) => {
    if (isClusterMessage(message, 'tenantql:start')) startup ??= start(message);
    else if (isClusterMessage(message, 'tenantql:shutdown')) void stop('asked by the primary');
  });
  // NOTE: no 'disconnect' handler: if the primary dies, node:cluster ends the worker at once
  // (process.exit in its own handler), so no worker outlives it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(signal));
  void sendToPrimary({ type: 'tenantql:hello' });
}
