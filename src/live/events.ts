import { UUID } from '../formats.js';

/** The one LISTEN/NOTIFY channel the triggers of sql/0013_live_events.sql announce changes on. */
export const LIVE_CHANNEL = 'tenantql_live';

/**
 * A change announced by the database: ids only. Whoever receives one still has to load the row in
 * a transaction of their own, under RLS, before anything of it reaches a subscriber.
 */
export type LiveEvent =
  | {
      kind: 'task';
      op: 'insert' | 'update' | 'delete';
      tenantId: string;
      id: string;
      projectId: string;
    }
  | { kind: 'notification'; op: 'insert'; tenantId: string; id: string; recipientId: string };

function uuid(value: unknown): string | undefined {
  return typeof value === 'string' && UUID.test(value) ? value.toLowerCase() : undefined;
}

/** The event of one NOTIFY payload; undefined for anything malformed or unknown. */
export function parseLiveEvent(payload: string | undefined): LiveEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(payload ?? '');
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const fields = raw as Record<string, unknown>;
  const tenantId = uuid(fields.tenantId);
  const id = uuid(fields.id);
  if (!tenantId || !id) return undefined;
  if (fields.kind === 'task') {
    const projectId = uuid(fields.projectId);
    const op = fields.op;
    if (!projectId || (op !== 'insert' && op !== 'update' && op !== 'delete')) return undefined;
    return { kind: 'task', op, tenantId, id, projectId };
  }
  if (fields.kind === 'notification' && fields.op === 'insert') {
    const recipientId = uuid(fields.recipientId);
    if (!recipientId) return undefined;
    return { kind: 'notification', op: 'insert', tenantId, id, recipientId };
  }
  return undefined;
}
