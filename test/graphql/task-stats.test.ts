import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { roundTrips } from '../support/round-trips.js';

// Project.taskStats against counts computed here, over random task sets in two tenants at once.

const STATUSES = ['TODO', 'IN_PROGRESS', 'DONE'] as const;
const AS_OF = '2026-06-15';
const DUE_DATES = [null, '2026-06-01', '2026-06-14', AS_OF, '2026-06-16', '2099-01-01'] as const;

interface TaskSpec {
  project: number;
  status: (typeof STATUSES)[number];
  /** Index into the tenant's members; past the end: unassigned. */
  assignee: number;
  due: (typeof DUE_DATES)[number];
}

interface Tenant {
  seed: SeededTenant;
  projects: string[];
  members: string[];
  call: Call;
}

let db: TestDatabase;
let api: TestApp;
let tenants: Tenant[];
let owner: pg.Client;

const STATS = `query($asOf: LocalDate) { projects(first: 20) { edges { node { id taskStats {
  total byStatus { status count } byAssignee { count user { id } } overdue(asOf: $asOf) today: overdue
} } } } }`;

interface StatsResult {
  projects: {
    edges: {
      node: {
        id: string;
        taskStats: {
          total: number;
          byStatus: { status: string; count: number }[];
          byAssignee: { count: number; user: { id: string } | null }[];
          overdue: number;
          today: number;
        };
      };
    }[];
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  tenants = await Promise.all(
    ['statsA', 'statsB'].map(async (label) => {
      const seed = await seedTenant(db.ownerUrl, label);
      const projects = [seed.projectId];
      for (const key of ['SEC', 'THI']) {
        const { rows } = await owner.query<{ id: string }>(
          `insert into app.projects (tenant_id, key, name) values ($1, $2, $3) returning id`,
          [seed.id, key, `${label} ${key}`],
        );
        projects.push(rows[0].id);
      }
      const members = [seed.users.owner, seed.users.member, seed.users.viewer];
      return { seed, projects, members, call: await callerFor(api, seed.id, seed.users.viewer) };
    }),
  );
});
afterAll(async () => {
  await owner?.end();
  await api?.close();
  await db?.drop();
});

const taskArb = fc.record({
  project: fc.nat(2),
  status: fc.constantFrom(...STATUSES),
  assignee: fc.nat(3),
  due: fc.constantFrom(...DUE_DATES),
});
const tenantTasksArb = fc.array(taskArb, { maxLength: 25 });

/** What taskStats must answer for one project, computed from the specs alone. */
function expected(tenant: Tenant, specs: TaskSpec[], project: number, today: string) {
  const tasks = specs.filter((t) => t.project === project);
  const byAssignee = new Map<string | null, number>();
  for (const t of tasks) {
    const user = tenant.members[t.assignee] ?? null;
    byAssignee.set(user, (byAssignee.get(user) ?? 0) + 1);
  }
  const overdue = (day: string) =>
    tasks.filter((t) => t.status !== 'DONE' && t.due !== null && t.due < day).length;
  return {
    total: tasks.length,
    byStatus: STATUSES.map((status) => ({
      status,
      count: tasks.filter((t) => t.status === status).length,
    })),
    byAssignee: [...byAssignee]
      .map(([user, count]) => ({ count, user: user ? { id: user } : null }))
      .sort((x, y) => y.count - x.count || (x.user?.id ?? '').localeCompare(y.user?.id ?? '')),
    overdue: overdue(AS_OF),
    today: overdue(today),
  };
}

async function replaceTasks(tenant: Tenant, specs: TaskSpec[]): Promise<void> {
  await owner.query('delete from app.tasks where tenant_id = $1', [tenant.seed.id]);
  for (const [i, t] of specs.entries()) {
    await owner.query(
      `insert into app.tasks (tenant_id, id, project_id, title, status, assignee_id, due_date)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        tenant.seed.id,
        randomUUID(),
        tenant.projects[t.project],
        `task ${i}`,
        t.status,
        tenant.members[t.assignee] ?? null,
        t.due,
      ],
    );
  }
}

describe('Project.taskStats', () => {
  it('equals counts computed independently, in two tenants at once', async () => {
    const [{ today }] = await ownerQuery<{ today: string }>(
      db.ownerUrl,
      `select ((now() at time zone 'UTC')::date)::text as today`,
    );
    await fc.assert(
      fc.asyncProperty(tenantTasksArb, tenantTasksArb, async (tasksA, tasksB) => {
        const specs = [tasksA, tasksB];
        for (const [i, tenant] of tenants.entries()) await replaceTasks(tenant, specs[i]);
        for (const [i, tenant] of tenants.entries()) {
          const result = await tenant.call<StatsResult>(STATS, { asOf: AS_OF });
          expect(result.errors).toBeUndefined();
          const got = new Map(
            result.data!.projects.edges.map((e) => [e.node.id, e.node.taskStats]),
          );
          expect([...got.keys()].sort()).toEqual([...tenant.projects].sort());
          for (const [p, projectId] of tenant.projects.entries()) {
            expect(got.get(projectId)).toEqual(expected(tenant, specs[i], p, today));
          }
        }
      }),
      { numRuns: 15 },
    );
  });

  it('runs one statement per selected part for all projects, none for parts not selected', async () => {
    const [tenant] = tenants;
    const counting = async (query: string) => {
      const trips = await roundTrips(async () => {
        const result = await tenant.call(query, { asOf: AS_OF });
        expect(result.errors).toBeUndefined();
      });
      return trips.flatMap((t) => t.split(' + ')).filter((s) => s.includes('count(*)::int'));
    };
    // Five parts (overdue twice, with and without asOf) for three projects.
    expect(await counting(STATS)).toHaveLength(5);
    const totalOnly = await counting(
      `{ projects(first: 100) { edges { node { taskStats { total } } } } }`,
    );
    expect(totalOnly).toHaveLength(1);
    expect(totalOnly[0]).not.toMatch(/status|assignee_id|due_date/);
  });
});
