import pg from 'pg';
import { inspectTableSecurity, securityProblems } from '../db/policies.js';
import { runWithDatabase } from './run.js';

/** pg_policies spells `(select app.f())` as `( SELECT app.f() AS f)`; print it the way it was written. */
function oneLine(expression: string | null): string {
  if (expression === null) return '';
  return expression
    .replace(/\s+/g, ' ')
    .replace(/\( SELECT (app\.\w+\(\)) AS \w+\)/g, '(select $1)')
    .replace(/'(\w+)'::text/g, "'$1'");
}

await runWithDatabase(async (endpoints) => {
  const client = new pg.Client({ connectionString: endpoints.apiUrl });
  await client.connect();
  try {
    const tables = await inspectTableSecurity(client);
    for (const t of tables) {
      const covered = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'].filter(
        (c) => !t.uncovered.includes(c as never),
      );
      console.log(
        `${t.table.padEnd(18)} rls=${t.rlsEnabled ? 'enabled' : 'DISABLED'} ` +
          `${t.rlsForced ? 'forced' : 'NOT-FORCED'} commands=${covered.join(',') || 'none'}`,
      );
      for (const p of t.policies) {
        const roles = p.roles.includes('public') ? '' : ` to ${p.roles.join(',')}`;
        const using = p.using ? ` using (${oneLine(p.using)})` : '';
        const check = p.withCheck ? ` with check (${oneLine(p.withCheck)})` : '';
        console.log(`    ${p.name} [${p.command}${roles}]${using}${check}`);
      }
    }
    const problems = securityProblems(tables);
    for (const problem of problems) console.error(`PROBLEM: ${problem}`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    await client.end();
  }
});
