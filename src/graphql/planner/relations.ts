/**
 * What the planner may answer straight from SQL: each GraphQL object type it knows, the table
 * behind it, the column behind each scalar field and the lists below it. A field not listed here
 * makes the whole operation go through graphql-js as before, so adding a relation is one entry
 * and forgetting one costs speed, never correctness.
 *
 * Every statement the planner writes names the tenant on every table (`tenant_id = …`), like the
 * repositories do, and runs in the operation's transaction under RLS.
 */

/** How a column becomes the JSON value graphql-js would have produced for the field. */
export type ColumnFormat =
  /** Text: a JSON string, escaped where the text needs it. */
  | 'plain'
  /**
   * Uuids, and text that a check constraint holds to capitals and underscores (statuses,
   * priorities: the GraphQL enum values): a JSON string with nothing to escape. Escaping such
   * values anyway was a tenth of a 200-task page's statement time.
   */
  | 'unescaped'
  /** DateTimeISO: `Date#toISOString()`, milliseconds, UTC. */
  | 'timestamp'
  /** LocalDate: `YYYY-MM-DD`. */
  | 'date'
  /** A Boolean saying whether the column holds a value (`emailVerified`). */
  | 'present';

export interface ScalarColumn {
  column: string;
  format: ColumnFormat;
}

/** A connection field listing child rows that point at this row (`tasks.project_id`). */
export interface ListRelation {
  entity: string;
  /** The child's column holding the parent row's id. */
  column: string;
}

/** A field answering the one row this row's `column` points at, or null. */
export interface RowRelation {
  entity: string;
  column: string;
}

export interface Entity {
  /** Quoted, with its schema. */
  table: string;
  /** Whether rows belong to a tenant (`tenant_id`): every statement then names it. */
  tenantScoped: boolean;
  /** The column a list of these rows is ordered by (then `id`), as their connections' CREATED_AT. */
  order?: string;
  scalars: Readonly<Record<string, ScalarColumn>>;
  lists: Readonly<Record<string, ListRelation>>;
  rows: Readonly<Record<string, RowRelation>>;
}

const plain = (column: string): ScalarColumn => ({ column, format: 'plain' });
const unescaped = (column: string): ScalarColumn => ({ column, format: 'unescaped' });
const timestamp = (column: string): ScalarColumn => ({ column, format: 'timestamp' });

export const ENTITIES: Readonly<Record<string, Entity>> = {
  Project: {
    table: '"app"."projects"',
    tenantScoped: true,
    order: 'created_at',
    scalars: {
      id: unescaped('id'),
      key: plain('key'),
      name: plain('name'),
      description: plain('description'),
      status: unescaped('status'),
      createdAt: timestamp('created_at'),
      updatedAt: timestamp('updated_at'),
    },
    lists: { tasks: { entity: 'Task', column: 'project_id' } },
    rows: { createdBy: { entity: 'User', column: 'created_by' } },
  },
  Task: {
    table: '"app"."tasks"',
    tenantScoped: true,
    order: 'created_at',
    scalars: {
      id: unescaped('id'),
      title: plain('title'),
      description: plain('description'),
      status: unescaped('status'),
      priority: unescaped('priority'),
      dueDate: { column: 'due_date', format: 'date' },
      createdAt: timestamp('created_at'),
      updatedAt: timestamp('updated_at'),
    },
    lists: { comments: { entity: 'Comment', column: 'task_id' } },
    // Task.project is non-null: the composite foreign key keeps a task in its project's tenant,
    // where the project is visible whenever the task is.
    rows: {
      project: { entity: 'Project', column: 'project_id' },
      assignee: { entity: 'User', column: 'assignee_id' },
    },
  },
  Comment: {
    table: '"app"."comments"',
    tenantScoped: true,
    order: 'created_at',
    scalars: {
      id: unescaped('id'),
      body: plain('body'),
      createdAt: timestamp('created_at'),
      updatedAt: timestamp('updated_at'),
    },
    lists: {},
    rows: {
      task: { entity: 'Task', column: 'task_id' },
      author: { entity: 'User', column: 'author_id' },
    },
  },
  // Visible as RLS has it: yourself and the members of the current tenant (users_select).
  User: {
    table: '"app"."users"',
    tenantScoped: false,
    scalars: {
      id: unescaped('id'),
      email: plain('email'),
      name: plain('name'),
      createdAt: timestamp('created_at'),
      emailVerified: { column: 'email_verified_at', format: 'present' },
    },
    lists: {},
    rows: {},
  },
};

/** A root field answering one row by id, or null when it is missing or hidden. */
export interface RootRow {
  kind: 'row';
  entity: string;
}

/** A root connection, narrowed by id arguments (`tasks(projectId:)` → `project_id`). */
export interface RootList {
  kind: 'list';
  entity: string;
  byArgument: Readonly<Record<string, string>>;
}

export const ROOTS: Readonly<Record<string, RootRow | RootList>> = {
  project: { kind: 'row', entity: 'Project' },
  task: { kind: 'row', entity: 'Task' },
  projects: { kind: 'list', entity: 'Project', byArgument: {} },
  tasks: { kind: 'list', entity: 'Task', byArgument: { projectId: 'project_id' } },
};
