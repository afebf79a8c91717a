/** A signed-in session as the API hands it out (login, signUp, refreshToken). */
export interface TokenPair {
  token: string;
  refreshToken: string;
}

interface TokenTimes {
  /** `iat` and `exp`, in ms since the epoch. */
  issuedAt: number | undefined;
  expiresAt: number;
}

/**
 * When an access token was issued and expires; undefined for anything that is not a JWT with an
 * exp, such as an API key. Read without verifying: the client only uses it to refresh in time,
 * the server decides what the token is worth.
 */
function tokenTimes(token: string): TokenTimes | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(base64)) as { exp?: unknown; iat?: unknown };
    if (typeof claims.exp !== 'number') return undefined;
    return {
      issuedAt: typeof claims.iat === 'number' ? claims.iat * 1000 : undefined,
      expiresAt: claims.exp * 1000,
    };
  } catch {
    return undefined;
  }
}

/** When an access token expires (its `exp`, in ms since the epoch); undefined if unknown. */
export function tokenExpiry(token: string): number | undefined {
  return tokenTimes(token)?.expiresAt;
}

/**
 * The tokens of one sign-in, shared by every client made from it with `with()`. A refresh token
 * works once (presenting it again signs out every session of that sign-in), so every refresh goes
 * through here: concurrent callers wait for the same one.
 */
export class Credentials {
  #refreshing: Promise<string> | undefined;

  constructor(
    public token: string | undefined,
    public refreshToken: string | undefined,
    private readonly options: {
      /** Exchanges a refresh token for the next pair (the refreshToken mutation). */
      exchange: (refreshToken: string) => Promise<TokenPair>;
      onTokens?: (tokens: TokenPair) => void;
      /** How long before its expiry an access token is replaced. */
      marginMs: number;
    },
  ) {}

  get canRefresh(): boolean {
    return this.token !== undefined && this.refreshToken !== undefined;
  }

  /**
   * When `token` should be replaced: the margin before its expiry, but no earlier than half its
   * lifetime (a server issuing short-lived tokens must not get a refresh per request).
   * Undefined when it cannot or need not be replaced.
   */
  refreshAt(token: string | undefined = this.token): number | undefined {
    const times = token && this.canRefresh ? tokenTimes(token) : undefined;
    if (!times) return undefined;
    const { issuedAt, expiresAt } = times;
    const half = issuedAt === undefined ? Infinity : (expiresAt - issuedAt) / 2;
    return expiresAt - Math.min(this.options.marginMs, half);
  }

  /** The access token to send now: refreshed first when it is about to expire. */
  async current(): Promise<string | undefined> {
    const due = this.refreshAt();
    if (this.token && due !== undefined && Date.now() >= due) return this.refresh(this.token);
    return this.token;
  }

  /**
   * A token newer than `stale`. The first caller exchanges the refresh token; callers meanwhile
   * share its answer, and a caller whose token was already replaced gets the new one at once.
   */
  refresh(stale: string): Promise<string> {
    if (this.token && this.token !== stale) return Promise.resolve(this.token);
    this.#refreshing ??= (async () => {
      const refreshToken = this.refreshToken;
      if (!refreshToken) throw new Error('no refresh token to refresh with');
      const next = await this.options.exchange(refreshToken);
      this.token = next.token;
      this.refreshToken = next.refreshToken;
      this.options.onTokens?.(next);
      return next.token;
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }
}
