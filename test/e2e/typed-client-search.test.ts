import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddCommentDocument,
  CreateProjectDocument,
  CreateTaskDocument,
  CreateTenantDocument,
  NodeDocument,
  NodesDocument,
  ProjectTaskStatsDocument,
  SearchDocument,
  SignUpDocument,
  TenantqlClient,
} from '../../src/client/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function tenantOwner(label: string): Promise<TenantqlClient> {
  const client = new TenantqlClient({ url: api.url });
  const { signUp } = await client.request(SignUpDocument, {
    input: {
      email: `${label}-${randomUUID().slice(0, 8)}@example.test`,
      password: 'a long enough password',
      name: label,
    },
  });
  const signedIn = client.with({ token: signUp.token });
  const { createTenant } = await signedIn.request(CreateTenantDocument, {
    input: { name: label, slug: `${label}-${randomUUID().slice(0, 8)}` },
  });
  return signedIn.with({ tenantId: createTenant.id });
}

describe('search, node lookup and aggregates through the typed client', () => {
  it('answers with the typed shapes, and only for the tenant asked', async () => {
    const acme = await tenantOwner('acme');
    const globex = await tenantOwner('globex');
    const ids: string[] = [];
    for (const client of [acme, globex]) {
      const { createProject } = await client.request(CreateProjectDocument, {
        input: { name: 'Website', key: 'WEB', description: 'The relaunch' },
      });
      const { createTask } = await client.request(CreateTaskDocument, {
        input: { projectId: createProject.id, title: 'Website copy', dueDate: '2020-01-01' },
      });
      await client.request(AddCommentDocument, {
        input: { taskId: createTask.id, body: 'The website needs a logo' },
      });
      ids.push(createProject.id, createTask.id);
    }
    const [acmeProject, acmeTask, globexProject] = ids;

    const { search } = await acme.request(SearchDocument, { query: 'website' });
    expect(search.totalCount).toBe(3);
    const [top] = search.edges;
    // The project's name equals the query: first.
    expect(top?.exactMatch).toBe(true);
    expect(top?.node.__typename === 'Project' && top.node.id).toBe(acmeProject);
    const comment = search.edges.find((e) => e.node.__typename === 'Comment');
    expect(comment?.highlight.filter((p) => p.match).map((p) => p.text)).toEqual(['website']);

    const { nodes } = await acme.request(NodesDocument, { ids: [acmeTask, globexProject] });
    expect(nodes.map((n) => n?.id ?? null)).toEqual([acmeTask, null]);
    const { node } = await acme.request(NodeDocument, { id: acmeProject });
    expect(node?.__typename === 'Project' && node.key).toBe('WEB');

    const { projects } = await acme.request(ProjectTaskStatsDocument, { asOf: '2026-01-01' });
    expect(projects.edges.map((e) => e.node.taskStats)).toEqual([
      {
        total: 1,
        overdue: 1,
        byStatus: [
          { status: 'TODO', count: 1 },
          { status: 'IN_PROGRESS', count: 0 },
          { status: 'DONE', count: 0 },
        ],
        byAssignee: [{ count: 1, user: null }],
      },
    ]);
  });
});
