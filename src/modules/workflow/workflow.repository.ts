import type { TenantKey, Tx } from '../../db/operation.js';
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
  tenantId: string,
  projectId: string,
): Promise<ProjectStatusValue | undefined> {
  // The tenant predicate routes the lock to one shard on Citus (FOR UPDATE cannot span shards).
  const row = await trx
    .selectFrom('app.projects')
    .select('status')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', projectId)
    .forUpdate()
    .executeTakeFirst();
  return row?.status;
}

export async function recordTransition(
  trx: Tx,
  tenantId: string,
  values: { projectId: string; from: ProjectStatusValue; to: ProjectStatusValue; comment: string },
): Promise<void> {
  await trx
    .insertInto('app.project_transitions')
    .values({
      tenant_id: tenantId,
      project_id: values.projectId,
      from_status: values.from,
      to_status: values.to,
      comment: values.comment,
    })
    .execute();
}

/**
 * The first `first` transitions of each project (oldest first), only those recorded after the
 * transition `after` when given. An `after` that is no transition this tenant can see matches
 * nothing.
 */
export function findTransitionsOfProjects(
  trx: Tx,
  tenantId: TenantKey,
  projectIds: readonly string[],
  page: { first: number; after: string | null },
): Promise<TransitionRow[]> {
  const { after } = page;
  const ranked = trx
    .selectFrom('app.project_transitions as t')
    .select(['id', 'project_id', 'from_status', 'to_status', 'actor_id', 'comment', 'created_at'])
    .select((eb) =>
      eb.fn
        .agg<number>('row_number')
        .over((ob) => ob.partitionBy('project_id').orderBy('created_at').orderBy('id'))
        .as('n'),
    )
    .where('t.tenant_id', '=', tenantId)
    .where('project_id', '=', anyId(projectIds))
    .$if(after !== null, (qb) =>
      qb.where(
        (eb) => eb.refTuple('t.created_at', 't.id'),
        '>',
        (eb) =>
          eb
            .selectFrom('app.project_transitions as a')
            .select(['a.created_at', 'a.id'])
            .where('a.tenant_id', '=', tenantId)
            .where('a.id', '=', after ?? '')
            .$asTuple('created_at', 'id'),
      ),
    );
  return trx
    .selectFrom(ranked.as('r'))
    .select(['id', 'project_id', 'from_status', 'to_status', 'actor_id', 'comment', 'created_at'])
    .where('n', '<=', page.first)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
