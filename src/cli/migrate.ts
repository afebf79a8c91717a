import { runWithDatabase } from './run.js';

await runWithDatabase((endpoints, _log, applied) => {
  if (!endpoints.migrationUrl) {
    console.error(
      'Set MIGRATION_DATABASE_URL to a role that may create roles and owns the schema.',
    );
    return Promise.resolve(1);
  }
  for (const name of applied) console.log(`applied ${name}`);
  console.log(
    applied.length === 0
      ? 'migrations are up to date'
      : `migrations are up to date (${applied.length} applied now)`,
  );
  return Promise.resolve(0);
});
