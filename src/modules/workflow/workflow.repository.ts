import type { Tx } from '../../db/operation.js';
import type { MembershipRoleValue, ProjectStatusValue } from '../../db/schema.js';
import { anyId } from '../../db/any-id.js';

export interface WorkflowEdgeRow {
  from_status: ProjectStatusValue;
  to_status: ProjectStatusValue;
  min_role: MembershipRoleValue;
}

export interface TransitionRow {
  id: string;
  project_id: string;
  from_status: ProjectStatusValue;
  to_status: ProjectStatusValue;
  actor_id: string | null;
  comment: string;
  created_at: Date;
}

export function findWorkflowEdges(trx: Tx): Promise<WorkflowEdgeRow[]> {
  return trx
    .selectFrom('app.project_workflow')
    .select(['from_status', 'to_status', 'min_role'])
    .orderBy('from_status')
    .orderBy('to_status')
    .execute();
}

/** The project's current status, locked so two transitions of one project take turns. */
export async function lockProjectStatus(
  trx: Tx,
  projectId: string,
): Promise<ProjectStatusValue | undefined> {
  const row = await trx
    .selectFrom('app.projects')
    .select('status')
    .where('id', '=', projectId)
    .forUpdate()
    .executeTakeFirst();
  return row?.status;
}

export async function recordTransition(
  trx: Tx,
  values: { projectId: string; from: ProjectStatusValue; to: ProjectStatusValue; comment: string },
): Promise<void> {
  await trx
    .insertInto('app.project_transitions')
    .values({
      project_id: values.projectId,
      from_status: values.from,
      to_status: values.to,
      comment: values.comment,
    })
    .execute();
}

export function findTransitionsOfProjects(
  trx: Tx,
  projectIds: readonly string[],
): Promise<TransitionRow[]> {
  return trx
    .selectFrom('app.project_transitions')
    .select(['id', 'project_id', 'from_status', 'to_status', 'actor_id', 'comment', 'created_at'])
    .where('project_id', '=', anyId(projectIds))
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
