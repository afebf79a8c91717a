import { BadUserInputError } from '../../errors.js';
import { MAX_PAGE_SIZE } from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { byKey } from '../../graphql/loaders.js';
import { requireId } from '../../graphql/validate.js';
import { memberRead } from '../../tenancy/permissions.js';
import { loadComment } from '../comment/comment.service.js';
import { loadProject } from '../project/project.service.js';
import { loadTask } from '../task/task.service.js';
import { findNodeLocations } from './node.repository.js';
import { tagNode, type Node, type NodeTypeName } from './node.type.js';

/** The most ids one nodes(ids:) takes: a page's worth, as the cost model counts it (limits.ts). */
export const MAX_NODE_IDS = MAX_PAGE_SIZE;

/**
 * One node of the current tenant, or undefined: every node(id:) and nodes(ids:) of an operation
 * share one statement to find which table holds their ids, then the types' own loaders (the
 * same ones project(id:) and Task.project use) fetch the rows.
 */
async function loadNode(ctx: GraphQLContext, id: string): Promise<Node | null> {
  const locate = ctx.loaders.get<string, NodeTypeName | undefined>('node.type', async (ids) => {
    const rows = await findNodeLocations(await ctx.db.transaction(), ctx.db.routingTenant(), ids);
    return byKey(ids, rows, (row) => row.id).map((row) => row?.typename);
  });
  const typename = await locate.load(id);
  let value: Node | undefined;
  if (typename === 'Project') value = await loadProject(ctx, id);
  else if (typename === 'Task') value = await loadTask(ctx, id);
  else if (typename === 'Comment') value = await loadComment(ctx, id);
  // Gone between the two statements (a concurrent delete) reads as never found.
  return typename && value ? tagNode(typename, { ...value }) : null;
}

/** node(id:): null when missing, hidden or another tenant's; BAD_USER_INPUT when not a uuid. */
export function findNode(ctx: GraphQLContext, rawId: string): Promise<Node | null> {
  return memberRead(ctx.db, () => loadNode(ctx, requireId('id', rawId)));
}

/** nodes(ids:): one answer per id, in order, null where node(id:) would answer null. */
export function findNodes(
  ctx: GraphQLContext,
  rawIds: readonly string[],
): Promise<(Node | null)[]> {
  if (rawIds.length > MAX_NODE_IDS) {
    throw new BadUserInputError('ids', `ids takes at most ${MAX_NODE_IDS} ids.`);
  }
  const ids = rawIds.map((id) => requireId('ids', id));
  return memberRead(ctx.db, () => Promise.all(ids.map((id) => loadNode(ctx, id))));
}
