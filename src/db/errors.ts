import {
  AppError,
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
} from '../errors.js';

interface PgError {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  message?: string;
}

function isPgError(error: unknown): error is Error & PgError {
  return error instanceof Error && typeof (error as PgError).code === 'string';
}

/**
 * What a constraint protects, in the API's words. Keyed by constraint name (never by message
 * text), so renaming a constraint in a migration must update this table; a test checks it.
 */
export const CONSTRAINT_ERRORS: Record<string, { field: string; message: string }> = {
  tenants_slug_key: { field: 'slug', message: 'That tenant slug is already taken.' },
  tenants_slug_format: {
    field: 'slug',
    message:
      'A slug is 2–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.',
  },
  tenants_name_length: { field: 'name', message: 'A name is 1–200 characters.' },
  users_email_key: { field: 'email', message: 'An account with that email already exists.' },
  users_email_normalised: { field: 'email', message: 'The email must be in lower case.' },
  users_name_length: { field: 'name', message: 'A name is 1–200 characters.' },
  memberships_pkey: { field: 'email', message: 'That user is already a member of this tenant.' },
  memberships_role_valid: { field: 'role', message: 'Unknown role.' },
  projects_key_unique: { field: 'key', message: 'A project with that key already exists.' },
  projects_key_format: {
    field: 'key',
    message:
      'A project key is 2–10 characters: an upper-case letter, then upper-case letters or digits.',
  },
  projects_status_valid: { field: 'status', message: 'Unknown project status.' },
  projects_name_length: { field: 'name', message: 'A project name is 1–200 characters.' },
  projects_description_length: {
    field: 'description',
    message: 'A description is at most 10,000 characters.',
  },
  tasks_title_length: { field: 'title', message: 'A task title is 1–300 characters.' },
  tasks_description_length: {
    field: 'description',
    message: 'A description is at most 20,000 characters.',
  },
  tasks_status_valid: { field: 'status', message: 'Unknown task status.' },
  tasks_priority_valid: { field: 'priority', message: 'Unknown task priority.' },
  tasks_project_fk: { field: 'projectId', message: 'That project does not exist.' },
  tasks_assignee_fk: {
    field: 'assigneeId',
    message: 'The assignee must be a member of this tenant.',
  },
  comments_task_fk: { field: 'taskId', message: 'That task does not exist.' },
  comments_body_length: { field: 'body', message: 'A comment is 1–10,000 characters.' },
};

const CONSTRAINT_CODES = new Set(['23505', '23503', '23514', '23502']);

/**
 * The name of the constraint an error names, as CONSTRAINT_ERRORS keys it. PostgreSQL sends it in
 * its own field. A Citus coordinator relaying a worker's error sends only SQLSTATE, message and
 * detail, and the worker named its shard's copy (`projects_key_unique_102057`, checks keep their
 * name): there the name is the message's word that, without a shard id suffix, is a known
 * constraint. Looking for known names keeps it independent of the worker's message language.
 */
function constraintOf(error: PgError): string | undefined {
  if (error.constraint) return error.constraint;
  if (!CONSTRAINT_CODES.has(error.code ?? '') || !error.message) return undefined;
  for (const word of error.message.match(/[a-z][a-z0-9_]*/g) ?? []) {
    const name = word.replace(/_\d+$/, '');
    if (Object.hasOwn(CONSTRAINT_ERRORS, name)) return name;
  }
  return undefined;
}

// 25P03: the server ended a session idle in its transaction too long (see OperationScope).
const UNAVAILABLE_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '25P03',
  '53300',
  '08000',
  '08003',
  '08006',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
]);

/**
 * Turns a database error into the client-facing error it means, or undefined for errors that are
 * bugs (those are masked and logged by formatError). Decided by SQLSTATE and constraint name only.
 */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message)) {
    // pg-pool's own error for an exhausted pool has no code; its message is fixed by the library.
    return new ServiceUnavailableError('The server is busy. Retry in a few seconds.');
  }
  if (
    error instanceof Error &&
    /^(Connection terminated|Client has encountered a connection error|Client was closed)/.test(
      error.message,
    )
  ) {
    // pg's errors for a connection lost mid-operation (a database restart) have no code either.
    return new ServiceUnavailableError();
  }
  if (!isPgError(error)) return undefined;
  const code = error.code ?? '';
  if (NETWORK_CODES.has(code) || UNAVAILABLE_CODES.has(code)) return new ServiceUnavailableError();
  const known = CONSTRAINT_ERRORS[constraintOf(error) ?? ''];
  switch (code) {
    case '23505':
      return new ConflictError(known?.message ?? 'That value is already taken.', known?.field);
    case '23503':
      // A reference to a row that does not exist here, including rows of other tenants.
      return known
        ? new BadUserInputError(known.field, known.message)
        : new NotFoundError('The referenced record');
    case '23514':
    case '23502':
      return known
        ? new BadUserInputError(known.field, known.message)
        : new BadUserInputError(error.column ?? 'input', 'A value is missing or out of range.');
    case '22P02':
    case '22007':
    case '22008':
      return new BadUserInputError('input', 'A value has the wrong format.');
    case '42501':
      return new ForbiddenError();
    case '57014':
      return new ServiceUnavailableError('The operation took too long and was cancelled.');
    case '25P02':
      // A later mutation field after one that failed: the transaction is already doomed.
      return new ConflictError(
        'Skipped: an earlier field of this operation failed, so nothing was saved.',
      );
    case '25006':
      return new ForbiddenError('This operation is read-only.');
    default:
      return undefined;
  }
}
