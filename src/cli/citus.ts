import pg from 'pg';
import { distribute } from '../db/citus.js';
import { runWithDatabase } from './run.js';

// tenantql citus distribute: see docs/operations.md, "Scaling out". Migrations run first (runWithDatabase).
const [command] = process.argv.slice(2);

await runWithDatabase(async (endpoints) => {
  if (command !== 'distribute') {
    console.error('usage: tenantql citus distribute');
    return 1;
  }
  if (!endpoints.migrationUrl) {
    console.error('Set MIGRATION_DATABASE_URL to a superuser connection to the Citus coordinator.');
    return 1;
  }
  const client = new pg.Client({ connectionString: endpoints.migrationUrl });
  await client.connect();
  try {
    await distribute(client, (message) => console.log(message));
  } finally {
    await client.end();
  }
  return 0;
});
