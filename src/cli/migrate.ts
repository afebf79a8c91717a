import { runWithDatabase } from './run.js';

await runWithDatabase(async (endpoints) => {
  if (!endpoints.migrationUrl) {
    console.error('Set MIGRATION_DATABASE_URL to a role that may create roles and owns the schema.');
    return 1;
  }
  console.log('migrations are up to date');
});
