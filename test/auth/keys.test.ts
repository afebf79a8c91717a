import { randomUUID } from 'node:crypto';
import os from 'node:os';
import {
  SignJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTokenKeys, TokenService } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { codeOf, signUpAccount, TEST_JWT_SECRET } from '../support/accounts.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

async function keyPair(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    privatePem: await exportPKCS8(privateKey),
    publicPem: await exportSPKI(publicKey),
    thumbprint: await calculateJwkThumbprint(await exportJWK(publicKey)),
  };
}

type KeyPair = Awaited<ReturnType<typeof keyPair>>;

function keyEnv(pair: KeyPair, alg = 'ES256'): Record<string, string> {
  return { JWT_PRIVATE_KEY: pair.privatePem, JWT_PUBLIC_KEY: pair.publicPem, JWT_ALGORITHM: alg };
}

function jwksUrl(api: TestApp): string {
  return new URL('/.well-known/jwks.json', api.url).toString();
}

async function fetchJwks(api: TestApp): Promise<{ status: number; body: JSONWebKeySet }> {
  const response = await fetch(jwksUrl(api));
  return { status: response.status, body: (await response.json()) as JSONWebKeySet };
}

const ME = '{ me { id } }';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('tenantql signing keys over HTTP', () => {
  afterEach(() => vi.useRealTimers());

  it('tokens carry kid, and /.well-known/jwks.json publishes the public key of a key pair', async () => {
    const pair = await keyPair();
    const api = await startTestApp(db, keyEnv(pair));
    try {
      const account = await signUpAccount(api, 'keys');
      expect(decodeProtectedHeader(account.token)).toMatchObject({
        alg: 'ES256',
        kid: pair.thumbprint,
      });
      expect(decodeProtectedHeader(account.refreshToken).kid).toBe(pair.thumbprint);
      const { status, body } = await fetchJwks(api);
      expect(status).toBe(200);
      expect(body.keys).toHaveLength(1);
      expect(body.keys[0]).toMatchObject({ kid: pair.thumbprint, alg: 'ES256', use: 'sig' });
      expect(body.keys[0]).not.toHaveProperty('d');
      // Another service can verify tenantql's tokens with the published set alone.
      await expect(
        jwtVerify(account.token, createLocalJWKSet(body), { issuer: 'tenantql' }),
      ).resolves.toBeDefined();
    } finally {
      await api.close();
    }
  });

  it('publishes nothing (404) with an HS256 secret, whose tokens still carry a kid', async () => {
    const api = await startTestApp(db);
    try {
      const account = await signUpAccount(api, 'hs');
      expect(decodeProtectedHeader(account.token).kid).toMatch(/^hs256-/);
      const response = await fetch(jwksUrl(api));
      expect(response.status).toBe(404);
      const body = (await response.json()) as { errors: unknown[]; keys?: unknown };
      expect(body.keys).toBeUndefined();
      expect(codeOf(body as { errors: { extensions?: Record<string, unknown> }[] })).toBe(
        'NOT_FOUND',
      );
      expect(JSON.stringify(body)).not.toContain(TEST_JWT_SECRET);
    } finally {
      await api.close();
    }
  });

  it('after a rotation, tokens of the previous key work during the overlap and are refused after it', async () => {
    const before = await keyPair();
    const after = await keyPair();
    const old = await startTestApp(db, keyEnv(before));
    const account = await signUpAccount(old, 'rotate');
    await old.close();

    const validUntil = new Date(Date.now() + 10 * 60 * 1000);
    const api = await startTestApp(db, {
      ...keyEnv(after),
      JWT_PREVIOUS_PUBLIC_KEY: before.publicPem,
      JWT_PREVIOUS_KEY_VALID_UNTIL: validUntil.toISOString(),
    });
    try {
      const during = await api.request<{ me: { id: string } }>(ME, {}, { token: account.token });
      expect(during.data?.me.id).toBe(account.id);
      const refreshed = await api.request<{ refreshToken: { token: string } }>(
        'mutation ($token: String!) { refreshToken(token: $token) { token } }',
        { token: account.refreshToken },
      );
      // Refreshing during the overlap moves the session onto the new key.
      expect(decodeProtectedHeader(refreshed.data!.refreshToken.token).kid).toBe(after.thumbprint);
      expect((await fetchJwks(api)).body.keys.map((k) => k.kid)).toEqual([
        after.thumbprint,
        before.thumbprint,
      ]);

      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(validUntil.getTime() + 1000);
      const afterwards = await api.request(ME, {}, { token: account.token });
      expect(codeOf(afterwards)).toBe('UNAUTHENTICATED');
      expect(afterwards.errors?.[0]?.message).toMatch(/retired/);
      expect((await fetchJwks(api)).body.keys.map((k) => k.kid)).toEqual([after.thumbprint]);
    } finally {
      vi.useRealTimers();
      await api.close();
    }
  });
});

describe('tenantql signing keys in TokenService', () => {
  async function service(env: Record<string, string>) {
    const config = loadConfig(env);
    return new TokenService(await loadTokenKeys(config.auth, os.tmpdir()), config.auth);
  }

  it('uses JWT_KEY_ID when given, and still accepts a token from before tokens carried kid', async () => {
    const pair = await keyPair();
    const tokens = await service({ ...keyEnv(pair), JWT_KEY_ID: 'key-2030-01' });
    const userId = randomUUID();
    expect(decodeProtectedHeader(await tokens.signAccess(userId, undefined)).kid).toBe(
      'key-2030-01',
    );
    const legacy = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuer('tenantql')
      .setAudience('tenantql-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importPKCS8(pair.privatePem, 'ES256'));
    await expect(tokens.verifyAccess(legacy)).resolves.toMatchObject({ userId });
  });

  it('refuses a token naming an unknown kid, even one signed with the current key', async () => {
    const pair = await keyPair();
    const tokens = await service(keyEnv(pair));
    const token = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'ES256', kid: 'some-other-key' })
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuer('tenantql')
      .setAudience('tenantql-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importPKCS8(pair.privatePem, 'ES256'));
    await expect(tokens.verifyAccess(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('reports key mistakes as one-line configuration errors', async () => {
    const pair = await keyPair();
    const other = await keyPair();
    await expect(service({ ...keyEnv(pair), JWT_PUBLIC_KEY: 'not a key' })).rejects.toThrow(
      /^JWT_PUBLIC_KEY must be an SPKI PEM public key/,
    );
    await expect(
      service({
        JWT_SECRET: TEST_JWT_SECRET,
        JWT_PREVIOUS_PUBLIC_KEY: other.publicPem,
        JWT_PREVIOUS_KEY_VALID_UNTIL: '2030-01-01T00:00:00Z',
      }),
    ).rejects.toThrow(/needs a key pair/);
    await expect(
      service({
        ...keyEnv(pair),
        JWT_PREVIOUS_PUBLIC_KEY: pair.publicPem,
        JWT_PREVIOUS_KEY_VALID_UNTIL: '2030-01-01T00:00:00Z',
      }),
    ).rejects.toThrow(/same key id/);
    expect(() => loadConfig({ ...keyEnv(pair), JWT_PREVIOUS_PUBLIC_KEY: other.publicPem })).toThrow(
      /JWT_PREVIOUS_KEY_VALID_UNTIL must be an ISO 8601 time/,
    );
    expect(() =>
      loadConfig({
        ...keyEnv(pair),
        JWT_PREVIOUS_PUBLIC_KEY: other.publicPem,
        JWT_PREVIOUS_KEY_VALID_UNTIL: 'next tuesday',
      }),
    ).toThrow(/JWT_PREVIOUS_KEY_VALID_UNTIL must be an ISO 8601 time/);
  });
});
