import { spawn } from 'node:child_process';
import { runWithDatabase } from './run.js';

const USAGE = `usage: npm run db:psql -- [--api | --admin | --worker | --superuser] [psql arguments…]
  (default)    as tenantql_owner, the role that owns the schema (RLS is forced on it too)
  --api        as tenantql_api, the role every API operation uses
  --admin      as tenantql_admin, the audited bypass role
  --worker     as tenantql_worker, the delivery worker (two functions, no tables)
  --superuser  as the migration login itself`;

const args = process.argv.slice(2);
const as = ['--api', '--admin', '--worker', '--superuser'].find((flag) => args[0] === flag);
// Only --help: -h is psql's own (the host).
if (args[0] === '--help') {
  console.log(USAGE);
  process.exit(0);
}
const psqlArgs = as ? args.slice(1) : args;

await runWithDatabase(async (endpoints) => {
  const url =
    as === '--api'
      ? endpoints.apiUrl
      : as === '--admin'
        ? endpoints.adminUrl
        : as === '--worker'
          ? endpoints.workerUrl
          : endpoints.migrationUrl;
  if (!url) {
    console.error(
      as === '--admin'
        ? 'ADMIN_DATABASE_URL is not set.'
        : as === '--worker'
          ? 'WORKER_DATABASE_URL is not set.'
          : 'MIGRATION_DATABASE_URL is not set; use --api to connect as the API role.',
    );
    return 1;
  }
  const env = { ...process.env };
  if (as === undefined) env.PGOPTIONS = `${env.PGOPTIONS ?? ''} -c role=tenantql_owner`.trim();
  return new Promise<number>((resolve) => {
    const child = spawn('psql', [url, ...psqlArgs], { stdio: 'inherit', env });
    child.on('error', (error: NodeJS.ErrnoException) => {
      console.error(
        error.code === 'ENOENT'
          ? 'psql was not found. Install the PostgreSQL client (Debian: apt-get install postgresql-client).'
          : error.message,
      );
      resolve(1);
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
});
