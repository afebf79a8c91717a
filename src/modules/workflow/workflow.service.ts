import type { MembershipRoleValue, ProjectStatusValue } from '../../db/schema.js';
import { ForbiddenError, InvalidTransitionError, NotFoundError } from '../../errors.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { groupByKey } from '../../graphql/loaders.js';
import { pageSize } from '../../graphql/connection.js';
import { optionalId, requireId, requireText } from '../../graphql/validate.js';
import { memberRead, requireMember, requireWriter } from '../../tenancy/permissions.js';
import { updateProjectById } from '../project/project.repository.js';
import { toProject } from '../project/project.service.js';
import type { Project } from '../project/project.type.js';
import {
  findTransitionsOfProjects,
  findWorkflowEdges,
  lockProjectStatus,
  recordTransition,
  type WorkflowEdgeRow,
} from './workflow.repository.js';
import { TRANSITIONS_PAGE_SIZE } from './workflow.args.js';
import type { ProjectTransition, WorkflowEdge } from './workflow.type.js';

const ROLE_RANK: Record<MembershipRoleValue, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };
const COMMENT = { min: 0, max: 2_000, keepWhitespace: true };

function toEdge(row: WorkflowEdgeRow): WorkflowEdge {
  return { from: row.from_status, to: row.to_status, minimumRole: row.min_role };
}

/** The workflow table (app.project_workflow), read once per operation. */
async function workflowEdges(ctx: GraphQLContext): Promise<WorkflowEdgeRow[]> {
  const loader = ctx.loaders.get<'all', WorkflowEdgeRow[]>('workflow', async (keys) => {
    const edges = await findWorkflowEdges(await ctx.db.transaction());
    return keys.map(() => edges);
  });
  return loader.load('all');
}

export async function projectWorkflow(ctx: GraphQLContext): Promise<WorkflowEdge[]> {
  return (await memberRead(ctx.db, () => workflowEdges(ctx))).map(toEdge);
}

/** The statuses the caller may move this project to now, for rendering buttons. */
export async function allowedTransitions(
  ctx: GraphQLContext,
  project: Project,
): Promise<ProjectStatusValue[]> {
  const { role } = await requireMember(ctx.db);
  return (await workflowEdges(ctx))
    .filter((e) => e.from_status === project.status && ROLE_RANK[role] >= ROLE_RANK[e.min_role])
    .map((e) => e.to_status);
}

/**
 * Moves a project along one edge of the workflow and records who did it and why. Checked here
 * for clear errors; the projects_workflow trigger enforces the same table in the database.
 */
export async function transitionProject(
  ctx: GraphQLContext,
  id: string,
  to: ProjectStatusValue,
  comment: string | null | undefined,
): Promise<Project> {
  const { role, tenantId } = await requireWriter(ctx.db);
  const projectId = requireId('id', id);
  const note = comment == null ? '' : requireText('comment', comment, COMMENT);
  const trx = await ctx.db.transaction();
  const from = await lockProjectStatus(trx, tenantId, projectId);
  if (!from) throw new NotFoundError('Project', projectId);
  const edges = (await workflowEdges(ctx)).filter((e) => e.from_status === from);
  const edge = edges.find((e) => e.to_status === to);
  if (!edge) {
    throw new InvalidTransitionError(
      from,
      to,
      edges.map((e) => e.to_status),
    );
  }
  if (ROLE_RANK[role] < ROLE_RANK[edge.min_role]) {
    throw new ForbiddenError(
      `Moving a project from ${from} to ${to} takes the ${edge.min_role} role.`,
    );
  }
  const row = await updateProjectById(trx, tenantId, projectId, { status: to });
  if (!row) throw new NotFoundError('Project', projectId);
  await recordTransition(trx, tenantId, { projectId, from, to, comment: note });
  return toProject(row);
}

/**
 * A project's transitions, oldest first: `first` of them (BAD_USER_INPUT outside 1–100, like every
 * page size), after the transition `after` when given. One statement for every project of a page
 * that asks for the same slice.
 */
export async function projectTransitions(
  ctx: GraphQLContext,
  project: Project,
  args: { first?: number | null; after?: string | null } = {},
): Promise<ProjectTransition[]> {
  const first = pageSize(args.first ?? TRANSITIONS_PAGE_SIZE);
  const after = optionalId('after', args.after);
  const name = `projectTransitions:${first}:${after ?? ''}`;
  const loader = ctx.loaders.get<string, ProjectTransition[]>(name, async (ids) => {
    const trx = await ctx.db.transaction();
    const rows = await findTransitionsOfProjects(trx, ctx.db.routingTenant(), ids, {
      first,
      after,
    });
    const transitions = rows.map((r) => ({
      projectId: r.project_id,
      id: r.id,
      from: r.from_status,
      to: r.to_status,
      comment: r.comment,
      createdAt: r.created_at,
      actorId: r.actor_id,
    }));
    return groupByKey(ids, transitions, (t) => t.projectId);
  });
  return loader.load(project.id);
}
