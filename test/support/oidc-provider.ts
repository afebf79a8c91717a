import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

/** What the provider knows about a person; access tokens carry these claims. */
export interface TestAccount {
  email?: string;
  emailVerified?: boolean;
  name?: string;
}

export interface TokenOptions {
  /** The resource indicator, which becomes the token's aud; the provider's audience by default. */
  resource?: string;
  /** Ask for a token that lives one second. */
  shortLived?: boolean;
}

/**
 * A real OpenID Provider (oidc-provider) on 127.0.0.1 inside the test process. Access tokens are
 * obtained the way an application obtains them: the authorization code flow with PKCE through the
 * provider's own (development) login form, then the token endpoint. They are JWTs for the
 * resource indicator, signed with the provider's current key.
 */
export interface TestOidcProvider {
  issuer: string;
  /** The resource indicator tokens are issued for unless told otherwise (tenantql's audience). */
  audience: string;
  accounts: Map<string, TestAccount>;
  accessToken(subject: string, options?: TokenOptions): Promise<string>;
  /** The public JWK of the current signing key (what an attacker can read from jwks_uri). */
  publicJwk(): JWK;
  /** kid of the current signing key. */
  keyId(): string;
  /** How many times the JWKS was fetched since start. */
  jwksFetches(): number;
  /** A new signing key; the old one stays published next to it, as providers do when rotating. */
  rotateKey(): Promise<void>;
  close(): Promise<void>;
}

const CLIENT_ID = 'tenantql-test-app';
const CLIENT_SECRET = 'a-client-secret-for-tests-only-0123456789';
const REDIRECT_URI = 'http://127.0.0.1/callback';
const SHORT_LIVED_CLIENT_ID = 'tenantql-short-lived';

interface SigningKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

export async function startOidcProvider(
  options: { audience?: string } = {},
): Promise<TestOidcProvider> {
  const audience = options.audience ?? 'https://api.tenantql.test';
  const accounts = new Map<string, TestAccount>();
  let keys: SigningKey[] = [await newSigningKey()];
  let jwksFetches = 0;
  let provider: Provider | undefined;
  const server = http.createServer((req, res) => {
    if (req.url === '/jwks') jwksFetches += 1;
    if (!provider) {
      res.writeHead(503).end();
      return;
    }
    void provider.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const build = () => {
    const configuration: Configuration = {
      clients: [CLIENT_ID, SHORT_LIVED_CLIENT_ID].map((clientId) => ({
        client_id: clientId,
        client_secret: CLIENT_SECRET,
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      })),
      // The first key signs; the others are only published.
      jwks: { keys: keys.map((k) => k.privateJwk) },
      cookies: { keys: ['cookie-signing-key-for-tests-only'] },
      // Explicit, so the provider does not print a notice about each default.
      ttl: {
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
        IdToken: 300,
        AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
      },
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => {
          const account = accounts.get(id) ?? {};
          return {
            sub: id,
            ...(account.email !== undefined ? { email: account.email } : {}),
            ...(account.emailVerified !== undefined
              ? { email_verified: account.emailVerified }
              : {}),
            ...(account.name !== undefined ? { name: account.name } : {}),
          };
        },
      }),
      // A first-party application: the person is never asked to consent.
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const accountId = ctx.oidc.session?.accountId;
        const client = ctx.oidc.client;
        if (!accountId || !client) return undefined;
        const grant = new ctx.oidc.provider.Grant({ accountId, clientId: client.clientId });
        grant.addOIDCScope('openid email profile');
        const resource = ctx.oidc.params?.resource;
        grant.addResourceScope(typeof resource === 'string' ? resource : audience, 'api');
        await grant.save();
        return grant;
      },
      features: {
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource, client) => ({
            scope: 'api',
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: client.clientId === SHORT_LIVED_CLIENT_ID ? 1 : 300,
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      // Access tokens carry the person's email, as Keycloak's do (and Auth0's, namespaced).
      extraTokenClaims: (_ctx, token) => {
        if (!('accountId' in token) || !token.accountId) return undefined;
        const account = accounts.get(token.accountId) ?? {};
        return {
          email: account.email,
          email_verified: account.emailVerified,
          name: account.name,
        };
      },
    };
    const next = new Provider(issuer, configuration);
    // Its own errors (a refused login, say) would otherwise be printed by Koa.
    next.on('server_error', () => undefined);
    return next;
  };
  provider = build();

  return {
    issuer,
    audience,
    accounts,
    async accessToken(subject, tokenOptions = {}) {
      if (!provider) throw new Error('the provider is closed');
      return authorizationCodeFlow(issuer, subject, {
        clientId: tokenOptions.shortLived ? SHORT_LIVED_CLIENT_ID : CLIENT_ID,
        resource: tokenOptions.resource ?? audience,
      });
    },
    publicJwk: () => keys[0].publicJwk,
    keyId: () => keys[0].publicJwk.kid!,
    jwksFetches: () => jwksFetches,
    async rotateKey() {
      keys = [await newSigningKey(), ...keys];
      provider = build();
    },
    async close() {
      provider = undefined;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Follows one authorization code flow with PKCE, signing in through the development login form. */
async function authorizationCodeFlow(
  issuer: string,
  subject: string,
  options: { clientId: string; resource: string },
): Promise<string> {
  const cookies = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const response = await fetch(new URL(url, issuer), {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string> | undefined),
        cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
      },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
  const location = (response: Response) => {
    const to = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !to) {
      throw new Error(`expected a redirect, got ${response.status}`);
    }
    return to;
  };

  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL('/auth', issuer);
  authorize.search = new URLSearchParams({
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile api',
    resource: options.resource,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
  }).toString();
  // The provider asks the person to sign in ...
  const interaction = location(await send(authorize.toString()));
  // ... which the development form accepts for any login name (the subject) and password.
  const resume = location(
    await send(interaction, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ prompt: 'login', login: subject, password: 'x' }).toString(),
    }),
  );
  const callback = new URL(location(await send(resume)), issuer);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no authorization code: ${callback.search}`);
  const token = await send('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: options.clientId,
      client_secret: CLIENT_SECRET,
      resource: options.resource,
    }).toString(),
  });
  const body = (await token.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
  return body.access_token;
}
