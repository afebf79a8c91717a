import type { GraphQLContext } from '../../graphql/context.js';
import { byKey } from '../../graphql/loaders.js';
import { findUsersByIds, type UserRow } from './user.repository.js';
import type { User } from './user.type.js';

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    createdAt: row.created_at,
    emailVerified: row.email_verified_at !== null,
  };
}

/** The signed-in user, or null for anonymous callers. */
export async function currentUser(ctx: GraphQLContext): Promise<User | null> {
  if (!ctx.session) return null;
  return (await loadUser(ctx, ctx.session.userId)) ?? null;
}

/** Batched user lookup within the operation's transaction; RLS decides who is visible. */
export async function loadUser(ctx: GraphQLContext, id: string): Promise<User | undefined> {
  const loader = ctx.loaders.get<string, User | undefined>('user', async (ids) => {
    const rows = await findUsersByIds(await ctx.db.transaction(), ids);
    return byKey(ids, rows.map(toUser), (u) => u.id);
  });
  return loader.load(id);
}
