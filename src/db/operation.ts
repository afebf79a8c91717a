import {
  CompiledQuery,
  sql,
  type ControlledTransaction,
  type Kysely,
  type KyselyPlugin,
  type QueryId,
  type RawBuilder,
  type Transaction,
} from 'kysely';
import {
  ForbiddenError,
  TenantNotAllowedError,
  TenantRequiredError,
  TenantSuspendedError,
  UnauthenticatedError,
  type AppError,
} from '../errors.js';
import { traceTransaction, type TransactionSpan } from '../observability/tracing.js';
import { toAppError } from './errors.js';
import type { FairShare } from './fair-share.js';
import { HOLD, heldResult, holdsStatements, overShareDatabase } from './pool.js';
import type { Database, MembershipRoleValue } from './schema.js';

/** The transaction handle repositories receive. */
export type Tx = Transaction<Database>;

/** The tenant a statement names: its id, or (not yet known) the current tenant's setting. */
export type TenantKey = string | RawBuilder<string>;

const CURRENT_TENANT = sql<string>`app.current_tenant_id()`;

/**
 * Ends a statement that reads across the caller's tenants by design (their memberships, for
 * myTenants and sign-in): it names no one tenant, so Citus sends it to every shard. The test
 * suite refuses statements on tenant tables without a tenant predicate unless marked so.
 */
export const ACROSS_TENANTS = sql`/* across tenants */`;

export interface TenantSelector {
  id?: string;
  slug?: string;
}

export interface OperationScope {
  userId: string | undefined;
  /**
   * When the caller's access token was issued (ms since the epoch). The context statement refuses
   * a token issued before the user's tokens_valid_after (password change, reset, sign-out
   * everywhere) in the same round trip. Undefined for callers without a token.
   */
  tokenIssuedAtMs?: number | undefined;
  /** The sign-in (refresh-token family) the access token came from; refused once logged out. */
  sessionId?: string | undefined;
  /**
   * Waits for this operation's turn at the pool (see FairShare) before BEGIN. `key` names whose
   * share it spends, read when the transaction opens: by then the caller's tenant may be known.
   */
  fairShare?: { gate: FairShare; key: () => string } | undefined;
  /**
   * Set when the request came with an API key instead of a user's token (userId is then
   * undefined): the context statement is app.set_api_key_context, which finds the key by this
   * hash, acts as its creator and makes the key's tenant current, so `tenant` may be undefined.
   * `used` hears of every operation the key was accepted for (last-use times).
   */
  apiKey?: ApiKeyScope | undefined;
  tenant: TenantSelector | undefined;
  /** How to ask for a tenant, named in TENANT_REQUIRED messages. */
  tenantHint: string;
  /** When set, only tenants whose id or slug is listed may be used. */
  allowlist?: string[] | undefined;
  /**
   * Applied per transaction (SET LOCAL) in the context round trip, so it holds behind PgBouncer
   * in transaction mode too, where a connection-level setting never reaches the server. 0 is none.
   */
  statementTimeoutMs?: number | undefined;
  /**
   * Also per transaction: Postgres ends the session of a transaction left idle this long (a
   * client that stopped reading a subscription, a resolver that never finishes), so it cannot
   * hold its connection and snapshot for good. 0 is none.
   */
  idleInTransactionTimeoutMs?: number | undefined;
}

export interface ApiKeyScope {
  hash: Buffer;
  used?: ((tenantId: string, keyId: string) => void) | undefined;
}

export interface TenantContext {
  tenantId: string;
  /** For an API key: its creator, whom the key acts as. */
  userId: string;
  /** The lesser of the member's role and, for an API key, the key's role. */
  role: MembershipRoleValue;
  /** Set when the operation runs under an API key. */
  apiKeyId?: string | undefined;
}

/** What one operation did with the database, for its log line and metrics. */
export interface OperationStats {
  /** Time spent waiting on PostgreSQL: acquiring a connection, BEGIN, queries, COMMIT/ROLLBACK. */
  dbTimeMs: number;
  queries: number;
  /** The tenant made current after the membership check, if any. */
  tenantId: string | undefined;
  outcome: 'none' | 'committed' | 'rolled back';
}

/** Adds each query's execution time to the stats. A failed query is not timed (no result). */
class QueryTimer implements KyselyPlugin {
  readonly #started = new WeakMap<QueryId, number>();
  constructor(private readonly stats: OperationStats) {}
  transformQuery: KyselyPlugin['transformQuery'] = (args) => {
    this.#started.set(args.queryId, performance.now());
    return args.node;
  };
  transformResult: KyselyPlugin['transformResult'] = (args) => {
    const started = this.#started.get(args.queryId);
    if (started !== undefined) {
      this.stats.dbTimeMs += performance.now() - started;
      this.stats.queries += 1;
    }
    return Promise.resolve(args.result);
  };
}

/** What the context statement decided. */
interface Verdict {
  tenant: TenantContext | undefined;
  /** Why the requested tenant was not made current, if one was requested. */
  tenantError: AppError | undefined;
}

interface Opened {
  trx: ControlledTransaction<Database>;
  /** The same transaction, its results held back until the verdict and refused if it refused. */
  gated: Transaction<Database>;
  /** Settles when the context statement has answered (it travels with the first statement). */
  verdict: Promise<Verdict>;
  /** Sends the context statement alone if no statement has taken it along yet. */
  flush: () => void;
}

/**
 * Lets a read travel with the context statement (one round trip instead of two) yet hands its
 * rows out only once the context statement has verified the membership, and never when it
 * refused the tenant. RLS already confines the read to the tenant made current, if any; this
 * keeps out rows of a tenant that is suspended or outside the allowlist, which are checked here.
 */
class TenantGate implements KyselyPlugin {
  constructor(private readonly verdict: Promise<Verdict>) {}
  transformQuery: KyselyPlugin['transformQuery'] = (args) => args.node;
  transformResult: KyselyPlugin['transformResult'] = async (args) => {
    const { tenantError } = await this.verdict;
    if (tenantError) throw tenantError;
    return args.result;
  };
}

/**
 * The single place where an operation's transaction is opened. One instance per GraphQL operation:
 * the first database access begins the transaction and sets app.user_id, app.tenant_id and
 * app.role in one round trip (app.set_operation_context, which verifies the membership); every
 * later access reuses it; finish() commits or rolls back and returns the connection to the pool.
 */
export class OperationDatabase {
  #opened: Promise<Opened> | undefined;
  #finished = false;
  #persistOnFailure = false;
  /** Gives the operation's place at the pool back (FairShare); set once BEGIN succeeded. */
  #release: (() => void) | undefined;
  #span: TransactionSpan | undefined;
  // Until the operation is known to be a mutation, nothing may write.
  #readOnly = true;
  #settle!: () => void;
  readonly stats: OperationStats = {
    dbTimeMs: 0,
    queries: 0,
    tenantId: undefined,
    outcome: 'none',
  };
  /**
   * Resolves once finish() has ended the transaction (or found none). NOTE: Apollo runs every
   * plugin's willSendResponse concurrently, so the operation log waits on this rather than on
   * plugin order to report the final outcome.
   */
  readonly settled = new Promise<void>((resolve) => (this.#settle = resolve));

  constructor(
    private readonly db: Kysely<Database>,
    private readonly scope: OperationScope,
  ) {}

  /** The user of the access token; undefined for API keys (whose creator is known only later). */
  get userId(): string | undefined {
    return this.scope.userId;
  }

  /** Whether the request came with an API key (not yet verified). */
  get isApiKey(): boolean {
    return this.scope.apiKey !== undefined;
  }

  /** Whether the request named a tenant (not yet verified); an API key always names its own. */
  get hasTenant(): boolean {
    return this.scope.tenant !== undefined || this.scope.apiKey !== undefined;
  }

  /**
   * Who names which tenant (unverified), when the request names one with a user or comes with an
   * API key (whose hash stands for the caller); else undefined.
   */
  get claim(): string | undefined {
    const { userId, tenant, apiKey } = this.scope;
    if (apiKey) {
      return `key:${apiKey.hash.toString('base64url')} ${tenant?.id ?? ''} ${tenant?.slug ?? ''}`;
    }
    if (!userId || !tenant) return undefined;
    return `${userId} ${tenant.id ?? ''} ${tenant.slug ?? ''}`;
  }

  get tenantHint(): string {
    return this.scope.tenantHint;
  }

  /** True once a transaction was begun (an operation touching no table never opens one). */
  get opened(): boolean {
    return this.#opened !== undefined;
  }

  /**
   * The operation's transaction. When the request named a tenant the caller may not use, a
   * mutation gets FORBIDDEN (or TENANT_SUSPENDED) here, before it can write; a read-only
   * operation gets it from its first query instead, whose rows it never sees (TenantGate), so
   * that read can share the context statement's round trip.
   */
  async transaction(): Promise<Tx> {
    const opened = await this.#open();
    if (this.#readOnly) return opened.gated;
    const { tenantError } = await this.#verdict(opened);
    if (tenantError) throw tenantError;
    return opened.trx;
  }

  /** The current tenant and the caller's role in it; TENANT_REQUIRED when none was given. */
  async tenant(): Promise<TenantContext> {
    if (!this.scope.apiKey) {
      if (!this.scope.tenant) throw new TenantRequiredError(this.scope.tenantHint);
      if (!this.scope.userId) throw new UnauthenticatedError();
    }
    const { tenant, tenantError } = await this.#verdict(await this.#open());
    if (tenantError) throw tenantError;
    if (!tenant) throw new ForbiddenError();
    return tenant;
  }

  /**
   * The tenant that statements name (`tenant_id = …`), so PostgreSQL uses the (tenant_id, …)
   * indexes and Citus sends each statement to the one shard holding the tenant. RLS stays the
   * guard: a named tenant that is not current matches no row.
   *
   * NOTE: reads travel with the context statement, before its verdict. A request that names its
   * tenant by id (a token claim, X-Tenant-ID) gives that id at once: a false claim reads nothing
   * (RLS), and its rows would be refused anyway (TenantGate). A tenant named by slug, or only by
   * an API key, is known once the context statement answered; until then statements name
   * app.current_tenant_id(), which uses the same indexes on one server but which Citus cannot
   * route by (such a first read goes to every shard; later ones name the verdict's id). Waiting
   * for the verdict instead would cost those requests a round trip on every deployment.
   */
  routingTenant(): TenantKey {
    return this.scope.tenant?.id ?? this.stats.tenantId ?? CURRENT_TENANT;
  }

  /**
   * The context statement's verdict. It goes out with the operation's next statement; one
   * issued in this same turn of the event loop (a read started alongside the membership check)
   * takes it along, otherwise it goes alone.
   */
  #verdict(opened: Opened): Promise<Verdict> {
    setImmediate(opened.flush);
    return opened.verdict;
  }

  /**
   * Decides READ ONLY once the operation is known, before any resolver runs. NOTE: Apollo hands
   * plugins and resolvers a shallow copy of the context, so a flag written on the context by a
   * plugin would be invisible elsewhere; this object is shared by every copy.
   */
  setReadOnly(readOnly: boolean): void {
    this.#readOnly = readOnly;
  }

  /**
   * Keep this operation's writes even though it reports an error: for security state that must
   * survive the failure it causes (revoking a refresh-token family on reuse).
   */
  persistOnFailure(): void {
    this.#persistOnFailure = true;
  }

  /**
   * Whether anything in this operation has written (or locked) rows so far. persistOnFailure()
   * would keep those writes too, so a field that may need it checks this first.
   */
  async hasWritten(): Promise<boolean> {
    if (!this.#opened) return false;
    const { trx } = await this.#open();
    const { rows } = await sql<{
      written: boolean;
    }>`select pg_current_xact_id_if_assigned() is not null as written`.execute(trx);
    return rows[0]?.written ?? false;
  }

  /**
   * Makes the rest of the operation act as a user it has just authenticated by other means than
   * the access token (sign-up, login, a refresh token): sets app.user_id to them and clears the
   * tenant context, and returns the transaction. A tenant named by the request belonged to the
   * previous identity, so tenant-scoped fields later in the same operation answer FORBIDDEN.
   * Undefined acts as nobody: for fields that authenticate the caller themselves (login, a reset
   * token), whatever access token came along, even one that was signed out.
   */
  async actAs(userId: string | undefined): Promise<Tx> {
    const opened = await this.#open();
    // SET LOCAL statements (app.set_context_value), which a Citus coordinator replays on its
    // workers; set_config would change the coordinator's settings only.
    await sql`select app.set_context_value('app.user_id', ${userId ?? ''}),
                     app.set_context_value('app.tenant_id', ''), app.set_context_value('app.role', ''),
                     app.set_context_value('app.api_key_id', '')`.execute(opened.trx);
    const verdict = await opened.verdict;
    if (this.hasTenant && !verdict.tenantError) {
      verdict.tenantError = new ForbiddenError('You are not a member of this tenant.');
    }
    verdict.tenant = undefined;
    this.stats.tenantId = undefined;
    return opened.trx;
  }

  /**
   * Runs a read-only operation's one and only statement. Its rows are handed out only when the
   * context statement accepted the tenant; otherwise its error (the operation's fields would
   * have given it). Parameters are text or null (held statements).
   *
   * When the operation has not touched the database yet, the context statement and `text` go to
   * PostgreSQL as one batch without BEGIN and COMMIT: the extended protocol runs the statements
   * up to its Sync as one transaction (read only: the context statement sets
   * transaction_read_only, which may be turned on at any point of a transaction), whose settings
   * end with it and which an error rolls back. Two statements where a transaction block takes
   * four. `transactionBlock` keeps BEGIN … COMMIT: a Citus coordinator replays the context's
   * SET LOCAL on its workers only inside a transaction block.
   */
  async soleRead<R>(
    text: string,
    parameters: readonly (string | null)[],
    { transactionBlock = false }: { transactionBlock?: boolean } = {},
  ): Promise<R[]> {
    if (!this.#readOnly) throw new Error('soleRead runs read-only operations only');
    // A pool that runs statements at once would run the context statement as a transaction of
    // its own, whose settings the read would not see.
    if (this.#opened || this.#finished || transactionBlock || !holdsStatements(this.db)) {
      return this.#soleReadInTransaction(text, parameters);
    }
    this.#finished = true;
    this.#span = traceTransaction(true);
    const started = performance.now();
    const { fairShare } = this.scope;
    let release: (() => void) | undefined;
    // Refused a turn or a connection, the operation ran no transaction (as in #begin).
    let connected = false;
    try {
      const turn = await this.#takeTurn(fairShare);
      release = turn.release;
      const [context, read] = await turn.database.connection().execute(async (connection) => {
        connected = true;
        const contextSent = await this.#contextStatement(
          sql`, set_config('transaction_read_only', 'on', true)`,
        ).execute(connection);
        const readSent = await connection.executeQuery<R>(
          CompiledQuery.raw(`${HOLD}${text}`, [...parameters]),
        );
        const contextHeld = heldResult(contextSent.rows);
        const readHeld = heldResult(readSent.rows);
        if (!contextHeld || !readHeld)
          throw new Error('The pool did not hold the statements back.');
        readHeld.flush();
        return Promise.all([
          contextHeld.result as Promise<{ rows: ContextRow[] }>,
          readHeld.result as Promise<{ rows: R[] }>,
        ]);
      });
      this.stats.queries += 2;
      this.stats.outcome = 'committed';
      const { tenantError } = this.#decide(context.rows[0]);
      if (tenantError) throw tenantError;
      return read.rows;
    } catch (error) {
      if (connected && this.stats.outcome === 'none') this.stats.outcome = 'rolled back';
      throw toAppError(error) ?? error;
    } finally {
      release?.();
      this.stats.dbTimeMs += performance.now() - started;
      this.#span?.end(this.stats);
      this.#settle();
    }
  }

  /** soleRead inside the operation's transaction: its COMMIT takes BEGIN and the rest along. */
  async #soleReadInTransaction<R>(
    text: string,
    parameters: readonly (string | null)[],
  ): Promise<R[]> {
    const opened = await this.#open();
    const sent = await opened.trx.executeQuery<R>(
      CompiledQuery.raw(`${HOLD}${text}`, [...parameters]),
    );
    // Another pool than ours (createKysely) runs a held statement at once.
    const held = heldResult(sent.rows) ?? { result: Promise.resolve(sent), flush: () => undefined };
    const result = held.result as Promise<{ rows: R[] }>;
    result.catch(() => undefined);
    // Its COMMIT takes BEGIN, the context statement and this one along.
    await this.finish(true);
    const { rows } = await result.catch((error: unknown) => {
      throw toAppError(error) ?? error;
    });
    // Its round trip is timed with the COMMIT (finish).
    this.stats.queries += 1;
    const { tenantError } = await opened.verdict;
    if (tenantError) throw tenantError;
    return rows;
  }

  /** Commits when the operation succeeded, rolls back otherwise. Idempotent; always releases. */
  async finish(succeeded: boolean): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    const started = performance.now();
    try {
      await this.#end(succeeded);
    } finally {
      this.#release?.();
      if (this.#opened) this.stats.dbTimeMs += performance.now() - started;
      this.#span?.end(this.stats);
      this.#settle();
    }
  }

  async #end(succeeded: boolean): Promise<void> {
    if (!this.#opened) return;
    let opened: Opened;
    try {
      opened = await this.#opened;
    } catch {
      return; // begin failed: there is nothing to end
    }
    if (succeeded || this.#persistOnFailure) {
      try {
        await opened.trx.commit().execute();
        this.stats.outcome = 'committed';
      } catch (error) {
        this.stats.outcome = 'rolled back';
        // NOTE: kysely releases the connection only after a successful COMMIT; one that failed
        // (the server went away) would stay checked out for good. A rollback releases it.
        await opened.trx
          .rollback()
          .execute()
          .catch(() => undefined);
        throw toAppError(error) ?? error;
      }
    } else {
      this.stats.outcome = 'rolled back';
      // A rollback can only fail when the connection is already gone, and then the server has
      // rolled the transaction back itself; kysely releases the connection either way. The
      // operation already reports why it failed, so this adds no second, masked error.
      await opened.trx
        .rollback()
        .execute()
        .catch(() => undefined);
    }
  }

  #open(): Promise<Opened> {
    if (this.#finished) {
      return Promise.reject(
        new Error('The operation already finished; its transaction is closed.'),
      );
    }
    this.#opened ??= this.#begin();
    return this.#opened;
  }

  /**
   * Waits for the operation's turn at the pool. An operation over its tenant's share runs on
   * connections at the lower CPU priority of that (see BackendPriority).
   */
  async #takeTurn(
    fairShare: OperationScope['fairShare'],
  ): Promise<{ database: Kysely<Database>; release: (() => void) | undefined }> {
    if (!fairShare) return { database: this.db, release: undefined };
    const key = fairShare.key();
    const overShare = fairShare.gate.overShare(key);
    const release = await fairShare.gate.acquire(key);
    return { database: overShare ? overShareDatabase(this.db) : this.db, release };
  }

  async #begin(): Promise<Opened> {
    this.#span = traceTransaction(this.#readOnly);
    let trx: ControlledTransaction<Database>;
    const started = performance.now();
    const { fairShare } = this.scope;
    let release: (() => void) | undefined;
    try {
      const turn = await this.#takeTurn(fairShare);
      release = turn.release;
      const builder = turn.database.startTransaction();
      trx = (
        await (this.#readOnly ? builder.setAccessMode('read only') : builder).execute()
      ).withPlugin(new QueryTimer(this.stats));
      this.#release = release;
    } catch (error) {
      release?.();
      throw toAppError(error) ?? error;
    } finally {
      // Acquiring the connection and BEGIN happen outside the query timer.
      this.stats.dbTimeMs += performance.now() - started;
    }
    const context = this.#contextStatement(sql``)
      .execute(trx)
      .catch(async (error: unknown) => {
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
        throw toAppError(error) ?? error;
      });
    const { rows } = await context;
    const held = heldResult(rows) ?? { result: context, flush: () => undefined };
    const verdict = held.result.then(
      ({ rows }) => this.#decide(rows[0] as ContextRow | undefined),
      (error: unknown) => {
        // Every later field of this operation gets this same coded error (SERVICE_UNAVAILABLE
        // during an outage), not a generic "already finished".
        throw toAppError(error) ?? error;
      },
    );
    // Read-only operations may never ask for the verdict; its failure reaches them through
    // their own statements, which travelled in the same batch.
    verdict.catch(() => undefined);
    return { trx, gated: trx.withPlugin(new TenantGate(verdict)), verdict, flush: held.flush };
  }

  /**
   * The context statement: app.set_operation_context (or, for an API key,
   * app.set_api_key_context) verifies the membership and sets the operation's user, tenant and
   * role transaction-locally, with the operation's timeouts and `extra` settings. Marked HOLD:
   * our pool (createKysely) sends it with the operation's next statement, like BEGIN; another
   * pool runs it at once.
   */
  #contextStatement(extra: RawBuilder<unknown>): RawBuilder<ContextRow> {
    const { userId, tenant, allowlist, statementTimeoutMs, idleInTransactionTimeoutMs } =
      this.scope;
    const issuedAt =
      this.scope.tokenIssuedAtMs === undefined
        ? null
        : new Date(this.scope.tokenIssuedAtMs).toISOString();
    const statementTimeout = statementTimeoutMs
      ? sql`, set_config('statement_timeout', ${String(statementTimeoutMs)}, true)`
      : sql``;
    const idleTimeout = idleInTransactionTimeoutMs
      ? sql`, set_config('idle_in_transaction_session_timeout', ${String(idleInTransactionTimeoutMs)}, true)`
      : sql``;
    // A tenant this API does not serve is no longer current once this statement ends, so no
    // statement sent along with it (a read, see TenantGate) can see its rows: RLS keeps it out.
    const served = allowlist?.join(',') ?? null;
    const outsideAllowlist = allowlist
      ? sql`, case when c.tenant_id is not null
                    and not (c.tenant_id::text = any(string_to_array(${served}::text, ','))
                             or c.tenant_slug = any(string_to_array(${served}::text, ',')))
               then app.set_context_value('app.tenant_id', '') || app.set_context_value('app.role', '')
               end as outside_allowlist`
      : sql``;
    const settings = sql`${statementTimeout}${idleTimeout}${outsideAllowlist}${extra}`;
    // NOTE: held statements take text parameters only (see asText in pool.ts): the key's hash
    // goes as bytea's hex text form. An API key's context statement is held the same way, so a
    // key costs no extra round trip either.
    return this.scope.apiKey
      ? sql<ContextRow>`${sql.raw(HOLD)}select c.tenant_id, c.tenant_slug,
             c.member_role, c.tenant_status, c.session_revoked, c.user_id, c.api_key_id,
             c.tenant_refused${settings}
        from app.set_api_key_context(${`\\x${this.scope.apiKey.hash.toString('hex')}`}::bytea, ${tenant?.id ?? null}::uuid,
                                     ${tenant?.slug ?? null}::text) c`
      : sql<ContextRow>`${sql.raw(HOLD)}select c.tenant_id, c.tenant_slug,
             c.member_role, c.tenant_status, c.session_revoked${settings}
        from app.set_operation_context(${userId ?? null}::uuid, ${tenant?.id ?? null}::uuid,
                                       ${tenant?.slug ?? null}::text, ${issuedAt}::timestamptz,
                                       ${this.scope.sessionId ?? null}::uuid) c`;
  }

  #decide(row: ContextRow | undefined): Verdict {
    const { tenant, apiKey } = this.scope;
    if (apiKey) return this.#decideApiKey(row, apiKey);
    const { userId } = this.scope;
    if (row?.session_revoked) {
      // The statement left no user set, so nothing sent along with it saw the user's rows.
      return {
        tenant: undefined,
        tenantError: new UnauthenticatedError(
          'This token was signed out (logout, a password change or reset, or sign-out ' +
            'everywhere). Sign in again.',
        ),
      };
    }
    if (!tenant || !userId) return { tenant: undefined, tenantError: undefined };
    if (!row?.member_role || !row.tenant_id) {
      // Not a member, or no such tenant: the same answer, so tenants cannot be probed.
      return {
        tenant: undefined,
        tenantError: new ForbiddenError('You are not a member of this tenant.'),
      };
    }
    const refused = this.#refusedTenant(row);
    if (refused) return refused;
    this.stats.tenantId = row.tenant_id;
    return {
      tenant: { tenantId: row.tenant_id, userId, role: row.member_role },
      tenantError: undefined,
    };
  }

  /** Outside the allowlist or suspended: the context statement made no tenant current. */
  #refusedTenant(row: ContextRow): Verdict | undefined {
    const { allowlist } = this.scope;
    if (allowlist && !allowlist.some((e) => e === row.tenant_id || e === row.tenant_slug)) {
      // The context statement itself made no tenant current (see #begin).
      return {
        tenant: undefined,
        tenantError: new TenantNotAllowedError('This API does not serve that tenant.'),
      };
    }
    if (row.tenant_status !== 'active') {
      return { tenant: undefined, tenantError: new TenantSuspendedError() };
    }
    return undefined;
  }

  #decideApiKey(row: ContextRow | undefined, apiKey: ApiKeyScope): Verdict {
    if (!row || row.session_revoked) {
      // Unknown, revoked and expired keys get one answer, so keys cannot be probed.
      return {
        tenant: undefined,
        tenantError: new UnauthenticatedError(
          'This API key is unknown, revoked or expired, or its creator left the tenant. ' +
            'Ask a tenant owner or admin for a new key.',
        ),
      };
    }
    if (row.tenant_refused) {
      return {
        tenant: undefined,
        tenantError: new ForbiddenError(
          "This API key belongs to another tenant. Leave out the tenant header (the key's own " +
            'tenant is used), or use a key of the tenant you named.',
        ),
      };
    }
    if (!row.tenant_id || !row.user_id || !row.member_role || !row.api_key_id) {
      throw new Error('app.set_api_key_context accepted a key without naming its tenant');
    }
    const refused = this.#refusedTenant(row);
    if (refused) return refused;
    this.stats.tenantId = row.tenant_id;
    apiKey.used?.(row.tenant_id, row.api_key_id);
    return {
      tenant: {
        tenantId: row.tenant_id,
        userId: row.user_id,
        role: row.member_role,
        apiKeyId: row.api_key_id,
      },
      tenantError: undefined,
    };
  }
}

interface ContextRow {
  tenant_id: string | null;
  tenant_slug: string | null;
  member_role: MembershipRoleValue | null;
  tenant_status: string | null;
  session_revoked: boolean | null;
  /** API keys only (app.set_api_key_context). */
  user_id?: string | null;
  api_key_id?: string | null;
  tenant_refused?: boolean | null;
}
