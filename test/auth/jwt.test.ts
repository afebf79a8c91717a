import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { exportPKCS8, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadTokenKeys, TokenService } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';

async function keyPairEnv(alg: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    JWT_PRIVATE_KEY: await exportPKCS8(privateKey),
    JWT_PUBLIC_KEY: await exportSPKI(publicKey),
    JWT_ALGORITHM: alg,
  };
}

async function service(env: Record<string, string>, dataDir = os.tmpdir()) {
  const config = loadConfig(env);
  return new TokenService(await loadTokenKeys(config.auth, dataDir), config.auth);
}

describe('token keys from configuration', () => {
  it.each(['ES256', 'EdDSA', 'RS256'])('signs and verifies with a %s key pair', async (alg) => {
    const tokens = await service(await keyPairEnv(alg));
    const userId = randomUUID();
    const tenantId = randomUUID();
    await expect(
      tokens.verifyAccess(await tokens.signAccess(userId, tenantId)),
    ).resolves.toMatchObject({
      userId,
      tenantId,
    });
  });

  it('refuses tokens of another key, and an HS256 token when a key pair is configured', async () => {
    const tokens = await service(await keyPairEnv('ES256'));
    const other = await service(await keyPairEnv('ES256'));
    const foreign = await other.signAccess(randomUUID(), undefined);
    await expect(tokens.verifyAccess(foreign)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const hs = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuer('tenantql')
      .setAudience('tenantql-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(48)));
    await expect(tokens.verifyAccess(hs)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('generates an HS256 secret once in the data directory and reuses it', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-jwt-'));
    try {
      const first = await service({}, dataDir);
      const token = await first.signAccess(randomUUID(), undefined);
      const second = await service({}, dataDir);
      await expect(second.verifyAccess(token)).resolves.toBeDefined();
      expect((await fs.stat(path.join(dataDir, 'jwt-secret'))).mode & 0o077).toBe(0);
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a short secret and half a key pair with a configuration error', async () => {
    await expect(service({ JWT_SECRET: 'short' })).rejects.toThrow(/at least 32 bytes/);
    const { JWT_PRIVATE_KEY } = await keyPairEnv('ES256');
    await expect(service({ JWT_PRIVATE_KEY })).rejects.toThrow(
      /both JWT_PRIVATE_KEY and JWT_PUBLIC_KEY/,
    );
  });
});

describe('verified access tokens kept in memory', () => {
  afterEach(() => vi.useRealTimers());

  it('still expire at their exp, and a refused token is never kept', async () => {
    const tokens = await service({
      JWT_SECRET: 'a-secret-long-enough-for-hs256-0123456789abcdef',
      JWT_ACCESS_TTL_SECONDS: '60',
    });
    vi.useFakeTimers({ toFake: ['Date'] });
    const token = await tokens.signAccess(randomUUID(), undefined);
    await expect(tokens.verifyAccess(token)).resolves.toBeDefined();
    await expect(tokens.verifyAccess(token)).resolves.toBeDefined(); // from memory
    vi.setSystemTime(Date.now() + 61_000);
    await expect(tokens.verifyAccess(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    const forged = `${token.slice(0, -4)}AAAA`;
    await expect(tokens.verifyAccess(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(tokens.verifyAccess(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
