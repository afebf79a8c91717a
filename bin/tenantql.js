#!/usr/bin/env node
/* global process, URL -- a Node script; the lint config has no Node globals for .js files */
// The `tenantql` command, from any directory. commander parses the command line here, in plain
// JavaScript, so `--help` and `--version` answer on every command without compiling or loading
// anything; a command then runs its compiled module from dist/ in this process, as `npm start`
// does (bin/start.js: rebuilt first when a source changed). The module reads the arguments it is
// given in process.argv, which commander has already checked.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { distFile } from './build.js';
import { loadDotEnv, runCompiled } from './start.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Runs a compiled entry (a key of ENTRIES in bin/build.js) with these arguments. */
async function dispatch(entry, args) {
  loadDotEnv();
  // A cluster primary whose compiled module went away (a rebuild) forks argv[1] instead: for
  // `start`, bin/start.js, which rebuilds.
  const script =
    entry === 'main' ? fileURLToPath(new URL('start.js', import.meta.url)) : distFile(entry);
  process.argv = [process.argv[0], script, ...args];
  await runCompiled(entry);
}

/** A (sub)command with --help and --version of its own. */
function command(parent, name, description) {
  return parent
    .command(name)
    .description(description)
    .version(version, '--version', 'print the version of tenantql')
    .helpOption('-h, --help', 'show this help; runs nothing');
}

const program = new Command('tenantql')
  .description('A multi-tenant GraphQL API where PostgreSQL row-level security isolates tenants.')
  .version(version, '-v, --version', 'print the version of tenantql')
  .helpOption('-h, --help', 'show this help; runs nothing')
  .addHelpText(
    'after',
    '\nConfiguration comes from environment variables and a .env file in the current directory\n' +
      '(see docs/operations.md, "Configuration"); without DATABASE_URL the embedded PostgreSQL in\n' +
      '$TENANTQL_DATA_DIR (./.data) is used. `tenantql <command> --help` describes a command.',
  )
  .showHelpAfterError('(run `tenantql --help` for the commands)')
  // Options after a command belong to it (psql's pass through), never to tenantql itself.
  .enablePositionalOptions();

command(program, 'start', 'start the API (embedded PostgreSQL unless DATABASE_URL is set)').action(
  () => dispatch('main', []),
);
command(program, 'worker', 'the notification delivery worker alone (WORKER_DATABASE_URL)').action(
  () => dispatch('delivery/main', []),
);
command(
  program,
  'migrate',
  'apply pending migrations and name each one (safe to run twice)',
).action(() => dispatch('cli/migrate', []));
command(program, 'seed', 'seed the demo tenants and accounts (never in production)').action(() =>
  dispatch('cli/seed', []),
);
command(program, 'policies', 'print RLS state and policies per table; non-zero on a gap').action(
  () => dispatch('cli/policies', []),
);
command(program, 'schema', 'write schema.graphql from the code').action(() =>
  dispatch('cli/schema', []),
);

// psql's own options (-c, -tA, -h host …) pass through untouched: only --help is tenantql's.
command(program, 'psql', 'psql on the database, as the owner unless a role is named')
  .helpOption('--help', 'show this help; runs nothing')
  .addOption(
    new Option('--api', 'as tenantql_api, the role every API operation uses').conflicts([
      'admin',
      'worker',
      'superuser',
    ]),
  )
  .addOption(
    new Option('--admin', 'as tenantql_admin, the audited bypass role').conflicts([
      'worker',
      'superuser',
    ]),
  )
  .addOption(
    new Option('--worker', 'as tenantql_worker, the delivery worker').conflicts(['superuser']),
  )
  .option('--superuser', 'as the migration login itself')
  .argument('[psql-arguments...]', 'passed to psql as they are')
  .allowUnknownOption()
  .passThroughOptions()
  .action((psqlArgs, options) => {
    const as = ['api', 'admin', 'worker', 'superuser'].find((role) => options[role]);
    return dispatch('cli/psql', [...(as ? [`--${as}`] : []), ...psqlArgs]);
  });

const admin = command(program, 'admin', 'operator rights (needs MIGRATION_DATABASE_URL)');
command(admin, 'grant', 'make an account a platform operator')
  .argument('<email>', 'the account')
  .argument('[reason...]', 'recorded in the audit log')
  .action((email, reason) => dispatch('cli/admin', ['grant', email, ...reason]));
command(admin, 'revoke', 'take platform-operator rights away')
  .argument('<email>', 'the account')
  .argument('[reason...]', 'recorded in the audit log')
  .action((email, reason) => dispatch('cli/admin', ['revoke', email, ...reason]));
command(admin, 'owner', 'make an account an owner of a tenant')
  .argument('<email>', 'the account')
  .argument('[tenant]', "the tenant's slug (default DEFAULT_TENANT)")
  .action((email, tenant) =>
    dispatch('cli/admin', ['owner', email, ...(tenant === undefined ? [] : [tenant])]),
  );

const citus = command(program, 'citus', 'Citus: scale out (docs/operations.md, "Scaling out")');
command(citus, 'distribute', 'make the migrated database a Citus cluster (idempotent)').action(() =>
  dispatch('cli/citus', ['distribute']),
);

command(program, 'export-tenant', 'stream one tenant as JSON through the audited export')
  .requiredOption('--id <tenant-id>', 'the tenant')
  .requiredOption('--reason <why>', 'recorded in the audit log')
  .option('--out <file>', 'write here instead of standard output')
  .option('--url <api-url>', 'the running API (default http://localhost:$PORT)')
  .addHelpText('after', '\nAs the platform operator whose access token is in TENANTQL_TOKEN.')
  .action((options) =>
    dispatch('cli/export-tenant', [
      '--id',
      options.id,
      '--reason',
      options.reason,
      ...(options.out ? ['--out', options.out] : []),
      ...(options.url ? ['--url', options.url] : []),
    ]),
  );

const db = command(program, 'db', 'the database schema: migration status, new migrations, reset');
command(db, 'status', 'applied and pending migrations, and files changed since they were applied')
  .addHelpText(
    'after',
    '\nExits 1 when a migration is pending or was changed after it was applied.',
  )
  .action(() => dispatch('cli/db', ['status']));
command(db, 'new', 'create the next-numbered empty migration in sql/')
  .argument('<name>', 'what it does, e.g. add_task_labels (lower case, digits, _)')
  .option(
    '--no-transaction',
    'for statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY)',
  )
  .action((name, options) =>
    dispatch('cli/db', ['new', name, ...(options.transaction ? [] : ['--no-transaction'])]),
  );
command(db, 'reset', 'development only: drop everything tenantql created, then migrate again')
  .option('-y, --yes', 'do not ask for confirmation')
  .addHelpText(
    'after',
    '\nRefused when NODE_ENV=production. Every tenant, account and row is lost.',
  )
  .action((options) => dispatch('cli/db', ['reset', ...(options.yes ? ['--yes'] : [])]));

const config = command(program, 'config', 'the configuration (environment variables, .env)');
command(config, 'check', 'check every variable and exit non-zero naming the wrong ones').action(
  () => dispatch('cli/config', ['check']),
);

await program.parseAsync(process.argv);
