/** A signed-in session as the API hands it out (login, signUp, refreshToken). */
export interface TokenPair {
  token: string;
  refreshToken: string;
}

/**
 * When an access token expires (its `exp`, in ms since the epoch); undefined for anything that is
 * not a JWT with an exp, such as an API key. Read without verifying: the client only uses it to
 * refresh in time, the server decides what the token is worth.
 */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(base64)) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
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

  /** When `token` should be replaced; undefined when it cannot or need not be. */
  refreshAt(token: string | undefined = this.token): number | undefined {
    const expiry = token && this.canRefresh ? tokenExpiry(token) : undefined;
    return expiry === undefined ? undefined : expiry - this.options.marginMs;
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
