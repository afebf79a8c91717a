import { runWithDatabase } from './run.js';

await runWithDatabase((endpoints) => {
  if (!endpoints.migrationUrl) {
    console.error(
      'Set MIGRATION_DATABASE_URL to a role that may create roles and owns the schema.',
    );
    return Promise.resolve(1);
  }
  console.log('migrations are up to date');
  return Promise.resolve(0);
});
