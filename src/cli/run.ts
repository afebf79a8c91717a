import { loadConfigOrExit, type Config } from '../config.js';
import { migrateDatabase, resolveDatabase, type DatabaseEndpoints } from '../db/bootstrap.js';
import { createLogger, type Logger } from '../logger.js';

/**
 * Runs a command-line task against the configured database: DATABASE_URL, or the embedded server
 * (reusing the one `npm start` runs, else starting it for the task and stopping it after).
 * Migrations are applied first so the tools work on a fresh checkout, unless `migrate` is false.
 */
export async function runWithDatabase(
  task: (
    endpoints: DatabaseEndpoints,
    log: Logger,
    /** The migrations this run applied before the task, in order. */
    applied: readonly string[],
    config: Config,
  ) => Promise<number | void>,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<void> {
  const config = loadConfigOrExit();
  // The tools are quiet unless asked: LOG_LEVEL when set, else warnings only.
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  let endpoints: DatabaseEndpoints | undefined;
  try {
    endpoints = await resolveDatabase(config, log, { attach: true });
    const applied = migrate
      ? await migrateDatabase(endpoints, log, {
          lockTimeoutMs: config.database.migrationLockTimeoutMs,
          searchLanguage: config.database.searchLanguage,
        })
      : [];
    process.exitCode = (await task(endpoints, log, applied, config)) ?? 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  } finally {
    await endpoints?.embedded?.stop();
  }
}
