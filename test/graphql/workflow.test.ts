import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue, ProjectStatusValue } from '../../src/db/schema.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callersOf, errorCode, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

const STATUSES: ProjectStatusValue[] = [
  'DRAFT',
  'SUBMITTED',
  'APPROVED',
  'REJECTED',
  'ACTIVE',
  'COMPLETED',
  'ARCHIVED',
];
const ROLES: MembershipRoleValue[] = ['viewer', 'member', 'admin', 'owner'];
const RANK: Record<string, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2, OWNER: 3 };

interface Edge {
  from: ProjectStatusValue;
  to: ProjectStatusValue;
  minimumRole: string;
}

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let as: Record<MembershipRoleValue, Call>;
let asB: Record<MembershipRoleValue, Call>;
let edges: Edge[];
let owner: pg.Client;

/** What is really stored, read as the migrator (RLS does not apply). */
async function asOwner<R extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  return (await owner.query<R>(text, values)).rows;
}

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = await startTestApp(db);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  [as, asB] = await Promise.all([callersOf(api, a), callersOf(api, b)]);
  const result = await as.viewer<{ projectWorkflow: Edge[] }>(
    '{ projectWorkflow { from to minimumRole } }',
  );
  edges = result.data?.projectWorkflow ?? [];
});
afterAll(async () => {
  await owner.end();
  await api.close();
  await db.drop();
});

/** A project already in the given status (inserted directly: inserts are not workflow steps). */
async function projectIn(status: ProjectStatusValue, tenant = a): Promise<string> {
  const id = randomUUID();
  await asOwner(
    `insert into app.projects (tenant_id, id, key, name, status) values ($1, $2, $3, 'Workflow', $4)`,
    [
      tenant.id,
      id,
      `W${id
        .slice(0, 8)
        .replace(/[^0-9A-F]/gi, '0')
        .toUpperCase()}`,
      status,
    ],
  );
  return id;
}

const TRANSITION = `mutation ($id: ID!, $to: ProjectStatus!, $comment: String) {
  transitionProject(id: $id, to: $to, comment: $comment) { id status }
}`;

describe('the project workflow table', () => {
  it('is served to clients and matches the documented workflow', () => {
    const summary = edges.map((e) => `${e.from}>${e.to}:${e.minimumRole}`).sort();
    expect(summary).toEqual(
      [
        'DRAFT>SUBMITTED:MEMBER',
        'SUBMITTED>APPROVED:ADMIN',
        'SUBMITTED>REJECTED:ADMIN',
        'REJECTED>DRAFT:MEMBER',
        'APPROVED>ACTIVE:MEMBER',
        'ACTIVE>COMPLETED:MEMBER',
        ...STATUSES.filter((s) => s !== 'ARCHIVED').map((s) => `${s}>ARCHIVED:OWNER`),
      ].sort(),
    );
  });

  it('allows every edge to exactly the roles at or above its minimum, and records it', async () => {
    for (const edge of edges) {
      for (const role of ROLES) {
        const id = await projectIn(edge.from);
        const comment = `${role} moves ${edge.from} to ${edge.to}`;
        const result = await as[role](TRANSITION, { id, to: edge.to, comment });
        const allowed = role !== 'viewer' && RANK[role.toUpperCase()] >= RANK[edge.minimumRole];
        const label = `${edge.from}>${edge.to} as ${role}`;
        const [stored] = await asOwner<{ status: string }>(
          'select status from app.projects where id = $1',
          [id],
        );
        const history = await asOwner(
          'select from_status, to_status, actor_id, comment from app.project_transitions where project_id = $1',
          [id],
        );
        if (allowed) {
          expect(result.errors, label).toBeUndefined();
          expect(stored?.status, label).toBe(edge.to);
          expect(history, label).toEqual([
            { from_status: edge.from, to_status: edge.to, actor_id: a.users[role], comment },
          ]);
        } else {
          expect(errorCode(result), label).toBe('FORBIDDEN');
          expect(stored?.status, label).toBe(edge.from);
          expect(history, label).toEqual([]);
        }
      }
    }
  });

  it('refuses every step that is not in the table, naming the allowed targets', async () => {
    for (const from of STATUSES) {
      const targets = edges.filter((e) => e.from === from).map((e) => e.to);
      for (const to of STATUSES.filter((s) => s !== from && !targets.includes(s))) {
        const id = await projectIn(from);
        const result = await as.owner(TRANSITION, { id, to });
        expect(errorCode(result), `${from}>${to}`).toBe('INVALID_TRANSITION');
        expect(result.errors?.[0]?.extensions?.allowedTargets, `${from}>${to}`).toEqual(targets);
      }
    }
  });

  it('offers each role the buttons it may press', async () => {
    const id = await projectIn('SUBMITTED');
    const query = `query ($id: ID!) { project(id: $id) { allowedTransitions } }`;
    const allowed = async (role: MembershipRoleValue) =>
      (
        (await as[role]<{ project: { allowedTransitions: string[] } }>(query, { id })).data?.project
          .allowedTransitions ?? []
      ).sort();
    expect(await allowed('viewer')).toEqual([]);
    expect(await allowed('member')).toEqual([]);
    expect(await allowed('admin')).toEqual(['APPROVED', 'REJECTED']);
    expect(await allowed('owner')).toEqual(['APPROVED', 'ARCHIVED', 'REJECTED']);
  });

  it('keeps the history with actor and comment, readable in the tenant only', async () => {
    const id = await projectIn('DRAFT');
    await as.member(TRANSITION, { id, to: 'SUBMITTED', comment: 'ready for review' });
    await as.admin(TRANSITION, { id, to: 'APPROVED', comment: 'looks good' });
    const query = `query ($id: ID!) { project(id: $id) { status transitions { from to comment actor { id } } } }`;
    const result = await as.viewer<{ project: { status: string; transitions: unknown[] } }>(query, {
      id,
    });
    expect(result.data?.project).toEqual({
      status: 'APPROVED',
      transitions: [
        {
          from: 'DRAFT',
          to: 'SUBMITTED',
          comment: 'ready for review',
          actor: { id: a.users.member },
        },
        { from: 'SUBMITTED', to: 'APPROVED', comment: 'looks good', actor: { id: a.users.admin } },
      ],
    });
    expect((await asB.owner(query, { id })).data).toEqual({ project: null });
  });

  it('routes a status change through updateProject along the same table', async () => {
    const id = await projectIn('DRAFT');
    const update = `mutation ($id: ID!, $status: ProjectStatus!) { updateProject(id: $id, input: {status: $status}) { status } }`;
    expect(errorCode(await as.member(update, { id, status: 'ACTIVE' }))).toBe('INVALID_TRANSITION');
    expect((await as.member(update, { id, status: 'SUBMITTED' })).data).toEqual({
      updateProject: { status: 'SUBMITTED' },
    });
    const history = await asOwner(
      'select to_status from app.project_transitions where project_id = $1',
      [id],
    );
    expect(history).toEqual([{ to_status: 'SUBMITTED' }]);
  });

  it('refuses a transition of another tenant’s project as NOT_FOUND', async () => {
    const id = await projectIn('DRAFT', b);
    expect(errorCode(await as.owner(TRANSITION, { id, to: 'SUBMITTED' }))).toBe('NOT_FOUND');
    const [stored] = await asOwner<{ status: string }>(
      'select status from app.projects where id = $1',
      [id],
    );
    expect(stored?.status).toBe('DRAFT');
  });
});

describe('the database enforces the workflow on its own', () => {
  it('refuses a step outside the table and a role too low, whoever issues the UPDATE', async () => {
    const api = new pg.Client({ connectionString: db.apiUrl });
    await api.connect();
    try {
      const draft = await projectIn('DRAFT');
      const member = { tenantId: a.id, userId: a.users.member, role: 'member' };
      expect(
        await asContext(api, member, () =>
          sqlState(api.query(`update app.projects set status = 'APPROVED' where id = $1`, [draft])),
        ),
      ).toBe('23514');
      expect(
        await asContext(api, member, () =>
          sqlState(api.query(`update app.projects set status = 'ARCHIVED' where id = $1`, [draft])),
        ),
      ).toBe('42501');
      const owner = { tenantId: a.id, userId: a.users.owner, role: 'owner' };
      expect(
        await asContext(api, owner, () =>
          sqlState(api.query(`update app.projects set status = 'ARCHIVED' where id = $1`, [draft])),
        ),
      ).toBeUndefined();
      expect(
        await asContext(api, owner, () =>
          sqlState(api.query(`update app.project_transitions set comment = 'rewritten'`)),
        ),
      ).toBe('42501');
    } finally {
      await api.end();
    }
  });
});
