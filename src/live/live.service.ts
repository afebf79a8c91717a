import { GraphQLError, type ExecutionResult } from 'graphql';
import type { GraphQLContext } from '../graphql/context.js';
import { requireId } from '../graphql/validate.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { requireMember } from '../tenancy/permissions.js';
import { notificationsByIds } from '../modules/notification/notification.service.js';
import type { Notification } from '../modules/notification/notification.type.js';
import { loadProject } from '../modules/project/project.service.js';
import { loadTask } from '../modules/task/task.service.js';
import type { LiveEvent } from './events.js';
import type { LiveSession } from './hub.js';
import { TaskChangeKind, type TaskChange } from './live.type.js';

const KIND_OF_OP = {
  insert: TaskChangeKind.CREATED,
  update: TaskChangeKind.UPDATED,
  delete: TaskChangeKind.DELETED,
} as const;

/**
 * The subscription's live session. Apollo executes a subscription sent over HTTP like a query, so
 * without one the field answers BAD_REQUEST (one of the request-error codes formatError keeps).
 */
export function liveSession(ctx: GraphQLContext): LiveSession {
  if (!ctx.live) {
    throw new GraphQLError('Subscriptions run over a WebSocket on this URL (graphql-ws).', {
      extensions: { code: 'BAD_REQUEST' },
    });
  }
  return ctx.live;
}

/**
 * The member (and tenant) the subscription started with, checked again in every delivery
 * transaction: a member removed meanwhile gets FORBIDDEN and the subscription ends.
 */
async function requireSameMember(ctx: GraphQLContext, tenantId: string): Promise<void> {
  const tenant = await requireMember(ctx.db);
  if (tenant.tenantId !== tenantId)
    throw new ForbiddenError('The tenant of this subscription changed.');
}

/** New notifications of the caller in the current tenant. */
export function notificationStream(ctx: GraphQLContext): AsyncIterableIterator<ExecutionResult> {
  const live = liveSession(ctx);
  let tenantId = '';
  return live.hub.stream<Notification>(ctx, live, {
    async start(first) {
      const tenant = await requireMember(first.db);
      tenantId = tenant.tenantId;
      return (event) =>
        event.kind === 'notification' &&
        event.tenantId === tenant.tenantId &&
        event.recipientId === tenant.userId;
    },
    async load(batch, events) {
      await requireSameMember(batch, tenantId);
      const found = new Map(
        (
          await notificationsByIds(
            batch,
            events.map((e) => e.id),
          )
        ).map((n) => [n.id, n]),
      );
      return events.flatMap((e) => found.get(e.id) ?? []);
    },
  });
}

/** Tasks of one project of the current tenant as they are created, updated and deleted. */
export function taskChangeStream(
  ctx: GraphQLContext,
  rawProjectId: unknown,
): AsyncIterableIterator<ExecutionResult> {
  const live = liveSession(ctx);
  let tenantId = '';
  let projectId = '';
  async function requireProject(batch: GraphQLContext): Promise<void> {
    if (!(await loadProject(batch, projectId))) throw new NotFoundError('Project', projectId);
  }
  return live.hub.stream<TaskChange>(ctx, live, {
    async start(first) {
      projectId = requireId('projectId', typeof rawProjectId === 'string' ? rawProjectId : '');
      const tenant = await requireMember(first.db);
      tenantId = tenant.tenantId;
      await requireProject(first);
      return (event) =>
        event.kind === 'task' && event.tenantId === tenantId && event.projectId === projectId;
    },
    async load(batch, events) {
      await requireSameMember(batch, tenantId);
      // A deleted task leaves no row to load; its change is shown only while the project itself
      // is visible to the subscriber in this transaction (and ends the subscription once it is not).
      await requireProject(batch);
      const changes = await Promise.all(
        events.map(async (event: LiveEvent): Promise<TaskChange | undefined> => {
          const kind = KIND_OF_OP[event.op];
          if (kind === TaskChangeKind.DELETED) {
            return { kind, taskId: event.id, projectId, task: null };
          }
          const task = await loadTask(batch, event.id);
          // Hidden by RLS, deleted since (its own DELETED follows), or not of this project.
          if (!task || task.projectId !== projectId) return undefined;
          return { kind, taskId: task.id, projectId, task };
        }),
      );
      return changes.filter((c): c is TaskChange => c !== undefined);
    },
  });
}
