import pg from 'pg';

export const PROJECTS_PER_TENANT = 10;
export const TASKS_PER_PROJECT = 20;
export const COMMENTS_PER_TASK = 3;
const CHUNK = 50;

/** Deterministic ids (SQL expressions of the indexes), so the load generator can compute them. */
const TENANT = (t: string) => `md5('t' || ${t})::uuid`;
const USER = (t: string) => `md5('u' || ${t})::uuid`;
const PROJECT = (t: string, p: string) => `md5('p' || ${t} || '.' || ${p})::uuid`;
const TASK = (t: string, p: string, k: string) =>
  `md5('k' || ${t} || '.' || ${p} || '.' || ${k})::uuid`;

/**
 * Seeds tenants 1..count, each with one owner, 10 projects × 20 tasks × 3 comments, in chunks of
 * set-based inserts as the superuser (RLS does not apply to it). Skips when already seeded.
 */
export async function seedBench(migrationUrl: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: migrationUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from app.tenants where slug like 'bench-%'`,
    );
    const have = Number(rows[0]?.n ?? 0);
    if (have === count) {
      console.log(`seed: ${count} tenants already present`);
      return;
    }
    if (have !== 0)
      throw new Error(`database holds ${have} bench tenants, not ${count}: delete bench/.data`);
    const started = Date.now();
    for (let from = 1; from <= count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK - 1);
      await client.query('begin');
      await client.query(
        `insert into app.tenants (id, slug, name)
           select ${TENANT('t')}, 'bench-' || t, 'Bench ' || t from generate_series($1::int, $2::int) t`,
        [from, to],
      );
      await client.query(
        `insert into app.users (id, email, name, password_hash)
           select ${USER('t')}, 'bench-' || t || '@example.test', 'User ' || t, 'not-a-real-hash'
             from generate_series($1::int, $2::int) t`,
        [from, to],
      );
      await client.query(
        `insert into app.memberships (tenant_id, user_id, role)
           select ${TENANT('t')}, ${USER('t')}, 'owner' from generate_series($1::int, $2::int) t`,
        [from, to],
      );
      await client.query(
        `insert into app.projects (tenant_id, id, key, name, created_by)
           select ${TENANT('t')}, ${PROJECT('t', 'p')}, 'P' || p, 'Project ' || p, ${USER('t')}
             from generate_series($1::int, $2::int) t, generate_series(1, ${PROJECTS_PER_TENANT}) p`,
        [from, to],
      );
      await client.query(
        `insert into app.tasks (tenant_id, id, project_id, title, status, created_by)
           select ${TENANT('t')}, ${TASK('t', 'p', 'k')}, ${PROJECT('t', 'p')}, 'Task ' || p || '-' || k,
                  (array['TODO', 'IN_PROGRESS', 'DONE'])[1 + k % 3], ${USER('t')}
             from generate_series($1::int, $2::int) t, generate_series(1, ${PROJECTS_PER_TENANT}) p,
                  generate_series(1, ${TASKS_PER_PROJECT}) k`,
        [from, to],
      );
      await client.query(
        `insert into app.comments (tenant_id, task_id, author_id, body)
           select ${TENANT('t')}, ${TASK('t', 'p', 'k')}, ${USER('t')}, 'Comment ' || c || ' on task ' || k
             from generate_series($1::int, $2::int) t, generate_series(1, ${PROJECTS_PER_TENANT}) p,
                  generate_series(1, ${TASKS_PER_PROJECT}) k, generate_series(1, ${COMMENTS_PER_TASK}) c`,
        [from, to],
      );
      await client.query('commit');
      const rate = (to / ((Date.now() - started) / 1000)).toFixed(0);
      process.stdout.write(`\rseed: ${to}/${count} tenants (${rate}/s)   `);
    }
    process.stdout.write('\n');
    await client.query('vacuum analyze');
    console.log(`seed: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }
}

/**
 * Gives the bench tenants a budget no load here can spend: ten tenants at full speed spend a free
 * plan's 600 requests a minute within seconds, and refused requests would pass for fast ones.
 * The rate limiter still counts every request, as in production.
 */
export async function liftRateLimits(migrationUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: migrationUrl });
  await client.connect();
  try {
    await client.query(
      `update app.tenants set requests_per_minute = 100000000
        where slug like 'bench-%' and requests_per_minute is distinct from 100000000`,
    );
  } finally {
    await client.end();
  }
}

/** Tenant t's id, owner id and project p's id, computed as the seed does. */
export async function benchIds(
  migrationUrl: string,
  tenants: number[],
): Promise<{ tenant: number; tenantId: string; userId: string; projectIds: string[] }[]> {
  const client = new pg.Client({ connectionString: migrationUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      t: number;
      tenant_id: string;
      user_id: string;
      project_ids: string[];
    }>(
      `select t, ${TENANT('t')} as tenant_id, ${USER('t')} as user_id,
              array(select ${PROJECT('t', 'p')} from generate_series(1, ${PROJECTS_PER_TENANT}) p) as project_ids
         from unnest($1::int[]) t`,
      [tenants],
    );
    return rows.map((r) => ({
      tenant: r.t,
      tenantId: r.tenant_id,
      userId: r.user_id,
      projectIds: r.project_ids,
    }));
  } finally {
    await client.end();
  }
}
