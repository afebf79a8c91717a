import os from 'node:os';
import pg from 'pg';
import { runWithDatabase } from './run.js';

const USAGE = `usage: npm run admin:grant -- <email> [reason]
       npm run admin:revoke -- <email> [reason]
Grants or revokes platform-operator rights. Needs MIGRATION_DATABASE_URL (or the embedded server):
the API itself can never change this flag.`;

const [command, email, ...reasonWords] = process.argv.slice(2);
if ((command !== 'grant' && command !== 'revoke') || !email || email.startsWith('-')) {
  console.error(USAGE);
  process.exit(2);
}
const grant = command === 'grant';
const reason =
  reasonWords.join(' ').trim() ||
  `${grant ? 'granted' : 'revoked'} from the command line by ${os.userInfo().username}`;

await runWithDatabase(async (endpoints) => {
  if (!endpoints.migrationUrl) {
    console.error(
      'Set MIGRATION_DATABASE_URL: only the migration connection may change this flag.',
    );
    return 1;
  }
  const client = new pg.Client({ connectionString: endpoints.migrationUrl });
  await client.connect();
  try {
    await client.query('begin');
    // As the owner, whatever the migration login is: app.set_platform_admin is the owner's, and the
    // forced policies then apply just as they do to the API.
    await client.query('set local role tenantql_owner');
    const { rows } = await client.query<{ id: string | null }>(
      'select app.set_platform_admin($1, $2, $3) as id',
      [email, grant, reason],
    );
    await client.query('commit');
    const id = rows[0]?.id;
    if (!id) {
      console.error(`No account has the email ${email}. Sign up first, then grant.`);
      return 1;
    }
    console.log(`${email} (${id}) ${grant ? 'is now' : 'is no longer'} a platform admin`);
    return 0;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
});
