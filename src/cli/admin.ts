import os from 'node:os';
import pg from 'pg';
import { loadConfigOrExit } from '../config.js';
import { runWithDatabase } from './run.js';

const USAGE = `usage: npm run admin:grant -- <email> [reason]
       npm run admin:revoke -- <email> [reason]
       npm run admin:owner -- <email> [tenant-slug]
grant/revoke: platform-operator rights. owner: makes the account an owner of the tenant (by
default DEFAULT_TENANT, the one tenant of a single-tenant deployment). Needs
MIGRATION_DATABASE_URL (or the embedded server): the API itself can do neither. With
EMAIL_VERIFICATION=required (the default) the account must have verified its address.`;

const [command, email, ...reasonWords] = process.argv.slice(2);
if (
  (command !== 'grant' && command !== 'revoke' && command !== 'owner') ||
  !email ||
  email.startsWith('-')
) {
  console.error(USAGE);
  process.exit(2);
}
const config = loadConfigOrExit();
const requireVerified = config.auth.emailVerification === 'required';
const unverified = (address: string) =>
  `${address} has not verified its email address, so whoever signed up with it may not own ` +
  'it. Have them verify it first (resendVerification), or set EMAIL_VERIFICATION=off for an ' +
  'internal deployment.';

if (command === 'owner') {
  const slug = reasonWords[0] ?? config.tenancy.defaultTenant;
  if (!slug) {
    console.error(`Name the tenant (its slug): no DEFAULT_TENANT is set.\n\n${USAGE}`);
    process.exit(2);
  }
  await runWithDatabase(async (endpoints) => {
    if (!endpoints.migrationUrl) {
      console.error('Set MIGRATION_DATABASE_URL: only the migration connection may do this.');
      return 1;
    }
    const client = new pg.Client({ connectionString: endpoints.migrationUrl });
    await client.connect();
    try {
      await client.query('begin');
      const { rows: users } = await client.query<{ id: string; verified: boolean }>(
        `select id, email_verified_at is not null as verified from app.users
          where email = lower(btrim($1))`,
        [email],
      );
      const { rows: tenants } = await client.query<{ id: string }>(
        'select id from app.tenants where slug = $1',
        [slug],
      );
      const user = users[0];
      const tenant = tenants[0];
      if (!user || !tenant) {
        await client.query('rollback');
        console.error(
          user ? `No tenant has the slug ${slug}.` : `No account has the email ${email}.`,
        );
        return 1;
      }
      if (requireVerified && !user.verified) {
        await client.query('rollback');
        console.error(unverified(email));
        return 1;
      }
      await client.query(
        `insert into app.memberships (tenant_id, user_id, role) values ($1, $2, 'owner')
         on conflict (tenant_id, user_id) do update set role = 'owner'`,
        [tenant.id, user.id],
      );
      await client.query('commit');
      console.log(`${email} (${user.id}) is now an owner of ${slug}`);
      return 0;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      await client.end();
    }
  });
} else {
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
      if (grant && requireVerified) {
        const { rows: users } = await client.query<{ verified: boolean }>(
          `select email_verified_at is not null as verified from app.users
            where email = lower(btrim($1))`,
          [email],
        );
        if (users[0] && !users[0].verified) {
          await client.query('rollback');
          console.error(unverified(email));
          return 1;
        }
      }
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
}
