#!/usr/bin/env node
/* global process, console, URL -- a Node script; the lint config has no Node globals for .js files */
// The `tenantql` command, from any directory. Each command runs its compiled module from dist/
// in this process, as `npm start` does (bin/start.js: rebuilt first when a source changed).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { distFile } from './build.js';

const COMMANDS = {
  start: ['main', 'start the API (embedded PostgreSQL unless DATABASE_URL is set)'],
  worker: ['delivery/main', 'the notification delivery worker alone (WORKER_DATABASE_URL)'],
  migrate: ['cli/migrate', 'apply pending migrations (safe to run twice)'],
  seed: ['cli/seed', 'seed the demo tenants and accounts'],
  policies: ['cli/policies', 'print RLS state and policies per table; non-zero on a gap'],
  psql: ['cli/psql', 'psql on the database [--api | --admin | --worker | --superuser] [args…]'],
  schema: ['cli/schema', 'write schema.graphql from the code'],
  admin: ['cli/admin', 'grant|revoke <email> [reason] | owner <email> [tenant]: operator rights'],
  citus: ['cli/citus', 'distribute: make the migrated database a Citus cluster (idempotent)'],
  'export-tenant': ['cli/export-tenant', 'stream one tenant as JSON through the audited export'],
};

function usage() {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: tenantql <command> [arguments…]',
    '',
    ...Object.entries(COMMANDS).map(([name, [, text]]) => `  ${name.padEnd(width)}  ${text}`),
    '',
    'Configuration comes from environment variables (see README.md, "Configuration");',
    'without DATABASE_URL the embedded PostgreSQL in $TENANTQL_DATA_DIR (./.data) is used.',
  ].join('\n');
}

/** Commands that print their own detailed help for --help. */
const OWN_HELP = new Set(['psql', 'export-tenant']);

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage());
  process.exit(command === undefined ? 1 : 0);
}
if (command === '--version' || command === '-v') {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  console.log(pkg.version);
  process.exit(0);
}
const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
if (!entry) {
  console.error(`tenantql: unknown command "${command}"\n\n${usage()}`);
  process.exit(1);
}
// `tenantql migrate --help` must describe migrate, not run it (nor start a server, nor rewrite
// schema.graphql): only the commands with help of their own see the flag.
if (!OWN_HELP.has(command) && rest.some((arg) => arg === '--help' || arg === '-h')) {
  console.log(`usage: tenantql ${command} [arguments…]\n\n  ${entry[1]}\n\n${usage()}`);
  process.exit(0);
}

// The command modules read their own arguments from process.argv. A cluster primary whose compiled
// module went away (a rebuild) forks argv[1] instead: for `start`, bin/start.js, which rebuilds.
const script =
  command === 'start' ? fileURLToPath(new URL('start.js', import.meta.url)) : distFile(entry[0]);
process.argv = [process.argv[0], script, ...rest];
const { runCompiled } = await import('./start.js');
await runCompiled(entry[0]);
