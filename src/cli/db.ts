import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import pg from 'pg';
import { createMigrationFile, migrate, migrationStatus } from '../db/migrate.js';
import { PROJECT_ROOT } from '../project-root.js';
import { loadConfigOrExit } from '../config.js';
import { runWithDatabase } from './run.js';

// tenantql db status | new <name> [--no-transaction] | reset [--yes]: see bin/tenantql.js.
const [command, ...args] = process.argv.slice(2);

async function status(): Promise<void> {
  await runWithDatabase(
    async (endpoints) => {
      const client = new pg.Client({
        connectionString: endpoints.migrationUrl ?? endpoints.apiUrl,
      });
      await client.connect();
      try {
        const states = await migrationStatus(client);
        for (const m of states) {
          const when = m.appliedAt ? ` ${m.appliedAt.toISOString()}` : '';
          const note = m.transaction ? '' : ' (no-transaction)';
          console.log(`${m.state.padEnd(8)} ${m.name}${when}${note}`);
        }
        const count = (state: string) => states.filter((m) => m.state === state).length;
        console.log(
          `${count('applied')} applied, ${count('pending')} pending, ${count('changed')} changed ` +
            `after they were applied, ${count('unknown')} unknown to this code`,
        );
        if (count('changed') > 0) {
          console.error(
            'A changed migration is never re-run: restore the file and put the change in a new one.',
          );
        }
        return states.every((m) => m.state === 'applied') ? 0 : 1;
      } finally {
        await client.end();
      }
    },
    { migrate: false },
  );
}

async function confirmed(database: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    console.error('Not asking without a terminal: pass --yes to reset.');
    return false;
  }
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await readline.question(
      `This deletes every tenant, account and row in database "${database}". ` +
        'Type the database name to go on: ',
    );
    return answer.trim() === database;
  } finally {
    readline.close();
  }
}

async function reset(yes: boolean): Promise<void> {
  const config = loadConfigOrExit();
  if (config.production) {
    console.error('tenantql db reset is for development: refused with NODE_ENV=production.');
    process.exitCode = 1;
    return;
  }
  await runWithDatabase(
    async (endpoints, log) => {
      if (!endpoints.migrationUrl) {
        console.error('Set MIGRATION_DATABASE_URL: only the migration connection may do this.');
        return 1;
      }
      const database = decodeURIComponent(new URL(endpoints.migrationUrl).pathname.slice(1));
      if (!yes && !(await confirmed(database))) {
        console.error('Nothing was reset.');
        return 1;
      }
      const client = new pg.Client({ connectionString: endpoints.migrationUrl });
      await client.connect();
      try {
        // Everything the migrations made lives in these two schemas; roles are cluster-wide
        // and shared with other databases, so they stay.
        await client.query(
          'drop schema if exists app cascade; drop schema if exists tenantql_meta cascade',
        );
      } finally {
        await client.end();
      }
      console.log(`dropped schemas app and tenantql_meta of ${database}`);
      const applied = await migrate(endpoints.migrationUrl, {
        log,
        lockTimeoutMs: config.database.migrationLockTimeoutMs,
        searchLanguage: config.database.searchLanguage,
      });
      for (const name of applied) console.log(`applied ${name}`);
      if (endpoints.embedded) {
        // The next `npm start` seeds the demo again.
        await fs.rm(path.join(config.embedded.dataDir, 'demo-seeded'), { force: true });
      }
      console.log(`reset ${database}: ${applied.length} migrations applied`);
      return 0;
    },
    { migrate: false },
  );
}

if (command === 'status') {
  await status();
} else if (command === 'new' && args[0]) {
  try {
    const file = await createMigrationFile(args[0], {
      transaction: !args.includes('--no-transaction'),
    });
    console.log(`created ${path.relative(PROJECT_ROOT, file)}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
} else if (command === 'reset') {
  await reset(args.includes('--yes'));
} else {
  console.error('usage: tenantql db status | new <name> [--no-transaction] | reset [--yes]');
  process.exitCode = 2;
}
