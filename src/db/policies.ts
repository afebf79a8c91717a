import type pg from 'pg';

const COMMANDS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
type Command = (typeof COMMANDS)[number];

export interface PolicyInfo {
  name: string;
  command: Command | 'ALL';
  roles: string[];
  using: string | null;
  withCheck: string | null;
}

export interface TableSecurity {
  table: string;
  rlsEnabled: boolean;
  rlsForced: boolean;
  policies: PolicyInfo[];
  /** Commands that no policy covers (for every role). */
  uncovered: Command[];
}

/** Row-level-security state of every table in the app schema, as pg_class and pg_policies say. */
export async function inspectTableSecurity(
  client: pg.ClientBase,
  schema = 'app',
): Promise<TableSecurity[]> {
  const { rows: tables } = await client.query<{
    table: string;
    enabled: boolean;
    forced: boolean;
  }>(
    `select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
      order by c.relname`,
    [schema],
  );
  const { rows: policies } = await client.query<{
    table: string;
    name: string;
    cmd: Command | 'ALL';
    roles: string[];
    qual: string | null;
    with_check: string | null;
  }>(
    `select tablename as table, policyname as name, cmd, roles::text[] as roles, qual, with_check
       from pg_policies where schemaname = $1 order by tablename, policyname`,
    [schema],
  );
  return tables.map((t) => {
    const own = policies.filter((p) => p.table === t.table);
    // A policy limited to other roles does not cover a command for the API role.
    const forEveryone = own.filter((p) => p.roles.includes('public'));
    const uncovered = COMMANDS.filter(
      (cmd) => !forEveryone.some((p) => p.cmd === cmd || p.cmd === 'ALL'),
    );
    return {
      table: `${schema}.${t.table}`,
      rlsEnabled: t.enabled,
      rlsForced: t.forced,
      policies: own.map((p) => ({
        name: p.name,
        command: p.cmd,
        roles: p.roles,
        using: p.qual,
        withCheck: p.with_check,
      })),
      uncovered,
    };
  });
}

/** Human-readable problems; empty when every table is enabled, forced and fully covered. */
export function securityProblems(tables: TableSecurity[]): string[] {
  const problems: string[] = [];
  if (tables.length === 0) problems.push('no tables found in the app schema (not migrated?)');
  for (const t of tables) {
    if (!t.rlsEnabled) problems.push(`${t.table}: row level security is not enabled`);
    if (!t.rlsForced) problems.push(`${t.table}: row level security is not forced`);
    for (const cmd of t.uncovered) problems.push(`${t.table}: no ${cmd} policy`);
  }
  return problems;
}
