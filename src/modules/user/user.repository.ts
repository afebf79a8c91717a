import type { Tx } from '../../db/operation.js';
import { anyId } from '../../db/any-id.js';

const USER_COLUMNS = [
  'id',
  'email',
  'name',
  'created_at',
  'is_platform_admin',
  'email_verified_at',
] as const;

export interface UserRow {
  id: string;
  email: string;
  name: string;
  created_at: Date;
  is_platform_admin: boolean;
  email_verified_at: Date | null;
}

/** Users visible to the caller (themselves and members of the current tenant), by id. */
export function findUsersByIds(trx: Tx, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return trx.selectFrom('app.users').select(USER_COLUMNS).where('id', '=', anyId(ids)).execute();
}

export function findUserById(trx: Tx, id: string): Promise<UserRow | undefined> {
  return trx.selectFrom('app.users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
}
