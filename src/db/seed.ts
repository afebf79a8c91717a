import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { PasswordHasher } from '../auth/password.js';
import { oneTimeToken } from '../modules/account/account-email.js';
import {
  insertVerificationToken,
  spendVerificationToken,
} from '../modules/account/account.repository.js';
import type { Database, MembershipRoleValue, TaskStatusValue } from './schema.js';

export interface DemoAccount {
  email: string;
  password: string;
  name: string;
  memberships: { tenant: string; role: MembershipRoleValue }[];
}

export const DEMO_TENANTS = [
  { slug: 'acme', name: 'Acme Corp', owner: 'alice@acme.test' },
  { slug: 'globex', name: 'Globex', owner: 'grace@globex.test' },
] as const;

export const DEMO_ACCOUNTS: DemoAccount[] = [
  {
    email: 'alice@acme.test',
    password: 'alice-demo-pass',
    name: 'Alice Anders',
    memberships: [{ tenant: 'acme', role: 'owner' }],
  },
  {
    email: 'bob@acme.test',
    password: 'bob-demo-pass',
    name: 'Bob Brown',
    memberships: [
      { tenant: 'acme', role: 'member' },
      { tenant: 'globex', role: 'viewer' },
    ],
  },
  {
    email: 'grace@globex.test',
    password: 'grace-demo-pass',
    name: 'Grace Green',
    memberships: [{ tenant: 'globex', role: 'owner' }],
  },
  {
    email: 'hank@globex.test',
    password: 'hank-demo-pass',
    name: 'Hank Hill',
    memberships: [{ tenant: 'globex', role: 'admin' }],
  },
];

const DEMO_PROJECTS: Record<
  string,
  { key: string; name: string; tasks: [string, TaskStatusValue][] }[]
> = {
  acme: [
    {
      key: 'WEB',
      name: 'Website relaunch',
      tasks: [
        ['Pick a colour palette', 'DONE'],
        ['Write landing page copy', 'IN_PROGRESS'],
        ['Set up analytics', 'TODO'],
      ],
    },
    { key: 'OPS', name: 'Office move', tasks: [['Book movers', 'TODO']] },
  ],
  globex: [
    {
      key: 'DOOM',
      name: 'Doomsday device',
      tasks: [
        ['Order more lasers', 'IN_PROGRESS'],
        ['Hire henchmen', 'TODO'],
      ],
    },
  ],
};

/**
 * Seeds the demo through the API role, under RLS like any client would: each step runs in a
 * transaction carrying the acting user's context. Returns the accounts to print.
 */
export async function seedDemo(
  db: Kysely<Database>,
  passwords: PasswordHasher,
  /** Called after each step (argon2 makes each account take a noticeable moment). */
  onProgress?: (done: number, total: number, step: string) => void,
): Promise<DemoAccount[]> {
  const total = DEMO_ACCOUNTS.length + DEMO_TENANTS.length;
  let done = 0;
  const userIds = new Map<string, string>();
  for (const account of DEMO_ACCOUNTS) {
    const id = randomUUID();
    userIds.set(account.email, id);
    const hash = await passwords.hash(account.password);
    // Demo addresses are verified the way any account is (a token, spent), so invitations
    // between the demo accounts work at once; nobody reads mail at *.test.
    const { hash: tokenHash } = oneTimeToken();
    await db.transaction().execute(async (trx) => {
      await sql`select app.set_context_value('app.user_id', ${id})`.execute(trx);
      await trx
        .insertInto('app.users')
        .values({ id, email: account.email, name: account.name, password_hash: hash })
        .execute();
      await insertVerificationToken(trx, {
        hash: tokenHash,
        userId: id,
        email: account.email,
        expiresAt: new Date(Date.now() + 60_000),
      });
    });
    // Spent in a transaction of its own: app.verify_email writes the users row as its definer,
    // and on a Citus cluster two roles writing one reference-table row in one transaction
    // deadlock (each reaches the workers over connections of its own).
    await db.transaction().execute((trx) => spendVerificationToken(trx, tokenHash));
    onProgress?.(++done, total, `account ${account.email}`);
  }
  for (const tenant of DEMO_TENANTS) {
    const ownerId = userIds.get(tenant.owner) as string;
    const tenantId = await db.transaction().execute(async (trx) => {
      await sql`select app.set_context_value('app.user_id', ${ownerId})`.execute(trx);
      const { rows } = await sql<{
        id: string;
      }>`select app.create_tenant(${tenant.slug}, ${tenant.name}) as id`.execute(trx);
      return rows[0]?.id ?? '';
    });
    // Its content in a transaction of its own: on a Citus cluster the context function (run as
    // its definer) may not read rows this role wrote in the same transaction.
    await db.transaction().execute(async (trx) => {
      await sql`select * from app.set_operation_context(${ownerId}::uuid, ${tenantId}::uuid, null)`.execute(
        trx,
      );
      for (const account of DEMO_ACCOUNTS) {
        for (const m of account.memberships) {
          if (m.tenant !== tenant.slug || account.email === tenant.owner) continue;
          await trx
            .insertInto('app.memberships')
            .values({
              tenant_id: tenantId,
              user_id: userIds.get(account.email) as string,
              role: m.role,
            })
            .execute();
        }
      }
      const members = DEMO_ACCOUNTS.filter((a) =>
        a.memberships.some((m) => m.tenant === tenant.slug),
      );
      for (const project of DEMO_PROJECTS[tenant.slug] ?? []) {
        const { id: projectId } = await trx
          .insertInto('app.projects')
          .values({
            tenant_id: tenantId,
            key: project.key,
            name: project.name,
            description: `${project.name} (demo)`,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        for (const [index, [title, status]] of project.tasks.entries()) {
          const assignee = members[index % members.length];
          const { id: taskId } = await trx
            .insertInto('app.tasks')
            .values({
              tenant_id: tenantId,
              project_id: projectId,
              title,
              status,
              assignee_id: assignee ? (userIds.get(assignee.email) ?? null) : null,
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          await trx
            .insertInto('app.comments')
            .values({ tenant_id: tenantId, task_id: taskId, body: `Kick-off note for "${title}".` })
            .execute();
        }
      }
    });
    onProgress?.(++done, total, `tenant ${tenant.slug} with its projects, tasks and comments`);
  }
  return DEMO_ACCOUNTS;
}
