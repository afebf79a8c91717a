import 'reflect-metadata';
import { ConfigError, loadConfigOrExit } from '../config.js';
import { resolveDatabase } from '../db/bootstrap.js';
import { createLogger } from '../logger.js';
import { DeliveryWorker } from './worker.js';
import { createMailer } from './mailer.js';

// The delivery worker on its own (npm run worker), for running it apart from the API instances:
// needs DATABASE_URL and WORKER_DATABASE_URL, or a running embedded server to attach to.
const config = loadConfigOrExit();
const log = createLogger(config.logLevel);

async function main(): Promise<void> {
  const endpoints = await resolveDatabase(config, log, { attach: true });
  if (!endpoints.workerUrl) {
    throw new ConfigError('WORKER_DATABASE_URL is not set (the tenantql_worker connection).');
  }
  const worker = new DeliveryWorker({
    connectionString: endpoints.workerUrl,
    config: config.delivery,
    log,
    mailer: createMailer(config.delivery, log),
  });
  worker.start();
  const stop = () => {
    void worker
      .stop()
      .then(() => endpoints.embedded?.stop())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) log.error(`Configuration problem: ${error.message}`);
  else log.error({ err: error }, 'delivery worker failed to start');
  process.exit(1);
});
