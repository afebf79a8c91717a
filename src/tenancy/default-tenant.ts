import pg from 'pg';
import { ConfigError, type TenancyConfig } from '../config.js';
import { UUID } from '../formats.js';

/**
 * With tenancy off, makes sure the one tenant exists and is open for enrollment (everyone who
 * signs up joins it), and returns its id. Needs the migration connection, which bypasses RLS;
 * with tenancy on it does nothing.
 */
export async function ensureDefaultTenant(
  tenancy: TenancyConfig,
  migrationUrl: string | undefined,
): Promise<string | undefined> {
  if (tenancy.enabled) return undefined;
  const slug = tenancy.defaultTenant;
  if (!slug) throw new ConfigError('TENANCY_ENABLED=false needs DEFAULT_TENANT (a tenant slug).');
  if (UUID.test(slug)) return slug.toLowerCase();
  if (!migrationUrl) {
    throw new ConfigError(
      'TENANCY_ENABLED=false with a DEFAULT_TENANT slug needs MIGRATION_DATABASE_URL to create that ' +
        'tenant; or set DEFAULT_TENANT to the id of an existing tenant.',
    );
  }
  const client = new pg.Client({ connectionString: migrationUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `insert into app.tenants (slug, name, settings) values ($1, $1, '{"openEnrollment": true}')
       on conflict (slug) do update set settings = app.tenants.settings || '{"openEnrollment": true}'
       returning id`,
      [slug],
    );
    return rows[0]?.id;
  } finally {
    await client.end();
  }
}
