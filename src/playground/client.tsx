/// <reference lib="dom" />
// The browser side of the playground. Bundled by esbuild at run time (see bundle.ts), never by tsc.
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import {
  Kind,
  OperationTypeNode,
  getOperationAST,
  parse,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { useCallback, useRef, useState, type ComponentProps, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
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

interface Auth {
  token: string;
  email: string;
  tenants: TenantOption[];
  tenantId: string | undefined;
}

// Settings travel as inert JSON so the page needs no inline script (the CSP forbids it).
const SETTINGS = JSON.parse(
  document.getElementById('tenantql-settings')?.textContent ?? '{}',
) as PlaygroundSettings;

type Fetcher = ComponentProps<typeof GraphiQL>['fetcher'];

async function post<T>(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  operationName?: string | null,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(SETTINGS.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables, operationName }),
  });
  return (await response.json()) as GraphQLResponse<T>;
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

const LOGIN = `mutation PlaygroundLogin($input: LoginInput!) {
  login(input: $input) { token user { email } }
}`;
const MY_TENANTS = `query PlaygroundTenants { myTenants { id slug name myRole } }`;

function authHeaders(auth: Auth | undefined): Record<string, string> {
  if (!auth) return {};
  const headers: Record<string, string> = { Authorization: `Bearer ${auth.token}` };
  if (auth.tenantId) headers[SETTINGS.tenantHeader] = auth.tenantId;
  return headers;
}

// Subscriptions go over a WebSocket, signed in through connectionParams (headers cannot be set
// on one); the connection is replaced whenever the sign-in or the tenant changes.
let live: { key: string; client: Client } | undefined;

function liveClient(auth: Auth | undefined): Client {
  const params = authHeaders(auth);
  const key = JSON.stringify(params);
  if (live?.key !== key) {
    void live?.client.dispose();
    const url = new URL(SETTINGS.endpoint, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    live = {
      key,
      client: createClient({ url: url.href, connectionParams: params, retryAttempts: 0 }),
    };
  }
  return live.client;
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
  onChange: (auth: Auth | undefined) => void;
}) {
  const { auth, onChange } = props;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [message, setMessage] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function signIn(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      const login = await post<{ login: { token: string; user: { email: string } } }>(
        LOGIN,
        { input: { email, password } },
        {},
      );
      const token = login.data?.login.token;
      if (!token) {
        setMessage(firstError(login) ?? 'Sign-in failed.');
        return;
      }
      const tenants = await post<{ myTenants: TenantOption[] }>(
        MY_TENANTS,
        {},
        {
          Authorization: `Bearer ${token}`,
        },
      );
      const list = tenants.data?.myTenants ?? [];
      setPassword('');
      onChange({ token, email, tenants: list, tenantId: list[0]?.id });
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
          {message ?? 'Sign in to send Authorization and tenant headers with every request.'}
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
          onChange={(e) => onChange({ ...auth, tenantId: e.target.value || undefined })}
        >
          <option value="">(none)</option>
          {auth.tenants.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.slug}, {t.myRole.toLowerCase()})
            </option>
          ))}
        </select>
      </label>
      <code className="tq-headers">
        Authorization: Bearer …{auth.token.slice(-6)}
        {auth.tenantId ? `  ${SETTINGS.tenantHeader}: ${auth.tenantId}` : ''}
      </code>
      <button type="button" onClick={() => onChange(undefined)}>
        Sign out
      </button>
    </div>
  );
}

function Playground() {
  const [auth, setAuth] = useState<Auth | undefined>();
  // The fetcher is created once (GraphiQL refetches the schema when it changes); it reads the
  // current sign-in through a ref.
  const authRef = useRef<Auth | undefined>(undefined);
  authRef.current = auth;
  const fetcher = useCallback<Fetcher>((params, opts) => {
    const subscription = subscriptionOf(params.query, params.operationName);
    if (subscription) {
      // GraphiQL only shows results as JSON, so graphql-ws's formatted results serve as they are.
      return liveClient(authRef.current).iterate({
        query: params.query,
        variables: (params.variables ?? {}) as Record<string, unknown>,
        operationName: subscription.operationName,
      }) as AsyncIterable<ExecutionResult>;
    }
    return post<Record<string, unknown>>(
      params.query,
      (params.variables ?? {}) as Record<string, unknown>,
      {
        ...editorHeaders(opts?.headers),
        // The sign-in panel wins over the headers editor, so the chosen tenant is what is sent.
        ...authHeaders(authRef.current),
      },
      params.operationName,
    ) as Promise<ExecutionResult>;
  }, []);
  return (
    <div className="tq-root">
      <SignInPanel auth={auth} onChange={setAuth} />
      <div className="tq-graphiql">
        <GraphiQL fetcher={fetcher} defaultTabs={EXAMPLE_TABS} shouldPersistHeaders={false} />
      </div>
    </div>
  );
}

const root = document.getElementById('playground');
if (root) createRoot(root).render(<Playground />);
