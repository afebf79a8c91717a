import { sql } from 'kysely';
import type { Tx } from '../../db/operation.js';

/** See app.sign_in_external in sql/0016_external_identities.sql. */
export type ExternalSignInOutcome =
  'existing' | 'linked' | 'created' | 'email_unverified' | 'no_email';

export interface ExternalSignInRow {
  userId: string | undefined;
  outcome: ExternalSignInOutcome;
}

/** Finds, links or creates the user of an identity provider account, from verified claims. */
export async function signInExternal(
  trx: Tx,
  identity: {
    issuer: string;
    subject: string;
    email: string | undefined;
    emailVerified: boolean;
    name: string;
  },
): Promise<ExternalSignInRow> {
  const { rows } = await sql<{ user_id: string | null; outcome: ExternalSignInOutcome }>`
    select user_id, outcome
      from app.sign_in_external(${identity.issuer}, ${identity.subject}, ${identity.email ?? null},
                                ${identity.emailVerified}, ${identity.name})`.execute(trx);
  const row = rows[0];
  if (!row) throw new Error('app.sign_in_external returned no row');
  return { userId: row.user_id ?? undefined, outcome: row.outcome };
}

/** Acts as this user for the rest of the transaction (app.user_id). */
export async function actAsUser(trx: Tx, userId: string): Promise<void> {
  await sql`select app.set_context_value('app.user_id', ${userId})`.execute(trx);
}
