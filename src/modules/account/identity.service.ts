import type { Kysely } from 'kysely';
import type { ExternalIdentity } from '../../auth/oidc.js';
import { toAppError } from '../../db/errors.js';
import type { Database } from '../../db/schema.js';
import { UnauthenticatedError } from '../../errors.js';
import { enrollInOpenTenant } from './account.repository.js';
import { normaliseEmail } from './account.service.js';
import { actAsUser, signInExternal, type ExternalSignInRow } from './identity.repository.js';

/** Identity provider accounts whose user is remembered per process (see userIdFor). */
const USERS_KEPT = 10_000;
const NAME_MAX_LENGTH = 200;

function usableEmail(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return normaliseEmail(raw);
  } catch {
    return undefined;
  }
}

/** The name a new account gets: the token's name claim, else the email's local part. */
function accountName(name: string | undefined, email: string | undefined): string {
  const chosen = name?.trim() || email?.split('@')[0] || 'User';
  return [...chosen].slice(0, NAME_MAX_LENGTH).join('').trim() || 'User';
}

/**
 * Maps identity provider accounts (issuer, subject) to tenantql users. Never grants a tenant: the
 * session it leads to has none, and tenants come from the request and the membership check.
 */
export class ExternalAccounts {
  // An identity's user never changes once found (rows are never updated), so the first token of
  // a subject costs one short transaction and every later one none.
  readonly #users = new Map<string, string>();

  constructor(
    private readonly db: Kysely<Database>,
    /** With tenancy off: the one tenant a new account joins, as with signUp. */
    private readonly defaultTenantId: string | undefined,
  ) {}

  /**
   * The user of a verified identity: remembered, or found, linked or created in a transaction of
   * its own, before (and apart from) the operation's transaction. UNAUTHENTICATED, with what to
   * do about it, when no account may be used (see app.sign_in_external).
   */
  async userIdFor(identity: ExternalIdentity): Promise<string> {
    const key = JSON.stringify([identity.issuer, identity.subject]);
    const known = this.#users.get(key);
    if (known) return known;
    const email = usableEmail(identity.email);
    let row: ExternalSignInRow;
    try {
      row = await this.db.transaction().execute(async (trx) => {
        const result = await signInExternal(trx, {
          issuer: identity.issuer,
          subject: identity.subject,
          email,
          emailVerified: identity.emailVerified,
          name: accountName(identity.name, email),
        });
        if (result.outcome === 'created' && result.userId && this.defaultTenantId) {
          await actAsUser(trx, result.userId);
          await enrollInOpenTenant(trx, this.defaultTenantId);
        }
        return result;
      });
    } catch (error) {
      throw toAppError(error) ?? error;
    }
    if (!row.userId) {
      throw new UnauthenticatedError(
        row.outcome === 'email_unverified'
          ? 'Your identity provider has not verified your email address, and a tenantql account ' +
              'with that address already exists. Verify the address at your identity provider, or ' +
              'sign in with your tenantql password.'
          : 'Your identity provider sent no usable email address in its token, which a new ' +
              'tenantql account needs. Ask your administrator to include the email claim.',
      );
    }
    if (this.#users.size >= USERS_KEPT) {
      // Maps iterate in insertion order: drop the oldest.
      const oldest = this.#users.keys().next();
      if (!oldest.done) this.#users.delete(oldest.value);
    }
    this.#users.set(key, row.userId);
    return row.userId;
  }
}
