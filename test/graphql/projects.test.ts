import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { callersOf, errorCode, errorField, ownerQuery, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let api: TestApp;
let tenant: SeededTenant;
let as: Record<'owner' | 'admin' | 'member' | 'viewer', Call>;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  tenant = await seedTenant(db.ownerUrl, 'proj');
  as = await callersOf(api, tenant);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

const CREATE = `mutation($input: CreateProjectInput!) {
  createProject(input: $input) { id key name description status createdBy { id } createdAt updatedAt }
}`;
const PROJECTS = `query($first: Int, $after: String, $filter: ProjectFilter, $orderBy: ProjectOrder) {
  projects(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id key name status } }
  }
}`;

interface ProjectsPage {
  projects: {
    totalCount: number;
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    };
    edges: { cursor: string; node: { id: string; key: string; name: string; status: string } }[];
  };
}

describe('project CRUD', () => {
  it('creates a project as a member, with defaults and the creator', async () => {
    const result = await as.member(CREATE, {
      input: { name: '  Apollo  ', key: 'APL', description: 'Moon' },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createProject).toMatchObject({
      key: 'APL',
      name: 'Apollo',
      description: 'Moon',
      status: 'DRAFT',
      createdBy: { id: tenant.users.member },
    });
  });

  it('reads a project by id, and null for an unknown id', async () => {
    const found = await as.viewer(`query($id: ID!) { project(id: $id) { id key name } }`, {
      id: tenant.projectId,
    });
    expect(found.data).toEqual({
      project: { id: tenant.projectId, key: 'PRJ', name: 'proj project' },
    });
    const missing = await as.viewer(`query($id: ID!) { project(id: $id) { id } }`, {
      id: randomUUID(),
    });
    expect(missing).toMatchObject({ data: { project: null } });
    expect(missing.errors).toBeUndefined();
  });

  it('refuses invalid input with BAD_USER_INPUT naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'X', key: 'ab' }, 'key'],
      [{ name: 'X', key: '1AB' }, 'key'],
      [{ name: 'X', key: 'A' }, 'key'],
      [{ name: 'X', key: 'ABCDEFGHIJK' }, 'key'],
      [{ name: '   ', key: 'OKAY' }, 'name'],
      [{ name: 'x'.repeat(201), key: 'OKAY' }, 'name'],
      [{ name: 'X', key: 'OKAY', description: 'd'.repeat(10_001) }, 'description'],
      [{ name: 'Nul\u0000', key: 'OKAY' }, 'name'],
    ];
    for (const [input, field] of cases) {
      const result = await as.member(CREATE, { input });
      expect(errorCode(result), JSON.stringify(input)).toBe('BAD_USER_INPUT');
      expect(errorField(result)).toBe(field);
      expect(result.data ?? null).toBeNull();
    }
    const [{ count }] = await ownerQuery<{ count: string }>(
      db.ownerUrl,
      `select count(*) from app.projects where tenant_id = $1 and key = 'OKAY'`,
      [tenant.id],
    );
    expect(count).toBe('0');
  });

  it('answers CONFLICT on a duplicate key', async () => {
    const result = await as.member(CREATE, { input: { name: 'Again', key: 'PRJ' } });
    expect(errorCode(result)).toBe('CONFLICT');
    expect(errorField(result)).toBe('key');
  });

  it('updates only the given fields and refuses null for required ones', async () => {
    const created = await as.member<{ createProject: { id: string } }>(CREATE, {
      input: { name: 'Gemini', key: 'GEM' },
    });
    const id = created.data?.createProject.id;
    const UPDATE = `mutation($id: ID!, $input: UpdateProjectInput!) {
      updateProject(id: $id, input: $input) { id key name description status }
    }`;
    // DRAFT → SUBMITTED is a workflow step a member may take (see workflow.test.ts).
    const updated = await as.member(UPDATE, {
      id,
      input: { status: 'SUBMITTED', description: 'T' },
    });
    expect(updated.data?.updateProject).toEqual({
      id,
      key: 'GEM',
      name: 'Gemini',
      description: 'T',
      status: 'SUBMITTED',
    });
    const unchanged = await as.member(UPDATE, { id, input: {} });
    expect(unchanged.data?.updateProject).toMatchObject({ status: 'SUBMITTED' });
    const nullName = await as.member(UPDATE, { id, input: { name: null } });
    expect([errorCode(nullName), errorField(nullName)]).toEqual(['BAD_USER_INPUT', 'name']);
    const badKey = await as.member(UPDATE, { id, input: { key: 'lower' } });
    expect([errorCode(badKey), errorField(badKey)]).toEqual(['BAD_USER_INPUT', 'key']);
    const duplicate = await as.member(UPDATE, { id, input: { key: 'PRJ' } });
    expect(errorCode(duplicate)).toBe('CONFLICT');
    const badStatus = await as.member(UPDATE, { id, input: { status: 'NOPE' } });
    expect(errorCode(badStatus)).toBe('BAD_USER_INPUT');
    const missing = await as.member(UPDATE, { id: randomUUID(), input: { name: 'N' } });
    expect(errorCode(missing)).toBe('NOT_FOUND');
    const missingEmpty = await as.member(UPDATE, { id: randomUUID(), input: {} });
    expect(errorCode(missingEmpty)).toBe('NOT_FOUND');
    const malformed = await as.member(UPDATE, { id: 'not-an-id', input: { name: 'N' } });
    expect([errorCode(malformed), errorField(malformed)]).toEqual(['BAD_USER_INPUT', 'id']);
  });

  it('refuses every write to viewers with FORBIDDEN', async () => {
    const create = await as.viewer(CREATE, { input: { name: 'Nope', key: 'NOPE' } });
    expect(errorCode(create)).toBe('FORBIDDEN');
    const update = await as.viewer(
      `mutation($id: ID!) { updateProject(id: $id, input: { name: "V" }) { id } }`,
      { id: tenant.projectId },
    );
    expect(errorCode(update)).toBe('FORBIDDEN');
    const remove = await as.viewer(`mutation($id: ID!) { deleteProject(id: $id) }`, {
      id: tenant.projectId,
    });
    expect(errorCode(remove)).toBe('FORBIDDEN');
  });

  it('lets only owners and admins delete, and deletes tasks and comments with the project', async () => {
    const other = await seedTenant(db.ownerUrl, 'cascade');
    const callers = await callersOf(api, other);
    const DELETE = `mutation($id: ID!) { deleteProject(id: $id) }`;
    const byMember = await callers.member(DELETE, { id: other.projectId });
    expect(errorCode(byMember)).toBe('FORBIDDEN');
    const byAdmin = await callers.admin(DELETE, { id: other.projectId });
    expect(byAdmin).toMatchObject({ data: { deleteProject: true } });
    const [left] = await ownerQuery(
      db.ownerUrl,
      `select (select count(*) from app.projects where tenant_id = $1) as projects,
              (select count(*) from app.tasks where tenant_id = $1) as tasks,
              (select count(*) from app.comments where tenant_id = $1) as comments`,
      [other.id],
    );
    expect(left).toEqual({ projects: '0', tasks: '0', comments: '0' });
    const again = await callers.owner(DELETE, { id: other.projectId });
    expect(errorCode(again)).toBe('NOT_FOUND');
  });

  it('needs a tenant and a signed-in member', async () => {
    const noTenant = await api.request(`{ projects { totalCount } }`, undefined, {
      token: await api.app.deps.tokens.signAccess(tenant.users.owner, undefined),
    });
    expect(errorCode(noTenant)).toBe('TENANT_REQUIRED');
    const anonymous = await api.request(`{ projects { totalCount } }`, undefined, {
      headers: { 'x-tenant-id': tenant.id },
    });
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
  });

  it('leaves no partial writes when one field of a mutation fails', async () => {
    const result = await as.member(`mutation {
      a: createProject(input: { name: "Kept?", key: "ATOMIC" }) { id }
      b: createProject(input: { name: "Duplicate", key: "PRJ" }) { id }
    }`);
    expect(result.data ?? null).toBeNull();
    expect(errorCode(result)).toBe('CONFLICT');
    const rows = await ownerQuery(db.ownerUrl, `select 1 from app.projects where key = 'ATOMIC'`);
    expect(rows).toEqual([]);
    const read = await as.member(`{ projects(filter: { search: "ATOMIC" }) { totalCount } }`);
    expect(read.data).toEqual({ projects: { totalCount: 0 } });
  });
});

describe('project lists', () => {
  let listTenant: SeededTenant;
  let list: Call;

  beforeAll(async () => {
    listTenant = await seedTenant(db.ownerUrl, 'list');
    list = (await callersOf(api, listTenant)).viewer;
    // 25 more projects with distinct names and keys; created_at repeats in pairs so the id
    // tie-break is exercised.
    await ownerQuery(
      db.ownerUrl,
      `insert into app.projects (tenant_id, key, name, status, created_at)
       select $1, 'K' || lpad(i::text, 2, '0'), 'Name ' || chr(90 - i),
              case when i % 5 = 0 then 'ACTIVE' else 'DRAFT' end,
              timestamptz '2024-01-01' + make_interval(secs => (i / 2) * 0.000001)
         from generate_series(1, 25) i`,
      [listTenant.id],
    );
  });

  async function allPages(
    variables: Record<string, unknown>,
    first: number,
  ): Promise<ProjectsPage['projects'][]> {
    const pages: ProjectsPage['projects'][] = [];
    let after: string | null = null;
    for (;;) {
      const result: GraphQLResult<ProjectsPage> = await list<ProjectsPage>(PROJECTS, {
        ...variables,
        first,
        after,
      });
      expect(result.errors).toBeUndefined();
      const page: ProjectsPage['projects'] = result.data!.projects;
      pages.push(page);
      if (!page.pageInfo.hasNextPage) return pages;
      after = page.pageInfo.endCursor;
    }
  }

  it('pages through every project exactly once with cursors and counts', async () => {
    const pages = await allPages({}, 10);
    expect(pages.map((p) => p.edges.length)).toEqual([10, 10, 6]);
    expect(pages.every((p) => p.totalCount === 26)).toBe(true);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true]);
    const ids = pages.flatMap((p) => p.edges.map((e) => e.node.id));
    expect(new Set(ids).size).toBe(26);
    const [first, second] = pages;
    expect(first.pageInfo.startCursor).toBe(first.edges[0].cursor);
    expect(first.pageInfo.endCursor).toBe(first.edges[9].cursor);
    expect(second.edges[0].node.id).not.toBe(first.edges[9].node.id);
  });

  it('keeps the counts on a page after the last row', async () => {
    const pages = await allPages({}, 100);
    const last = pages[0].pageInfo.endCursor;
    const result = await list<ProjectsPage>(PROJECTS, { first: 5, after: last });
    expect(result.data?.projects).toEqual({
      totalCount: 26,
      pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null },
      edges: [],
    });
  });

  it('defaults first to 20 and refuses values outside 1–100', async () => {
    const page = await list<ProjectsPage>(PROJECTS, {});
    expect(page.data?.projects.edges).toHaveLength(20);
    expect(page.data?.projects.pageInfo.hasNextPage).toBe(true);
    for (const first of [0, -1, 101]) {
      const result = await list(PROJECTS, { first });
      expect([errorCode(result), errorField(result)]).toEqual(['BAD_USER_INPUT', 'first']);
    }
    expect((await list<ProjectsPage>(PROJECTS, { first: 100 })).data?.projects.edges).toHaveLength(
      26,
    );
  });

  it('refuses malformed and foreign cursors with BAD_USER_INPUT on after', async () => {
    const byName = await list<ProjectsPage>(PROJECTS, {
      first: 1,
      orderBy: { field: 'NAME', direction: 'ASC' },
    });
    const nameCursor = byName.data!.projects.pageInfo.endCursor;
    const forged = Buffer.from(JSON.stringify(['CREATED_AT', 'yesterday', randomUUID()])).toString(
      'base64url',
    );
    const cursor = (value: string) =>
      Buffer.from(JSON.stringify(['CREATED_AT', value, randomUUID()])).toString('base64url');
    const impossible = [
      '2024-13-45T00:00:00.000000Z',
      '2023-02-29T10:00:00.000000Z',
      '0000-01-01T00:00:00.000000Z',
    ].map(cursor);
    for (const after of ['garbage', '', 'W10', nameCursor, forged, ...impossible]) {
      const result = await list(PROJECTS, { first: 5, after });
      expect([errorCode(result), errorField(result)], String(after)).toEqual([
        'BAD_USER_INPUT',
        'after',
      ]);
    }
  });

  it('orders by name, key and creation time in both directions', async () => {
    const names = (await allPages({ orderBy: { field: 'NAME', direction: 'ASC' } }, 7)).flatMap(
      (p) => p.edges.map((e) => e.node.name),
    );
    expect(names).toEqual([...names].sort());
    const keysDesc = (await allPages({ orderBy: { field: 'KEY', direction: 'DESC' } }, 4)).flatMap(
      (p) => p.edges.map((e) => e.node.key),
    );
    expect(keysDesc).toEqual([...keysDesc].sort().reverse());
    expect(keysDesc).toHaveLength(26);
    const asc = (await allPages({}, 6)).flatMap((p) => p.edges.map((e) => e.node.id));
    const desc = (
      await allPages({ orderBy: { field: 'CREATED_AT', direction: 'DESC' } }, 6)
    ).flatMap((p) => p.edges.map((e) => e.node.id));
    expect(desc).toEqual([...asc].reverse());
  });

  it('filters by status and by a search that treats wildcards literally', async () => {
    const active = await list<ProjectsPage>(PROJECTS, { filter: { status: 'ACTIVE' } });
    expect(active.data?.projects.totalCount).toBe(5);
    expect(active.data?.projects.edges.every((e) => e.node.status === 'ACTIVE')).toBe(true);
    const search = await list<ProjectsPage>(PROJECTS, { filter: { search: 'k1' } });
    expect(search.data?.projects.edges.map((e) => e.node.key).sort()).toEqual(
      ['K10', 'K11', 'K12', 'K13', 'K14', 'K15', 'K16', 'K17', 'K18', 'K19'].sort(),
    );
    const wildcard = await list<ProjectsPage>(PROJECTS, { filter: { search: '%' } });
    expect(wildcard.data?.projects.totalCount).toBe(0);
    const combined = await list<ProjectsPage>(PROJECTS, {
      filter: { search: 'K1', status: 'ACTIVE' },
      first: 1,
    });
    expect(combined.data?.projects.totalCount).toBe(2);
    const blank = await list<ProjectsPage>(PROJECTS, { filter: { search: '  ' } });
    expect(blank.data?.projects.totalCount).toBe(26);
    const tooLong = await list(PROJECTS, { filter: { search: 'x'.repeat(201) } });
    expect([errorCode(tooLong), errorField(tooLong)]).toEqual(['BAD_USER_INPUT', 'search']);
  });
});
