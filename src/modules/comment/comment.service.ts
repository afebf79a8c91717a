import type { TenantContext } from '../../db/operation.js';
import type { GraphQLContext } from '../../graphql/context.js';
import {
  orderingOf,
  pageArgs,
  toConnection,
  type Connection,
  type RequestedOrder,
} from '../../graphql/connection.js';
import { readFilter, rulesFor } from '../../graphql/filter.js';
import { byKey } from '../../graphql/loaders.js';
import { requireId, requireText } from '../../graphql/validate.js';
import type { TextRule } from '../../graphql/validate.js';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import { isTenantAdmin, requireWriter } from '../../tenancy/permissions.js';
import { loadTask } from '../task/task.service.js';
import type { Task } from '../task/task.type.js';
import { loadUser } from '../user/user.service.js';
import type { User } from '../user/user.type.js';
import type { TaskCommentsArgs } from './comment.args.js';
import type { AddCommentInput } from './comment.input.js';
import {
  COMMENT_FILTER,
  COMMENT_SORT,
  deleteCommentById,
  findCommentPagesByTasks,
  findCommentsByIds,
  getCommentById,
  insertComment,
  updateCommentById,
  type CommentOrderFieldValue,
  type CommentRow,
} from './comment.repository.js';
import type { Comment } from './comment.type.js';

const BODY: TextRule = { min: 1, max: 10_000, keepWhitespace: true };

export function toComment(row: CommentRow): Comment {
  return {
    id: row.id,
    taskId: row.task_id,
    authorId: row.author_id,
    body: row.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const COMMENT_FILTER_RULES = rulesFor(COMMENT_FILTER);

const OLDEST_FIRST: RequestedOrder<CommentOrderFieldValue> = {
  field: 'CREATED_AT',
  direction: 'ASC',
};

/** Batched comment lookup in the operation's transaction; hidden and missing look the same. */
export async function loadComment(ctx: GraphQLContext, id: string): Promise<Comment | undefined> {
  const loader = ctx.loaders.get<string, Comment | undefined>('comment', async (ids) => {
    const trx = await ctx.db.transaction();
    const rows = await findCommentsByIds(trx, ctx.db.routingTenant(), ids);
    return byKey(ids, rows.map(toComment), (c) => c.id);
  });
  return loader.load(id);
}

/**
 * Task.comments, when graphql-js resolves it (the planner answers most reads, see
 * graphql/planner): every task in the operation asking for the same page shares one query, a
 * LATERAL page per task.
 */
export async function taskComments(
  ctx: GraphQLContext,
  task: Task,
  args: TaskCommentsArgs,
): Promise<Connection<Comment>> {
  const order = orderingOf(COMMENT_SORT, args, OLDEST_FIRST);
  const page = pageArgs(args, order);
  const filter = readFilter(args.filter, COMMENT_FILTER_RULES);
  // Fields asking for the same page under the same filter share a loader, so one statement.
  const loader = ctx.loaders.get<string, Connection<Comment>>(
    `task.comments:${page.key}:${JSON.stringify(filter ?? null)}`,
    async (taskIds) => {
      const trx = await ctx.db.transaction();
      const pages = await findCommentPagesByTasks(
        trx,
        ctx.db.routingTenant(),
        taskIds,
        filter,
        page,
      );
      return pages.map((one) => toConnection(one, order, toComment));
    },
  );
  return loader.load(task.id);
}

export async function commentTask(ctx: GraphQLContext, comment: Comment): Promise<Task> {
  const task = await loadTask(ctx, comment.taskId);
  // The composite foreign key keeps a comment inside its task's tenant, so this means a bug.
  if (!task) throw new NotFoundError('Task', comment.taskId);
  return task;
}

export async function commentAuthor(ctx: GraphQLContext, comment: Comment): Promise<User | null> {
  return comment.authorId ? ((await loadUser(ctx, comment.authorId)) ?? null) : null;
}

export async function addComment(ctx: GraphQLContext, input: AddCommentInput): Promise<Comment> {
  const { tenantId } = await requireWriter(ctx.db);
  const values = {
    task_id: requireId('taskId', input.taskId),
    body: requireText('body', input.body, BODY),
  };
  // A task of another tenant fails the composite foreign key: BAD_USER_INPUT on taskId.
  return toComment(await insertComment(await ctx.db.transaction(), tenantId, values));
}

/** Only the author or a tenant admin may change a comment; the policies say the same. */
function requireAuthorOrAdmin(tenant: TenantContext, comment: CommentRow): void {
  if (comment.author_id !== tenant.userId && !isTenantAdmin(tenant.role)) {
    throw new ForbiddenError('Only the author or a tenant admin can change this comment.');
  }
}

export async function updateComment(
  ctx: GraphQLContext,
  id: string,
  body: string,
): Promise<Comment> {
  const tenant = await requireWriter(ctx.db);
  const commentId = requireId('id', id);
  const text = requireText('body', body, BODY);
  const trx = await ctx.db.transaction();
  requireAuthorOrAdmin(tenant, await getCommentById(trx, tenant.tenantId, commentId));
  const row = await updateCommentById(trx, tenant.tenantId, commentId, text);
  if (!row) throw new NotFoundError('Comment', commentId);
  return toComment(row);
}

export async function deleteComment(ctx: GraphQLContext, id: string): Promise<boolean> {
  const tenant = await requireWriter(ctx.db);
  const commentId = requireId('id', id);
  const trx = await ctx.db.transaction();
  requireAuthorOrAdmin(tenant, await getCommentById(trx, tenant.tenantId, commentId));
  if (!(await deleteCommentById(trx, tenant.tenantId, commentId))) {
    throw new NotFoundError('Comment', commentId);
  }
  return true;
}
