import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FILTER_DEPTH } from '../../src/graphql/filter.js';
import { EXAMPLE_TABS } from '../../src/playground/examples.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, errorField, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

// Filters, orderings and backward pages of every list, against a model of the data: the rows of
// two tenants, read back once, and the operators written again in plain TypeScript. Every query
// runs in both tenants; an answer must equal that tenant's model and hold none of the other's rows.

// ---- the model ------------------------------------------------------------------------------

type Value = string | null;
type Row = Record<string, Value> & { id: string };

/** How a filter field compares, which fixes its operators. */
type Kind =
  | 'id'
  | 'optionalId'
  | 'text'
  | 'optionalText'
  | 'timestamp'
  | 'optionalDate'
  | 'enum'
  | 'rankedEnum';

const OPERATORS: Record<Kind, readonly string[]> = {
  id: ['eq', 'ne', 'in', 'notIn'],
  optionalId: ['eq', 'ne', 'in', 'notIn', 'isNull'],
  text: ['eq', 'ne', 'in', 'notIn', 'contains', 'startsWith'],
  optionalText: ['eq', 'ne', 'in', 'notIn', 'contains', 'startsWith'],
  timestamp: ['lt', 'lte', 'gt', 'gte'],
  optionalDate: ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'isNull'],
  enum: ['eq', 'ne', 'in', 'notIn'],
  rankedEnum: ['eq', 'ne', 'in', 'notIn', 'lt', 'lte', 'gt', 'gte'],
};

const PRIORITIES = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];

/** A field of a filter input: an operator input, or one of the older plain `eq` shorthands. */
interface FilterField {
  name: string;
  kind: Kind;
  /** The model row's column this field compares. */
  column: string;
  shorthand?: boolean;
}

interface ListModel {
  fields: FilterField[];
  /** Candidate operands per column, from both tenants' rows and a few that match nothing. */
  pool: Map<string, string[]>;
}

/** A timestamp as the model keeps them: UTC, microseconds, so strings compare as instants. */
function micros(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

function compare(kind: Kind, actual: string, operand: string): number {
  if (kind === 'rankedEnum') return PRIORITIES.indexOf(actual) - PRIORITIES.indexOf(operand);
  const right = kind === 'timestamp' ? micros(operand) : operand;
  return actual < right ? -1 : actual > right ? 1 : 0;
}

function holds(kind: Kind, op: string, actual: Value, operand: unknown): boolean {
  switch (op) {
    case 'eq':
      return actual !== null && actual === operand;
    case 'ne':
      return actual !== operand;
    case 'in':
      return actual !== null && (operand as string[]).includes(actual);
    case 'notIn':
      return actual === null || !(operand as string[]).includes(actual);
    case 'isNull':
      return (actual === null) === operand;
    case 'contains':
      return actual !== null && actual.toLowerCase().includes((operand as string).toLowerCase());
    case 'startsWith':
      return actual !== null && actual.toLowerCase().startsWith((operand as string).toLowerCase());
    default: {
      if (actual === null) return false;
      const c = compare(kind, actual, operand as string);
      return op === 'lt' ? c < 0 : op === 'lte' ? c <= 0 : op === 'gt' ? c > 0 : c >= 0;
    }
  }
}

type Filter = { [field: string]: unknown };

/** What the filter keeps of `row`, by the model's own reading of it. */
function matches(model: ListModel, filter: Filter, row: Row): boolean {
  return Object.entries(filter).every(([name, value]) => {
    if (name === 'and') return (value as Filter[]).every((f) => matches(model, f, row));
    if (name === 'or') return (value as Filter[]).some((f) => matches(model, f, row));
    if (name === 'not') return !matches(model, value as Filter, row);
    if (name === 'search') {
      const text = (value as string).toLowerCase();
      return [row.name, row.key].some((v) => v !== null && v.toLowerCase().includes(text));
    }
    const field = model.fields.find((f) => f.name === name);
    if (!field) throw new Error(`The model has no field ${name}.`);
    const actual = row[field.column] ?? null;
    if (field.shorthand) return actual === value;
    return Object.entries(value as Filter).every(([op, operand]) =>
      holds(field.kind, op, actual, operand),
    );
  });
}

/** One condition on one field: every operator of its kind, operands from the pool. */
function leaf(model: ListModel, field: FilterField): fc.Arbitrary<Filter> {
  const pool = model.pool.get(field.column) ?? [];
  const one = fc.constantFrom(...pool);
  if (field.shorthand) return one.map((v) => ({ [field.name]: v }));
  const operand = (op: string): fc.Arbitrary<unknown> =>
    op === 'isNull'
      ? fc.boolean()
      : op === 'in' || op === 'notIn'
        ? fc.uniqueArray(one, { maxLength: 4 })
        : one;
  return fc
    .constantFrom(...OPERATORS[field.kind])
    .chain((op) => operand(op).map((v) => ({ [field.name]: { [op]: v } })));
}

function filterTree(model: ListModel): fc.Arbitrary<Filter> {
  const leaves = fc.oneof(...model.fields.map((f) => leaf(model, f)));
  const { tree } = fc.letrec<{ tree: Filter }>((tie) => ({
    tree: fc.oneof(
      // Within MAX_FILTER_DEPTH: the filter object itself is one level, each combinator one more.
      { maxDepth: MAX_FILTER_DEPTH - 2, depthIdentifier: 'tree', withCrossShrink: true },
      leaves,
      fc.array(tie('tree'), { maxLength: 3 }).map((and) => ({ and })),
      fc.array(tie('tree'), { maxLength: 3 }).map((or) => ({ or })),
      tie('tree').map((not) => ({ not })),
      fc.tuple(leaves, leaves).map(([x, y]) => ({ ...x, ...y })),
    ),
  }));
  return tree;
}

// ---- the data -------------------------------------------------------------------------------

const TITLES = [
  'Fix login',
  'fix LOGIN page',
  '100% done',
  'under_score',
  'back\\slash',
  'Login',
  'a',
];
const DESCRIPTIONS = ['', 'Details', 'details and more', '50%_off', 'MiXeD case'];
const NAMES = ['Apollo', 'apollo two', 'Hermes', '10% project', 'snake_case', 'Zeus'];
const PROJECT_STATUSES = ['DRAFT', 'ACTIVE', 'ARCHIVED', 'COMPLETED'];
const STATUSES = ['TODO', 'IN_PROGRESS', 'DONE'];
const DATES = [null, '2027-01-01', '2027-01-02', '2027-03-15', null, '2026-12-31'];
const BODIES = ['First!', 'first again', 'LGTM', 'needs_work', '75% there'];
const BASE = Date.parse('2026-01-01T00:00:00.000Z');

interface Tenant {
  seed: SeededTenant;
  call: Call;
  projects: Row[];
  tasks: Row[];
  comments: Row[];
  activity: Row[];
  members: Row[];
  /** The project holding most tasks (tasks(projectId:) is asked about it). */
  bigProject: string;
}

/** A small deterministic generator, so the data is the same on every run. */
function numbers(seed: number) {
  let state = seed;
  return (below: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % below;
  };
}

function pick<T>(next: (n: number) => number, from: readonly T[]): T {
  return from[next(from.length)];
}

async function seedLists(client: pg.Client, seed: SeededTenant, salt: number): Promise<void> {
  const next = numbers(salt);
  const users = Object.values(seed.users);
  const at = (ms: number) => new Date(BASE + ms).toISOString();
  // More members, joined at different times, in every role.
  for (let i = 0; i < 4; i++) {
    const userId = randomUUID();
    await client.query(
      `insert into app.users (id, email, name, password_hash) values ($1, $2, $3, 'x')`,
      [userId, `extra-${i}-${seed.slug}@example.test`, `Extra ${i}`],
    );
    await client.query(
      `insert into app.memberships (tenant_id, user_id, role, created_at) values ($1, $2, $3, $4)`,
      [seed.id, userId, pick(next, ['admin', 'member', 'viewer']), at(i * 1000)],
    );
  }
  const projects: string[] = [];
  for (let p = 0; p < 6; p++) {
    const id = randomUUID();
    projects.push(id);
    await client.query(
      `insert into app.projects (tenant_id, id, key, name, description, status, created_by,
                                 created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        seed.id,
        id,
        `K${p}${salt % 10}`,
        pick(next, NAMES),
        pick(next, DESCRIPTIONS),
        pick(next, PROJECT_STATUSES),
        pick(next, [...users, null]),
        // Every other project ties with the one before it: the id decides.
        at((p - (p % 2)) * 60_000),
        at(next(5) * 60_000),
      ],
    );
  }
  for (let t = 0; t < 48; t++) {
    const id = randomUUID();
    const projectId = t < 30 ? projects[0] : pick(next, projects.slice(1, 4));
    await client.query(
      `insert into app.tasks (tenant_id, id, project_id, title, description, status, priority,
                              assignee_id, due_date, created_by, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        seed.id,
        id,
        projectId,
        pick(next, TITLES),
        pick(next, DESCRIPTIONS),
        pick(next, STATUSES),
        pick(next, PRIORITIES),
        pick(next, [...users, null, null]),
        pick(next, DATES),
        seed.users.owner,
        at(next(12) * 1000),
        at(next(4) * 1000),
      ],
    );
    for (let c = 0; c < (t < 8 ? next(6) : 0); c++) {
      await client.query(
        `insert into app.comments (tenant_id, id, task_id, author_id, body, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7)`,
        [
          seed.id,
          randomUUID(),
          id,
          pick(next, [...users, null]),
          pick(next, BODIES),
          at(next(3) * 1000),
          at(next(3) * 1000),
        ],
      );
    }
  }
  // Changes made by people (the seed's own are the migrator's, with no actor).
  for (let a = 0; a < 6; a++) {
    await client.query(
      `insert into app.activity (tenant_id, entity_type, entity_id, action, label, actor_id)
       values ($1, $2, $3, $4, $5, $6)`,
      [
        seed.id,
        pick(next, ['PROJECT', 'TASK']),
        pick(next, projects),
        pick(next, ['CHANGED', 'DELETED']),
        pick(next, [null, 'Fix login', 'apollo']),
        pick(next, users),
      ],
    );
  }
}

const MICROS = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

async function readTenant(client: pg.Client, seed: SeededTenant, call: Call): Promise<Tenant> {
  const rows = async (text: string) => (await client.query<Row>(text, [seed.id])).rows;
  const projects = await rows(
    `select id, key, name, description, status, created_by as "createdBy",
            ${MICROS('created_at')} as "createdAt", ${MICROS('updated_at')} as "updatedAt"
       from app.projects where tenant_id = $1`,
  );
  const tasks = await rows(
    `select id, project_id as "projectId", title, description, status, priority,
            assignee_id as assignee, due_date::text as "dueDate",
            ${MICROS('created_at')} as "createdAt", ${MICROS('updated_at')} as "updatedAt"
       from app.tasks where tenant_id = $1`,
  );
  const comments = await rows(
    `select id, task_id as "taskId", author_id as author, body,
            ${MICROS('created_at')} as "createdAt", ${MICROS('updated_at')} as "updatedAt"
       from app.comments where tenant_id = $1`,
  );
  const activity = await rows(
    `select id, entity_type as "entityType", entity_id as entity, action, label,
            actor_id as actor, api_key_id as "apiKey", ${MICROS('created_at')} as "createdAt"
       from app.activity where tenant_id = $1`,
  );
  const members = await rows(
    `select user_id as id, user_id as "user", upper(role) as role,
            ${MICROS('created_at')} as "joinedAt"
       from app.memberships where tenant_id = $1`,
  );
  const counts = new Map<string, number>();
  for (const task of tasks) counts.set(task.projectId!, (counts.get(task.projectId!) ?? 0) + 1);
  const bigProject = [...counts].sort((x, y) => y[1] - x[1])[0][0];
  return { seed, call, projects, tasks, comments, activity, members, bigProject };
}

/** Operands: every value either tenant holds, bits of the text ones, and some matching nothing. */
function poolOf(fields: FilterField[], rows: Row[]): Map<string, string[]> {
  const pool = new Map<string, string[]>();
  for (const field of fields) {
    const values = new Set<string>();
    for (const row of rows) {
      const value = row[field.column];
      if (value === null || value === undefined) continue;
      if (field.kind === 'timestamp') {
        // DateTimeISO carries milliseconds: the instant itself, and the next millisecond.
        const ms = Date.parse(value);
        values.add(new Date(ms).toISOString());
        values.add(new Date(ms + 1).toISOString());
      } else values.add(value);
      if (field.kind === 'text' || field.kind === 'optionalText') {
        values.add(value.slice(1, 4).toUpperCase());
        values.add(value.slice(0, 3).toLowerCase());
      }
    }
    if (field.kind === 'id' || field.kind === 'optionalId') values.add(randomUUID());
    if (field.kind === 'text' || field.kind === 'optionalText') {
      for (const wildcard of ['%', '_', '\\', '0%', 'x_s', 'nothing like it']) values.add(wildcard);
    }
    if (field.kind === 'optionalDate') values.add('2030-01-01');
    if (field.kind === 'rankedEnum') PRIORITIES.forEach((p) => values.add(p));
    pool.set(field.column, [...values].sort());
  }
  return pool;
}

const TASK_FIELDS: FilterField[] = [
  { name: 'id', kind: 'id', column: 'id' },
  { name: 'statusIs', kind: 'enum', column: 'status' },
  { name: 'status', kind: 'enum', column: 'status', shorthand: true },
  { name: 'priority', kind: 'rankedEnum', column: 'priority' },
  { name: 'title', kind: 'text', column: 'title' },
  { name: 'description', kind: 'text', column: 'description' },
  { name: 'assignee', kind: 'optionalId', column: 'assignee' },
  { name: 'assigneeId', kind: 'optionalId', column: 'assignee', shorthand: true },
  { name: 'dueDate', kind: 'optionalDate', column: 'dueDate' },
  { name: 'createdAt', kind: 'timestamp', column: 'createdAt' },
  { name: 'updatedAt', kind: 'timestamp', column: 'updatedAt' },
];
const PROJECT_FIELDS: FilterField[] = [
  { name: 'id', kind: 'id', column: 'id' },
  { name: 'statusIs', kind: 'enum', column: 'status' },
  { name: 'status', kind: 'enum', column: 'status', shorthand: true },
  { name: 'key', kind: 'text', column: 'key' },
  { name: 'name', kind: 'text', column: 'name' },
  { name: 'description', kind: 'text', column: 'description' },
  { name: 'createdBy', kind: 'optionalId', column: 'createdBy' },
  { name: 'createdAt', kind: 'timestamp', column: 'createdAt' },
  { name: 'updatedAt', kind: 'timestamp', column: 'updatedAt' },
];
const COMMENT_FIELDS: FilterField[] = [
  { name: 'id', kind: 'id', column: 'id' },
  { name: 'author', kind: 'optionalId', column: 'author' },
  { name: 'body', kind: 'text', column: 'body' },
  { name: 'createdAt', kind: 'timestamp', column: 'createdAt' },
  { name: 'updatedAt', kind: 'timestamp', column: 'updatedAt' },
];
const ACTIVITY_FIELDS: FilterField[] = [
  { name: 'id', kind: 'id', column: 'id' },
  { name: 'entityTypeIs', kind: 'enum', column: 'entityType' },
  { name: 'entityType', kind: 'enum', column: 'entityType', shorthand: true },
  { name: 'entity', kind: 'id', column: 'entity' },
  { name: 'entityId', kind: 'id', column: 'entity', shorthand: true },
  { name: 'actionIs', kind: 'enum', column: 'action' },
  { name: 'action', kind: 'enum', column: 'action', shorthand: true },
  { name: 'actor', kind: 'optionalId', column: 'actor' },
  { name: 'actorId', kind: 'optionalId', column: 'actor', shorthand: true },
  { name: 'apiKey', kind: 'optionalId', column: 'apiKey' },
  { name: 'label', kind: 'optionalText', column: 'label' },
  { name: 'createdAt', kind: 'timestamp', column: 'createdAt' },
];
const MEMBER_FIELDS: FilterField[] = [
  { name: 'user', kind: 'id', column: 'user' },
  { name: 'role', kind: 'enum', column: 'role' },
  { name: 'joinedAt', kind: 'timestamp', column: 'joinedAt' },
];

// ---- the lists, asked through the API ---------------------------------------------------------

interface Connection {
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  edges: { cursor: string; node: { id: string } }[];
}

/** Every row of a list through the API, a full page at a time (some lists exceed one). */
async function everyId(
  call: Call,
  query: string,
  pick: (data: Record<string, unknown>) => Connection,
  variables: Record<string, unknown>,
): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let turn = 0; turn < 20; turn++) {
    const result = await call(query, { ...variables, after });
    expect(result.errors ?? []).toEqual([]);
    const page = pick(result.data!);
    ids.push(...page.edges.map((e) => e.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
  throw new Error('More pages than any list here has.');
}

const PAGE = `pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } }`;

/** A list as the API filters it, and as the model does, for one tenant. */
interface List {
  name: string;
  model: ListModel;
  ask(tenant: Tenant, filter: Filter): Promise<string[]>;
  rows(tenant: Tenant): Row[];
}

let db: TestDatabase;
let api: TestApp;
const tenants: Tenant[] = [];
let lists: List[];
/** Titles in the database's collation order (the model sorts text by it). */
const titleRank = new Map<string, number>();

beforeAll(async () => {
  db = await createTestDatabase();
  const seeds = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = await startTestApp(db);
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  try {
    for (const [i, seed] of seeds.entries()) {
      // Thousands of requests a minute: more than any plan allows.
      await client.query('update app.tenants set requests_per_minute = 1000000 where id = $1', [
        seed.id,
      ]);
      await seedLists(client, seed, 7 + i * 13);
      tenants.push(await readTenant(client, seed, await callerFor(api, seed.id, seed.users.owner)));
    }
    const titles = [...new Set(tenants.flatMap((t) => t.tasks.map((task) => task.title!)))];
    const { rows } = await client.query<{ t: string }>(
      'select t from unnest($1::text[]) t order by t',
      [titles],
    );
    rows.forEach(({ t }, i) => titleRank.set(t, i));
  } finally {
    await client.end();
  }
  const all = <K extends keyof Tenant>(key: K) => tenants.flatMap((t) => t[key] as Row[]);
  const model = (fields: FilterField[], rows: Row[]): ListModel => ({
    fields,
    pool: poolOf(fields, rows),
  });
  lists = [
    {
      name: 'projects',
      model: model(PROJECT_FIELDS, all('projects')),
      rows: (t) => t.projects,
      ask: (t, filter) =>
        everyId(
          t.call,
          `query($f: ProjectFilter, $after: String) {
             projects(filter: $f, first: 100, after: $after) { ${PAGE} } }`,
          (d) => d.projects as Connection,
          { f: filter },
        ),
    },
    {
      name: 'tasks',
      model: model(TASK_FIELDS, all('tasks')),
      rows: (t) => t.tasks.filter((task) => task.projectId === t.bigProject),
      ask: (t, filter) =>
        everyId(
          t.call,
          `query($p: ID!, $f: TaskFilter, $after: String) {
             tasks(projectId: $p, filter: $f, first: 100, after: $after) { ${PAGE} } }`,
          (d) => d.tasks as Connection,
          { p: t.bigProject, f: filter },
        ),
    },
    {
      name: 'Project.tasks',
      model: model(TASK_FIELDS, all('tasks')),
      rows: (t) => t.tasks,
      ask: async (t, filter) => {
        const result = await t.call<{
          projects: { edges: { node: { tasks: Connection } }[] };
        }>(
          `query($f: TaskFilter) { projects(first: 10) { edges { node {
             tasks(filter: $f, first: 40) { edges { node { id } } } } } } }`,
          { f: filter },
        );
        expect(result.errors ?? []).toEqual([]);
        return result.data!.projects.edges.flatMap((e) => e.node.tasks.edges.map((x) => x.node.id));
      },
    },
    {
      name: 'Task.comments',
      model: model(COMMENT_FIELDS, all('comments')),
      rows: (t) => t.comments,
      ask: async (t, filter) => {
        const ids: string[] = [];
        // Only these projects' tasks have comments (seedTenant's and seedLists').
        for (const projectId of [t.bigProject, t.seed.projectId]) {
          const result = await t.call<{ tasks: { edges: { node: { comments: Connection } }[] } }>(
            `query($p: ID!, $f: CommentFilter) { tasks(projectId: $p, first: 100) { edges { node {
               comments(filter: $f, first: 20) { edges { node { id } } } } } } }`,
            { p: projectId, f: filter },
          );
          expect(result.errors ?? []).toEqual([]);
          ids.push(
            ...result.data!.tasks.edges.flatMap((e) => e.node.comments.edges.map((x) => x.node.id)),
          );
        }
        return ids;
      },
    },
    {
      name: 'activity',
      model: model(ACTIVITY_FIELDS, all('activity')),
      rows: (t) => t.activity,
      ask: (t, filter) =>
        everyId(
          t.call,
          `query($f: ActivityFilter, $after: String) {
             activity(filter: $f, first: 100, after: $after) { ${PAGE} } }`,
          (d) => d.activity as Connection,
          { f: filter },
        ),
    },
    {
      name: 'members',
      model: model(MEMBER_FIELDS, all('members')),
      rows: (t) => t.members,
      ask: async (t, filter) => {
        const result = await t.call<{ members: { user: { id: string } }[] }>(
          `query($f: MemberFilter) { members(filter: $f) { user { id } } }`,
          { f: filter },
        );
        expect(result.errors ?? []).toEqual([]);
        return result.data!.members.map((m) => m.user.id);
      },
    },
  ];
}, 180_000);

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

/** The list's answer in every tenant equals the model's, and holds no other tenant's row. */
async function sameAsModel(list: List, filter: Filter): Promise<void> {
  await Promise.all(
    tenants.map(async (tenant) => {
      const got = await list.ask(tenant, filter);
      const want = list
        .rows(tenant)
        .filter((row) => matches(list.model, filter, row))
        .map((row) => row.id);
      const own = new Set(list.rows(tenant).map((row) => row.id));
      expect(
        got.filter((id) => !own.has(id)),
        `${list.name}: another tenant's rows`,
      ).toEqual([]);
      expect(
        [...got].sort(),
        `${list.name} in ${tenant.seed.slug}: ${JSON.stringify(filter)}`,
      ).toEqual(want.sort());
    }),
  );
}

// Hundreds of requests each, on a machine shared with the rest of the suite.
describe('filters', { timeout: 180_000 }, () => {
  it('every operator on every field of every list equals the model, in both tenants', async () => {
    for (const list of lists) {
      for (const field of list.model.fields) {
        const pool = list.model.pool.get(field.column) ?? [];
        const operands = [pool[0], pool[Math.floor(pool.length / 2)], pool.at(-1)];
        for (const op of field.shorthand ? ['eq'] : OPERATORS[field.kind]) {
          for (const operand of op === 'isNull' ? [true, false] : operands) {
            const value =
              op === 'in' || op === 'notIn' ? [operand, pool[1]].filter(Boolean) : operand;
            await sameAsModel(list, { [field.name]: field.shorthand ? value : { [op]: value } });
          }
        }
      }
    }
  });

  it('LIKE wildcards match only themselves; case is ignored', async () => {
    const [tasks] = lists.filter((l) => l.name === 'tasks');
    for (const filter of [
      { title: { contains: '%' } },
      { title: { contains: '_' } },
      { title: { startsWith: '\\' } },
      { title: { contains: 'LOGIN' } },
      { description: { contains: '%_' } },
    ]) {
      await sameAsModel(tasks, filter);
    }
    const [projects] = lists.filter((l) => l.name === 'projects');
    await sameAsModel(projects, { search: '%' });
    await sameAsModel(projects, { search: 'APOLLO', or: [{ key: { startsWith: 'k1' } }] });
  });

  it('random and/or/not trees over every list equal the model', async () => {
    for (const list of lists) {
      await fc.assert(
        fc.asyncProperty(filterTree(list.model), (filter) => sameAsModel(list, filter)),
        { numRuns: list.name === 'Task.comments' ? 15 : 40, seed: 19 },
      );
    }
  });

  it(`refuses and/or/not nested deeper than ${MAX_FILTER_DEPTH} levels`, async () => {
    const nest = (levels: number): Filter =>
      levels <= 1 ? { title: { contains: 'a' } } : { not: nest(levels - 1) };
    const [tenant] = tenants;
    const query = `query($p: ID!, $f: TaskFilter) { tasks(projectId: $p, filter: $f) { totalCount } }`;
    const ok = await tenant.call(query, { p: tenant.bigProject, f: nest(MAX_FILTER_DEPTH) });
    expect(ok.errors).toBeUndefined();
    for (const f of [nest(MAX_FILTER_DEPTH + 1), { or: [{ and: [nest(MAX_FILTER_DEPTH - 1)] }] }]) {
      const refused = await tenant.call(query, { p: tenant.bigProject, f });
      expect(errorCode(refused)).toBe('BAD_USER_INPUT');
      expect(errorField(refused)).toBe('filter');
      expect(refused.errors?.[0]?.message).toMatch(/levels deep/);
    }
  });

  it('refuses ids that are not ids and over-long lists, naming the operand', async () => {
    const [tenant] = tenants;
    const query = `query($p: ID!, $f: TaskFilter) { tasks(projectId: $p, filter: $f) { totalCount } }`;
    const bad = await tenant.call(query, { p: tenant.bigProject, f: { assignee: { eq: 'x' } } });
    expect(errorCode(bad)).toBe('BAD_USER_INPUT');
    expect(errorField(bad)).toBe('filter.assignee.eq');
    const long = await tenant.call(query, {
      p: tenant.bigProject,
      f: { id: { in: Array.from({ length: 101 }, () => randomUUID()) } },
    });
    expect(errorField(long)).toBe('filter.id.in');
  });
});

// ---- orderings and pages -------------------------------------------------------------------

type Key = { field: string; direction: 'ASC' | 'DESC' };

const TASK_KEYS: Record<string, (row: Row) => number | string> = {
  CREATED_AT: (r) => r.createdAt!,
  UPDATED_AT: (r) => r.updatedAt!,
  TITLE: (r) => titleRank.get(r.title!) ?? -1,
  // Nulls sort as if after every date: last going up, first going down.
  DUE_DATE: (r) => r.dueDate ?? '9999-12-31',
  PRIORITY: (r) => PRIORITIES.indexOf(r.priority!),
};

const COMMENT_KEYS: Record<string, (row: Row) => number | string> = {
  CREATED_AT: (r) => r.createdAt!,
  UPDATED_AT: (r) => r.updatedAt!,
};

/** The model's order: the keys in turn, then the id in the last key's direction. */
function sorted(rows: Row[], keys: Key[], by: Record<string, (row: Row) => number | string>) {
  const last = keys.at(-1)?.direction ?? 'ASC';
  const cmp = (x: number | string, y: number | string) => (x < y ? -1 : x > y ? 1 : 0);
  return [...rows].sort((a, b) => {
    for (const key of keys) {
      const value = by[key.field];
      const c = cmp(value(a), value(b));
      if (c !== 0) return key.direction === 'ASC' ? c : -c;
    }
    return last === 'ASC' ? cmp(a.id, b.id) : -cmp(a.id, b.id);
  });
}

const keysOf = (fields: string[]) =>
  fc
    .uniqueArray(fc.constantFrom(...fields), { minLength: 1, maxLength: fields.length })
    .chain((names) =>
      fc.tuple(
        ...names.map((field) =>
          fc.constantFrom<Key>({ field, direction: 'ASC' }, { field, direction: 'DESC' }),
        ),
      ),
    );

/**
 * Pages through a whole list with `first`/`after` or `last`/`before`, checking each page's
 * pageInfo as Relay defines it; returns the ids in list order.
 */
async function walk(
  fetchPage: (args: Record<string, unknown>) => Promise<Connection>,
  size: number,
  backward: boolean,
  total: number,
): Promise<string[]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  for (let turn = 0; turn <= total + 1; turn++) {
    const page = await fetchPage(
      backward ? { last: size, before: cursor } : { first: size, after: cursor },
    );
    const ids = page.edges.map((e) => e.node.id);
    const seen = pages.flat().length + ids.length;
    expect(ids.length).toBe(Math.min(size, total - pages.flat().length));
    // The page's own side: whether more rows lie that way. The far side: whether the cursor
    // had rows beyond it, which after the first page it always has.
    const more = backward ? page.pageInfo.hasPreviousPage : page.pageInfo.hasNextPage;
    const beyond = backward ? page.pageInfo.hasNextPage : page.pageInfo.hasPreviousPage;
    expect(more).toBe(seen < total);
    expect(beyond).toBe(cursor !== null);
    expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    if (backward) pages.unshift(ids);
    else pages.push(ids);
    if (!more) return pages.flat();
    cursor = backward ? page.pageInfo.startCursor : page.pageInfo.endCursor;
  }
  throw new Error('The pages never ended.');
}

describe('orderings and pages', { timeout: 180_000 }, () => {
  it('any keys, any page size, either way: every row once, in order, in both tenants', async () => {
    await fc.assert(
      fc.asyncProperty(
        keysOf(Object.keys(TASK_KEYS)),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        fc.constantFrom<Filter | null>(
          null,
          { statusIs: { ne: 'DONE' } },
          { assignee: { isNull: true } },
        ),
        async (keys, size, backward, filter) => {
          for (const tenant of tenants) {
            const rows = tenant.tasks
              .filter((t) => t.projectId === tenant.bigProject)
              .filter((t) => !filter || matches(lists[1].model, filter, t));
            const want = sorted(rows, keys, TASK_KEYS).map((r) => r.id);
            const got = await walk(
              async (args) => {
                const result = await tenant.call<{ tasks: Connection }>(
                  `query($p: ID!, $s: [TaskOrder!], $f: TaskFilter, $first: Int, $after: String,
                         $last: Int, $before: String) {
                     tasks(projectId: $p, sort: $s, filter: $f, first: $first, after: $after,
                           last: $last, before: $before) { ${PAGE} } }`,
                  { p: tenant.bigProject, s: keys, f: filter, ...args },
                );
                expect(result.errors ?? []).toEqual([]);
                return result.data!.tasks;
              },
              size,
              backward,
              want.length,
            );
            expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: 25, seed: 23 },
    );
  });

  it('nested lists take sort, filter and last for every parent at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        keysOf(Object.keys(TASK_KEYS)),
        keysOf(Object.keys(COMMENT_KEYS)),
        fc.integer({ min: 1, max: 6 }),
        async (taskKeys, commentKeys, last) => {
          for (const tenant of tenants) {
            const result = await tenant.call<{
              projects: {
                edges: {
                  node: {
                    id: string;
                    tasks: Connection & {
                      edges: { node: { id: string; comments: Connection } }[];
                    };
                  };
                }[];
              };
            }>(
              `query($ts: [TaskOrder!], $cs: [CommentOrder!], $n: Int) {
                 projects(first: 100) { edges { node { id
                   tasks(sort: $ts, last: $n, filter: { priority: { gte: MEDIUM } }) {
                     pageInfo { hasPreviousPage hasNextPage }
                     edges { node { id comments(sort: $cs, last: $n) {
                       pageInfo { hasPreviousPage hasNextPage } edges { node { id } } } } } } } } } }`,
              { ts: taskKeys, cs: commentKeys, n: last },
            );
            expect(result.errors ?? []).toEqual([]);
            for (const { node: project } of result.data!.projects.edges) {
              const tasks = sorted(
                tenant.tasks.filter(
                  (t) => t.projectId === project.id && PRIORITIES.indexOf(t.priority!) >= 1,
                ),
                taskKeys,
                TASK_KEYS,
              );
              expect(project.tasks.edges.map((e) => e.node.id)).toEqual(
                tasks.slice(-last).map((t) => t.id),
              );
              expect(project.tasks.pageInfo).toEqual({
                hasPreviousPage: tasks.length > last,
                hasNextPage: false,
              });
              for (const { node: task } of project.tasks.edges) {
                const comments = sorted(
                  tenant.comments.filter((c) => c.taskId === task.id),
                  commentKeys,
                  COMMENT_KEYS,
                );
                expect(task.comments.edges.map((e) => e.node.id)).toEqual(
                  comments.slice(-last).map((c) => c.id),
                );
              }
            }
          }
        },
      ),
      { numRuns: 12, seed: 29 },
    );
  });

  it('lists without sort page backward in their own order (activity newest first)', async () => {
    const newest: Key[] = [{ field: 'CREATED_AT', direction: 'DESC' }];
    for (const tenant of tenants) {
      for (const [size, backward] of [
        [13, true],
        [40, false],
        [100, true],
      ] as const) {
        const got = await walk(
          async (args) => {
            const result = await tenant.call<{ activity: Connection }>(
              `query($first: Int, $after: String, $last: Int, $before: String) {
                 activity(first: $first, after: $after, last: $last, before: $before) { ${PAGE} } }`,
              args,
            );
            expect(result.errors ?? []).toEqual([]);
            return result.data!.activity;
          },
          size,
          backward,
          tenant.activity.length,
        );
        expect(got).toEqual(sorted(tenant.activity, newest, COMMENT_KEYS).map((r) => r.id));
      }
    }
  });

  it('first and last between two cursors stay inside them', async () => {
    const [tenant] = tenants;
    const keys: Key[] = [
      { field: 'PRIORITY', direction: 'DESC' },
      { field: 'DUE_DATE', direction: 'ASC' },
    ];
    const rows = tenant.tasks.filter((t) => t.projectId === tenant.bigProject);
    const want = sorted(rows, keys, TASK_KEYS).map((r) => r.id);
    const query = `query($p: ID!, $s: [TaskOrder!], $first: Int, $after: String, $last: Int,
                         $before: String) {
      tasks(projectId: $p, sort: $s, first: $first, after: $after, last: $last, before: $before) {
        ${PAGE} } }`;
    const all = await tenant.call<{ tasks: Connection }>(query, {
      p: tenant.bigProject,
      s: keys,
      first: 100,
    });
    const cursors = all.data!.tasks.edges.map((e) => e.cursor);
    const [after, before] = [cursors[3], cursors[20]];
    const between = await tenant.call<{ tasks: Connection }>(query, {
      p: tenant.bigProject,
      s: keys,
      first: 5,
      after,
      before,
    });
    expect(between.data!.tasks.edges.map((e) => e.node.id)).toEqual(want.slice(4, 9));
    expect(between.data!.tasks.pageInfo).toMatchObject({
      hasNextPage: true,
      hasPreviousPage: true,
    });
    const backward = await tenant.call<{ tasks: Connection }>(query, {
      p: tenant.bigProject,
      s: keys,
      last: 30,
      after,
      before,
    });
    expect(backward.data!.tasks.edges.map((e) => e.node.id)).toEqual(want.slice(4, 20));
    expect(backward.data!.tasks.pageInfo).toMatchObject({
      hasNextPage: true,
      hasPreviousPage: false,
    });
  });

  it('refuses a cursor of another ordering, and sort together with orderBy', async () => {
    const [tenant] = tenants;
    const query = `query($p: ID!, $s: [TaskOrder!], $o: TaskOrder, $after: String, $before: String) {
      tasks(projectId: $p, sort: $s, orderBy: $o, first: 2, after: $after, before: $before) {
        pageInfo { endCursor } } }`;
    const p = tenant.bigProject;
    const down = [{ field: 'PRIORITY', direction: 'DESC' }];
    const first = await tenant.call<{ tasks: Connection }>(query, { p, s: down });
    const cursor = first.data!.tasks.pageInfo.endCursor;
    for (const [variables, field] of [
      [{ s: [{ field: 'PRIORITY', direction: 'ASC' }], after: cursor }, 'after'],
      [{ s: [...down, { field: 'TITLE', direction: 'ASC' }], before: cursor }, 'before'],
      [{ after: cursor }, 'after'],
      [{ s: down, o: { field: 'TITLE' } }, 'sort'],
      [{ s: [{ field: 'TITLE' }, { field: 'TITLE', direction: 'DESC' }] }, 'sort'],
    ] as const) {
      const refused = await tenant.call(query, { p, ...variables });
      expect(errorCode(refused)).toBe('BAD_USER_INPUT');
      expect(errorField(refused)).toBe(field);
    }
    // The single-key orderBy and a one-key sort are one ordering: their cursors are the same.
    const byOrderBy = await tenant.call<{ tasks: Connection }>(query, {
      p,
      o: { field: 'PRIORITY', direction: 'DESC' },
      after: cursor,
    });
    expect(byOrderBy.errors).toBeUndefined();
  });
});

it("the playground's filtered, sorted example answers as the model does", async () => {
  const example = EXAMPLE_TABS.find((tab) => tab.query.includes('query Triage'));
  for (const tenant of tenants) {
    const result = await tenant.call<{
      projects: {
        edges: {
          node: { key: string; tasks: { totalCount: number; edges: { node: Row }[] } };
        }[];
      };
    }>(example!.query);
    expect(result.errors ?? []).toEqual([]);
    for (const { node: project } of result.data!.projects.edges) {
      const { id } = tenant.projects.find((p) => p.key === project.key)!;
      const want = sorted(
        tenant.tasks.filter(
          (t) =>
            t.projectId === id &&
            t.status !== 'DONE' &&
            (t.assignee === null || (t.dueDate !== null && t.dueDate < '2027-01-01')),
        ),
        [
          { field: 'PRIORITY', direction: 'DESC' },
          { field: 'DUE_DATE', direction: 'ASC' },
        ],
        TASK_KEYS,
      );
      expect(project.tasks.totalCount).toBe(want.length);
      expect(project.tasks.edges.map((e) => e.node.title)).toEqual(
        want.slice(0, 5).map((t) => t.title),
      );
    }
  }
});
