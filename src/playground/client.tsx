/// <reference lib="dom" />
// The browser side of the playground. Bundled by esbuild at run time (see bundle.ts), never by tsc.
import './workers.js';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import '@graphiql/plugin-explorer/style.css';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import {
  Kind,
  OperationTypeNode,
  getOperationAST,
  parse,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import {
  useCallback,
  useEffect,
  useRef,
  useState,
  type ComponentProps,
  type FormEvent,
} from 'react';
import { createRoot } from 'react-dom/client';
import { Credentials, type TokenPair } from '../client/credentials.js';
import { EXAMPLE_TABS } from './examples.js';

interface PlaygroundSettings {
  endpoint: string;
  tenantHeader: string;
}

interface TenantOption {
  id: string;
  slug: string;
  name: string;
  myRole: string;
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A sign-in: its tokens live in `credentials`, which refreshes them (src/client). */
interface Auth {
  credentials: Credentials;
  email: string;
  tenants: TenantOption[];
  tenantId: string | undefined;
  /** The access token as last shown; the bar re-renders when a refresh replaces it. */
  token: string;
}

/** What survives a reload of the tab (sessionStorage: gone with the tab, never shared). */
interface StoredAuth extends TokenPair {
  email: string;
  tenants: TenantOption[];
  tenantId: string | undefined;
}

// Settings travel as inert JSON so the page needs no inline script (the CSP forbids it).
const SETTINGS = JSON.parse(
  document.getElementById('tenantql-settings')?.textContent ?? '{}',
) as PlaygroundSettings;

type Fetcher = ComponentProps<typeof GraphiQL>['fetcher'];

interface Answer<T> {
  status: number;
  /** The 401 said the token sent was refused (expired, signed out), not that none was sent. */
  tokenRefused: boolean;
  body: GraphQLResponse<T>;
}

async function post<T>(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  operationName?: string | null,
): Promise<Answer<T>> {
  const response = await fetch(SETTINGS.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables, operationName }),
  });
  const text = await response.text();
  let body: GraphQLResponse<T>;
  try {
    body = JSON.parse(text) as GraphQLResponse<T>;
  } catch {
    // A proxy's error page, say: shown in the result pane as an error rather than a parse failure.
    body = {
      errors: [
        {
          message: `HTTP ${response.status}, not a GraphQL response: ${text.slice(0, 200)}`,
          extensions: { code: 'UNEXPECTED_RESPONSE' },
        },
      ],
    };
  }
  return {
    status: response.status,
    tokenRefused:
      response.status === 401 &&
      /invalid_token/.test(response.headers.get('www-authenticate') ?? ''),
    body,
  };
}

function editorHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) result[key] = String(value);
  return result;
}

function firstError(result: GraphQLResponse<unknown>): string | undefined {
  const error = result.errors?.[0];
  return error ? `${error.extensions?.code ?? 'ERROR'}: ${error.message}` : undefined;
}

const AUTH_FIELDS = 'token refreshToken user { email }';
const LOGIN = `mutation PlaygroundLogin($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
const REFRESH = `mutation PlaygroundRefresh($token: String!) { refreshToken(token: $token) { ${AUTH_FIELDS} } }`;
const LOGOUT = `mutation PlaygroundLogout($refreshToken: String!) { logout(refreshToken: $refreshToken) }`;
const MY_TENANTS = `query PlaygroundTenants { myTenants { id slug name myRole } }`;
const STORAGE_KEY = 'tenantql-playground-session';
/** Refresh a minute before expiry (or at half the lifetime of shorter tokens, see Credentials). */
const REFRESH_MARGIN_MS = 60_000;

/** A refresh the API refused: the sign-in is over (revoked, expired, or its token used twice). */
class SessionEndedError extends Error {}

async function exchange(refreshToken: string): Promise<TokenPair> {
  const answer = await post<{ refreshToken: TokenPair }>(REFRESH, { token: refreshToken }, {});
  const pair = answer.body.data?.refreshToken;
  if (!pair) throw new SessionEndedError(firstError(answer.body) ?? 'the refresh was refused');
  return pair;
}

function headersFor(auth: Auth | undefined, token: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (auth?.tenantId) headers[SETTINGS.tenantHeader] = auth.tenantId;
  return headers;
}

function save(auth: Auth | undefined): void {
  const { token, refreshToken } = auth?.credentials ?? {};
  if (!auth || !token || !refreshToken) {
    sessionStorage.removeItem(STORAGE_KEY);
    return;
  }
  const stored: StoredAuth = {
    token,
    refreshToken,
    email: auth.email,
    tenants: auth.tenants,
    tenantId: auth.tenantId,
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
}

function restore(onTokens: (tokens: TokenPair) => void): Auth | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as StoredAuth | null;
    if (!stored?.token || !stored.refreshToken) return undefined;
    return {
      credentials: newCredentials(stored, onTokens),
      email: stored.email,
      tenants: stored.tenants ?? [],
      tenantId: stored.tenantId,
      token: stored.token,
    };
  } catch {
    return undefined;
  }
}

function newCredentials(pair: TokenPair, onTokens: (tokens: TokenPair) => void): Credentials {
  return new Credentials(pair.token, pair.refreshToken, {
    exchange,
    onTokens,
    marginMs: REFRESH_MARGIN_MS,
  });
}

// Subscriptions go over a WebSocket, signed in through connectionParams (headers cannot be set
// on one). One connection per sign-in and tenant; a refresh reconnects it with the new token
// (the server checks the token at every event), and graphql-ws subscribes again on it.
let live:
  | { credentials: Credentials | undefined; tenantId: string | undefined; client: Client }
  | undefined;

function isRenewal(event: unknown): boolean {
  // graphql-ws' TerminatedCloseEvent, which only renewLive() causes here.
  return typeof event === 'object' && event !== null && (event as { code?: number }).code === 4499;
}

function liveClient(auth: Auth | undefined): Client {
  if (!live || live.credentials !== auth?.credentials || live.tenantId !== auth?.tenantId) {
    void live?.client.dispose();
    const url = new URL(SETTINGS.endpoint, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const client = createClient({
      url: url.href,
      connectionParams: async () => headersFor(auth, await auth?.credentials.current()),
      // Any other close (a refused token, the server going away) shows in the result pane.
      retryAttempts: 3,
      shouldRetry: isRenewal,
      retryWait: () => Promise.resolve(),
    });
    live = { credentials: auth?.credentials, tenantId: auth?.tenantId, client };
  }
  return live.client;
}

function renewLive(credentials: Credentials): void {
  if (live?.credentials === credentials) live.client.terminate();
}

/**
 * The subscription to run, if the request is one. NOTE: parsed here, and a stale operation name
 * ignored for a one-operation document, because GraphiQL's documentAST and operationName can lag
 * behind the editor right after a tab switch: the subscription would go over HTTP (seen in the
 * browser test under load).
 */
function subscriptionOf(
  query: string,
  operationName: string | null | undefined,
): { operationName: string | null } | undefined {
  try {
    const document = parse(query);
    const operations = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    const operation =
      getOperationAST(document, operationName ?? undefined) ??
      (operations.length === 1 ? operations[0] : undefined);
    return operation?.operation === OperationTypeNode.SUBSCRIPTION
      ? { operationName: operation.name?.value ?? null }
      : undefined;
  } catch {
    return undefined;
  }
}

function SignInPanel(props: {
  auth: Auth | undefined;
  notice: string | undefined;
  onSignIn: (auth: Omit<Auth, 'credentials' | 'token'> & TokenPair) => void;
  onTenant: (tenantId: string | undefined) => void;
  onSignOut: () => void;
}) {
  const { auth, onSignIn, onTenant, onSignOut } = props;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [message, setMessage] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function signIn(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      const login = await post<{ login: TokenPair & { user: { email: string } } }>(
        LOGIN,
        { input: { email, password } },
        {},
      );
      const pair = login.body.data?.login;
      if (!pair) {
        setMessage(firstError(login.body) ?? 'Sign-in failed.');
        return;
      }
      const tenants = await post<{ myTenants: TenantOption[] }>(
        MY_TENANTS,
        {},
        { Authorization: `Bearer ${pair.token}` },
      );
      const list = tenants.body.data?.myTenants ?? [];
      setPassword('');
      onSignIn({
        token: pair.token,
        refreshToken: pair.refreshToken,
        email,
        tenants: list,
        tenantId: list[0]?.id,
      });
    } catch (error) {
      setMessage(`Could not reach the API: ${String(error)}`);
    } finally {
      setBusy(false);
    }
  }

  if (!auth) {
    return (
      <form className="tq-panel" onSubmit={(e) => void signIn(e)} aria-label="Sign in">
        <strong>tenantql</strong>
        <input
          name="email"
          type="email"
          placeholder="email"
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <input
          name="password"
          type="password"
          placeholder="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <span className="tq-message" role="status">
          {message ??
            props.notice ??
            'Sign in to send Authorization and tenant headers with every request.'}
        </span>
      </form>
    );
  }
  return (
    <div className="tq-panel">
      <strong>tenantql</strong>
      <span data-testid="signed-in">Signed in as {auth.email}</span>
      <label>
        Tenant{' '}
        <select
          name="tenant"
          value={auth.tenantId ?? ''}
          onChange={(e) => onTenant(e.target.value || undefined)}
        >
          <option value="">(none)</option>
          {auth.tenants.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.slug}, {t.myRole.toLowerCase()})
            </option>
          ))}
        </select>
      </label>
      <code className="tq-headers" data-testid="headers">
        Authorization: Bearer …{auth.token.slice(-6)}
        {auth.tenantId ? `  ${SETTINGS.tenantHeader}: ${auth.tenantId}` : ''}
      </code>
      <button type="button" onClick={onSignOut}>
        Sign out
      </button>
    </div>
  );
}

// Builds queries by ticking fields of the schema, in the sidebar.
const PLUGINS = [explorerPlugin()];

function Playground() {
  const [notice, setNotice] = useState<string | undefined>();
  // A refresh replaces the tokens inside Credentials; the bar then shows the new one, and the
  // effect below stores it for a reload.
  const onTokens = useRef((tokens: TokenPair) => {
    setAuth((current) => current && { ...current, token: tokens.token });
  });
  const [auth, setAuth] = useState<Auth | undefined>(() => restore((t) => onTokens.current(t)));
  // The fetcher is created once (GraphiQL refetches the schema when it changes); it reads the
  // current sign-in through a ref.
  const authRef = useRef<Auth | undefined>(auth);
  authRef.current = auth;

  useEffect(() => save(auth), [auth]);

  const endSession = useCallback((reason: unknown) => {
    if (!(reason instanceof SessionEndedError)) return;
    setAuth(undefined);
    setNotice(`Signed out: ${reason.message}. Sign in again.`);
  }, []);

  // Refreshes ahead of expiry, so a run never meets an expired token (nor does the subscription
  // connection, which is renewed after each refresh).
  const credentials = auth?.credentials;
  const token = auth?.token;
  useEffect(() => {
    const due = credentials?.refreshAt();
    if (!credentials || !token || due === undefined) return undefined;
    const timer = setTimeout(
      () => {
        credentials.refresh(token).then(() => renewLive(credentials), endSession);
      },
      Math.max(0, due - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [credentials, token, endSession]);

  const signIn = useCallback((signedIn: Omit<Auth, 'credentials' | 'token'> & TokenPair) => {
    setNotice(undefined);
    setAuth({
      credentials: newCredentials(signedIn, (t) => onTokens.current(t)),
      email: signedIn.email,
      tenants: signedIn.tenants,
      tenantId: signedIn.tenantId,
      token: signedIn.token,
    });
  }, []);

  const signOut = useCallback(() => {
    const refreshToken = authRef.current?.credentials.refreshToken;
    setAuth(undefined);
    // Revokes the sign-in on the server too, not only in this tab.
    if (refreshToken) void post(LOGOUT, { refreshToken }, {}).catch(() => undefined);
  }, []);

  const fetcher = useCallback<Fetcher>(
    (params, opts) => {
      const subscription = subscriptionOf(params.query, params.operationName);
      if (subscription) {
        // GraphiQL only shows results as JSON, so graphql-ws's formatted results serve as they are.
        return liveClient(authRef.current).iterate({
          query: params.query,
          variables: (params.variables ?? {}) as Record<string, unknown>,
          operationName: subscription.operationName,
        }) as AsyncIterable<ExecutionResult>;
      }
      const send = (token: string | undefined) =>
        post<Record<string, unknown>>(
          params.query,
          (params.variables ?? {}) as Record<string, unknown>,
          {
            ...editorHeaders(opts?.headers),
            // The sign-in panel wins over the headers editor, so the chosen tenant is what is sent.
            ...headersFor(authRef.current, token),
          },
          params.operationName,
        );
      return (async () => {
        const signedIn = authRef.current;
        try {
          const sent = await signedIn?.credentials.current();
          let answer = await send(sent);
          // Refused as expired (the laptop slept past the refresh): refresh once and run again.
          if (answer.tokenRefused && signedIn && sent) {
            answer = await send(await signedIn.credentials.refresh(sent));
          }
          return answer.body as ExecutionResult;
        } catch (error) {
          endSession(error);
          throw error;
        }
      })();
    },
    [endSession],
  );
  return (
    <div className="tq-root">
      <SignInPanel
        auth={auth}
        notice={notice}
        onSignIn={signIn}
        onTenant={(tenantId) => setAuth((current) => current && { ...current, tenantId })}
        onSignOut={signOut}
      />
      <div className="tq-graphiql">
        <GraphiQL
          fetcher={fetcher}
          defaultTabs={EXAMPLE_TABS}
          shouldPersistHeaders={false}
          plugins={PLUGINS}
        />
      </div>
    </div>
  );
}

const root = document.getElementById('playground');
if (root) createRoot(root).render(<Playground />);
