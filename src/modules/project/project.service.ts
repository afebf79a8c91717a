import type { GraphQLContext } from '../../graphql/context.js';
import {
  orderingOf,
  pageArgs,
  toConnection,
  type Connection,
  type RequestedOrder,
} from '../../graphql/connection.js';
import { readFilter, rulesFor, type FilterRule } from '../../graphql/filter.js';
import { byKey } from '../../graphql/loaders.js';
import {
  definedOnly,
  requireId,
  requireText,
  updatedText,
  updatedValue,
} from '../../graphql/validate.js';
import type { TextRule } from '../../graphql/validate.js';
import { BadUserInputError, NotFoundError } from '../../errors.js';
import { enforceQuota } from '../../tenancy/quota.js';
import { memberRead, requireTenantAdmin, requireWriter } from '../../tenancy/permissions.js';
import type { ProjectsArgs } from './project.args.js';
import type { CreateProjectInput, UpdateProjectInput } from './project.input.js';
import {
  PROJECT_FILTER,
  PROJECT_SORT,
  deleteProjectById,
  findProjectPage,
  findProjectsByIds,
  insertProject,
  updateProjectById,
  type ProjectOrderFieldValue,
  type ProjectRow,
} from './project.repository.js';
import { transitionProject } from '../workflow/workflow.service.js';
import type { Project } from './project.type.js';

const PROJECT_KEY = /^[A-Z][A-Z0-9]{1,9}$/;
const NAME = { min: 1, max: 200 };
const DESCRIPTION: TextRule = { min: 0, max: 10_000, keepWhitespace: true };
const SEARCH = { min: 1, max: 200 };

/** The fields of ProjectFilter: operator inputs by their names, the older plain ones as before. */
const PROJECT_FILTER_RULES: Readonly<Record<string, FilterRule>> = {
  ...rulesFor(PROJECT_FILTER),
  status: { field: 'status', column: PROJECT_FILTER.status, shorthand: true },
  statusIs: { field: 'status', column: PROJECT_FILTER.status },
  search: {
    // A blank search is no search, so clients can bind a text box straight to it.
    read: (value, path) => {
      if (typeof value !== 'string' || !value.trim()) return undefined;
      const text = requireText(path === 'filter.search' ? 'search' : path, value, SEARCH);
      return {
        kind: 'or',
        of: [
          { kind: 'value', field: 'name', op: 'contains', value: text },
          { kind: 'value', field: 'key', op: 'contains', value: text },
        ],
      };
    },
  },
};

const OLDEST_FIRST: RequestedOrder<ProjectOrderFieldValue> = {
  field: 'CREATED_AT',
  direction: 'ASC',
};

export function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdById: row.created_by,
  };
}

function projectKey(value: string): string {
  const key = value.trim();
  if (!PROJECT_KEY.test(key)) {
    throw new BadUserInputError(
      'key',
      'A project key is 2–10 characters: an upper-case letter, then upper-case letters or digits.',
    );
  }
  return key;
}

/** Batched project lookup in the operation's transaction; hidden and missing look the same. */
export async function loadProject(ctx: GraphQLContext, id: string): Promise<Project | undefined> {
  const loader = ctx.loaders.get<string, Project | undefined>('project', async (ids) => {
    const trx = await ctx.db.transaction();
    const rows = await findProjectsByIds(trx, ctx.db.routingTenant(), ids);
    return byKey(ids, rows.map(toProject), (p) => p.id);
  });
  return loader.load(id);
}

/** project(id), when graphql-js resolves it (the planner answers most reads, see graphql/planner). */
export async function findProject(ctx: GraphQLContext, rawId: string): Promise<Project | null> {
  return memberRead(ctx.db, async () => (await loadProject(ctx, requireId('id', rawId))) ?? null);
}

export async function listProjects(
  ctx: GraphQLContext,
  args: ProjectsArgs,
): Promise<Connection<Project>> {
  return memberRead(ctx.db, async () => {
    const order = orderingOf(PROJECT_SORT, args, OLDEST_FIRST);
    const page = await findProjectPage(
      await ctx.db.transaction(),
      ctx.db.routingTenant(),
      readFilter(args.filter, PROJECT_FILTER_RULES),
      pageArgs(args, order),
    );
    return toConnection(page, order, toProject);
  });
}

export async function createProject(
  ctx: GraphQLContext,
  input: CreateProjectInput,
): Promise<Project> {
  const { tenantId } = await requireWriter(ctx.db);
  const values = {
    name: requireText('name', input.name, NAME),
    key: projectKey(input.key),
    description: requireText('description', input.description ?? '', DESCRIPTION),
  };
  await enforceQuota(ctx.db, 'projects');
  return toProject(await insertProject(await ctx.db.transaction(), tenantId, values));
}

export async function updateProject(
  ctx: GraphQLContext,
  id: string,
  input: UpdateProjectInput,
): Promise<Project> {
  const { tenantId } = await requireWriter(ctx.db);
  const projectId = requireId('id', id);
  const key = updatedValue('key', input.key);
  const changes = {
    name: updatedText('name', input.name, NAME),
    key: key === undefined ? undefined : projectKey(key),
    description: updatedText('description', input.description, DESCRIPTION),
  };
  const status = updatedValue('status', input.status);
  const trx = await ctx.db.transaction();
  const row = await updateProjectById(trx, tenantId, projectId, definedOnly(changes));
  if (!row) throw new NotFoundError('Project', projectId);
  // A status change is a workflow step like any other: checked against the table and recorded.
  if (status !== undefined && status !== row.status) {
    return transitionProject(ctx, projectId, status, null);
  }
  return toProject(row);
}

export async function deleteProject(ctx: GraphQLContext, id: string): Promise<boolean> {
  const { tenantId } = await requireTenantAdmin(ctx.db);
  const projectId = requireId('id', id);
  if (!(await deleteProjectById(await ctx.db.transaction(), tenantId, projectId))) {
    throw new NotFoundError('Project', projectId);
  }
  return true;
}
