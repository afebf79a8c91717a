import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SignJWT, errors, importPKCS8, importSPKI, jwtVerify, type CryptoKey } from 'jose';
import { ConfigError, type AuthConfig } from '../config.js';
import { UnauthenticatedError } from '../errors.js';
import { UUID } from '../formats.js';

export type TokenType = 'access' | 'refresh';

export interface AccessClaims {
  userId: string;
  /** Tenant chosen with switchTenant; headers may not contradict it. */
  tenantId: string | undefined;
  tokenId: string;
  /** From iat, which tenantql writes to the millisecond (see #sign). */
  issuedAtMs: number;
  /** The sign-in (refresh-token family) it came from; absent in tokens from before 0014. */
  sessionId: string | undefined;
}

export interface RefreshClaims {
  userId: string;
  tokenId: string;
  familyId: string;
  /** The tenant the session was bound to, carried over to the access tokens it refreshes into. */
  tenantId: string | undefined;
}

export interface TokenKeys {
  algorithm: string;
  signKey: CryptoKey | Uint8Array;
  verifyKey: CryptoKey | Uint8Array;
}

const MIN_SECRET_BYTES = 32;
/** Verified access tokens remembered per process (see TokenService#verifyAccess). */
const VERIFIED_TOKENS_KEPT = 10_000;

/**
 * Keys from configuration: an asymmetric pair (JWT_PRIVATE_KEY/JWT_PUBLIC_KEY, PEM), an HS256
 * JWT_SECRET, or else a secret generated once and kept in the data directory.
 */
export async function loadTokenKeys(config: AuthConfig, dataDir: string): Promise<TokenKeys> {
  if (config.jwtPrivateKey || config.jwtPublicKey) {
    if (!config.jwtPrivateKey || !config.jwtPublicKey) {
      throw new ConfigError('Set both JWT_PRIVATE_KEY and JWT_PUBLIC_KEY (PEM), or neither.');
    }
    if (config.jwtAlgorithm.startsWith('HS')) {
      throw new ConfigError(
        `JWT_ALGORITHM ${config.jwtAlgorithm} needs JWT_SECRET, not a key pair.`,
      );
    }
    return {
      algorithm: config.jwtAlgorithm,
      signKey: await importPKCS8(config.jwtPrivateKey, config.jwtAlgorithm),
      verifyKey: await importSPKI(config.jwtPublicKey, config.jwtAlgorithm),
    };
  }
  let secret = config.jwtSecret;
  if (!secret) {
    const file = path.join(dataDir, 'jwt-secret');
    if (!existsSync(file)) {
      await fs.mkdir(dataDir, { recursive: true });
      await fs
        .writeFile(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' })
        .catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
    }
    secret = (await fs.readFile(file, 'utf8')).trim();
  }
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes long.`);
  }
  return { algorithm: 'HS256', signKey: key, verifyKey: key };
}

/** Signs and verifies tenantql's access and refresh tokens with one pinned algorithm. */
export class TokenService {
  constructor(
    private readonly keys: TokenKeys,
    private readonly config: Pick<
      AuthConfig,
      'issuer' | 'audience' | 'accessTokenTtlSeconds' | 'refreshTokenTtlSeconds'
    >,
  ) {}

  get refreshTtlSeconds(): number {
    return this.config.refreshTokenTtlSeconds;
  }

  /** `sessionId`: the refresh-token family that signed the user in; its logout ends the token. */
  async signAccess(
    userId: string,
    tenantId: string | undefined,
    sessionId?: string,
  ): Promise<string> {
    return this.#sign('access', userId, this.config.accessTokenTtlSeconds, randomUUID(), {
      ...(sessionId ? { sid: sessionId } : {}),
      ...(tenantId ? { tid: tenantId } : {}),
    });
  }

  async signRefresh(
    userId: string,
    tokenId: string,
    familyId: string,
    tenantId?: string,
  ): Promise<string> {
    return this.#sign('refresh', userId, this.config.refreshTokenTtlSeconds, tokenId, {
      fam: familyId,
      ...(tenantId ? { tid: tenantId } : {}),
    });
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    const known = this.#verifiedAccess.get(token);
    if (known && known.expiresAt > Math.floor(Date.now() / 1000)) return known.claims;
    const payload = await this.#verify(token, 'access');
    const { tid, sid } = payload;
    if (
      (tid !== undefined && (typeof tid !== 'string' || !UUID.test(tid))) ||
      (sid !== undefined && (typeof sid !== 'string' || !UUID.test(sid)))
    ) {
      throw new UnauthenticatedError('The token is invalid. Sign in again.');
    }
    const claims = {
      userId: payload.sub,
      tenantId: tid,
      tokenId: payload.jti,
      issuedAtMs: Math.round(payload.iat * 1000),
      sessionId: sid,
    };
    this.#remember(token, claims, payload.exp);
    return claims;
  }

  // Verifying a signature costs more than the rest of a small operation's API work; a client
  // sends the same access token with every request until it expires. Only tokens that passed
  // every check are kept, each no longer than its own exp, and a cached token is as good as the
  // same bytes verified again.
  readonly #verifiedAccess = new Map<string, { claims: AccessClaims; expiresAt: number }>();

  #remember(token: string, claims: AccessClaims, exp: number | undefined): void {
    if (exp === undefined) return;
    if (this.#verifiedAccess.size >= VERIFIED_TOKENS_KEPT) {
      // Maps iterate in insertion order: drop the oldest.
      const oldest = this.#verifiedAccess.keys().next();
      if (!oldest.done) this.#verifiedAccess.delete(oldest.value);
    }
    this.#verifiedAccess.set(token, { claims, expiresAt: exp });
  }

  async verifyRefresh(token: string): Promise<RefreshClaims> {
    const payload = await this.#verify(token, 'refresh');
    const tid = payload.tid;
    if (
      typeof payload.fam !== 'string' ||
      !UUID.test(payload.fam) ||
      (tid !== undefined && (typeof tid !== 'string' || !UUID.test(tid)))
    ) {
      throw new UnauthenticatedError('The refresh token is invalid. Sign in again.');
    }
    return { userId: payload.sub, tokenId: payload.jti, familyId: payload.fam, tenantId: tid };
  }

  #sign(
    type: TokenType,
    userId: string,
    ttlSeconds: number,
    tokenId: string,
    extra: Record<string, string>,
  ): Promise<string> {
    return (
      new SignJWT({ typ: type, ...extra })
        .setProtectedHeader({ alg: this.keys.algorithm })
        .setSubject(userId)
        .setIssuer(this.config.issuer)
        .setAudience(this.config.audience)
        // NOTE: a fractional iat (RFC 7519 NumericDate allows it): tokens_valid_after compares to
        // the millisecond, so a sign-in right after a password change is not refused as older.
        .setIssuedAt(Date.now() / 1000)
        .setExpirationTime(`${ttlSeconds}s`)
        .setJti(tokenId)
        .sign(this.keys.signKey)
    );
  }

  async #verify(token: string, type: TokenType) {
    try {
      const { payload } = await jwtVerify(token, this.keys.verifyKey, {
        algorithms: [this.keys.algorithm],
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      if (
        payload.typ !== type ||
        typeof payload.sub !== 'string' ||
        !UUID.test(payload.sub) ||
        typeof payload.jti !== 'string' ||
        !UUID.test(payload.jti)
      ) {
        throw new errors.JWTClaimValidationFailed('unexpected claims', payload);
      }
      return payload as typeof payload & { sub: string; jti: string; iat: number };
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        throw new UnauthenticatedError(
          type === 'access'
            ? 'The token has expired. Get a new one with refreshToken, or sign in again.'
            : 'The refresh token has expired. Sign in again.',
        );
      }
      if (error instanceof errors.JOSEError) {
        throw new UnauthenticatedError(
          type === 'access'
            ? 'The token is invalid. Sign in again.'
            : 'The refresh token is invalid. Sign in again.',
        );
      }
      throw error;
    }
  }
}
