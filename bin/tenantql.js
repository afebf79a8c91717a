#!/usr/bin/env node
/* global process, console -- a Node script; the lint config has no Node globals for .js files */
// The `tenantql` command, from any directory. `start` compiles the server as `npm start` does
// (bin/start.js); the other commands run their TypeScript sources through tsx in this process.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const COMMANDS = {
  start: ['src/main.ts', 'start the API (embedded PostgreSQL unless DATABASE_URL is set)'],
  migrate: ['src/cli/migrate.ts', 'apply pending migrations (safe to run twice)'],
  seed: ['src/cli/seed.ts', 'seed the demo tenants and accounts'],
  policies: ['src/cli/policies.ts', 'print RLS state and policies per table; non-zero on a gap'],
  psql: ['src/cli/psql.ts', 'psql on the database [--api | --admin | --superuser] [psql args…]'],
  schema: ['src/cli/schema.ts', 'write schema.graphql from the code'],
  admin: ['src/cli/admin.ts', 'grant|revoke <email> [reason]: platform-operator rights (audited)'],
  citus: [
    'src/cli/citus.ts',
    'distribute: make the migrated database a Citus cluster (idempotent)',
  ],
  'export-tenant': [
    'src/cli/export-tenant.ts',
    'stream one tenant as JSON through the audited export (--help)',
  ],
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

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage());
  process.exit(command === undefined ? 1 : 0);
}
const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
if (!entry) {
  console.error(`tenantql: unknown command "${command}"\n\n${usage()}`);
  process.exit(1);
}

// The command modules read their own arguments from process.argv.
process.argv = [process.argv[0], path.join(ROOT, entry[0]), ...rest];
const { runSource, startServer } = await import('./start.js');
await (command === 'start' ? startServer() : runSource(entry[0]));
