import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  SignJWT,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  errors,
  exportJWK,
  importPKCS8,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWK,
} from 'jose';
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
  /** Sent as every token's kid. */
  keyId: string;
  signKey: CryptoKey | Uint8Array;
  verifyKey: CryptoKey | Uint8Array;
  /** The public key as published at /.well-known/jwks.json; none for an HS256 secret. */
  publicJwk: JWK | undefined;
  /** The key pair before the last rotation: verifies its tokens, signs nothing. */
  previous: PreviousKey | undefined;
}

export interface PreviousKey {
  algorithm: string;
  keyId: string;
  verifyKey: CryptoKey;
  publicJwk: JWK;
  /** Its tokens are refused from this time on, whatever their exp. */
  validUntil: Date;
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
    const current = await publicKey(config.jwtPublicKey, config.jwtAlgorithm, 'JWT_PUBLIC_KEY');
    const keyId = config.jwtKeyId ?? current.thumbprint;
    let signKey: CryptoKey;
    try {
      signKey = await importPKCS8(config.jwtPrivateKey, config.jwtAlgorithm);
    } catch {
      throw new ConfigError(
        `JWT_PRIVATE_KEY must be a PKCS#8 PEM private key for ${config.jwtAlgorithm}.`,
      );
    }
    return {
      algorithm: config.jwtAlgorithm,
      keyId,
      signKey,
      verifyKey: current.key,
      publicJwk: { ...current.jwk, kid: keyId, alg: config.jwtAlgorithm, use: 'sig' },
      previous: await loadPreviousKey(config, keyId),
    };
  }
  if (config.previousKey) {
    throw new ConfigError(
      'JWT_PREVIOUS_PUBLIC_KEY needs a key pair (JWT_PRIVATE_KEY/JWT_PUBLIC_KEY); an HS256 secret cannot be rotated with an overlap.',
    );
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
  return {
    algorithm: 'HS256',
    // A hash of the secret names it without revealing it (the secret is at least 32 bytes, and
    // every token's signature is already a keyed hash of it). The secret is never published.
    keyId:
      config.jwtKeyId ??
      `hs256-${createHash('sha256').update(key).digest('base64url').slice(0, 16)}`,
    signKey: key,
    verifyKey: key,
    publicJwk: undefined,
    previous: undefined,
  };
}

async function publicKey(pem: string, algorithm: string, variable: string) {
  let key: CryptoKey;
  try {
    // Extractable so it can be published; it is a public key.
    key = await importSPKI(pem, algorithm, { extractable: true });
  } catch {
    throw new ConfigError(`${variable} must be an SPKI PEM public key for ${algorithm}.`);
  }
  const jwk = await exportJWK(key);
  return { key, jwk, thumbprint: await calculateJwkThumbprint(jwk) };
}

async function loadPreviousKey(
  config: AuthConfig,
  currentKeyId: string,
): Promise<PreviousKey | undefined> {
  const previous = config.previousKey;
  if (!previous) return undefined;
  if (previous.algorithm.startsWith('HS')) {
    throw new ConfigError(
      'JWT_PREVIOUS_ALGORITHM must be an asymmetric algorithm (ES256, RS256 …).',
    );
  }
  const loaded = await publicKey(previous.publicKey, previous.algorithm, 'JWT_PREVIOUS_PUBLIC_KEY');
  const keyId = previous.keyId ?? loaded.thumbprint;
  if (keyId === currentKeyId) {
    throw new ConfigError(
      'JWT_PREVIOUS_PUBLIC_KEY has the same key id as the current key; it must be the key used before the rotation.',
    );
  }
  return {
    algorithm: previous.algorithm,
    keyId,
    verifyKey: loaded.key,
    publicJwk: { ...loaded.jwk, kid: keyId, alg: previous.algorithm, use: 'sig' },
    validUntil: previous.validUntil,
  };
}

/** A token names the previous key after its overlap ended. */
class RetiredKeyError extends Error {}

/**
 * Signs tenantql's access and refresh tokens with the current key (its kid in the header), and
 * verifies them with the key their kid names, each key's algorithm pinned.
 */
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

  /**
   * The public keys that verify tenantql's tokens now (the previous one only during its overlap),
   * as JWKs with kid; undefined with an HS256 secret, which has nothing to publish.
   */
  publicJwks(): JWK[] | undefined {
    if (!this.keys.publicJwk) return undefined;
    const previous = this.keys.previous;
    return previous && Date.now() < previous.validUntil.getTime()
      ? [this.keys.publicJwk, previous.publicJwk]
      : [this.keys.publicJwk];
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

  /** The claims of an access token verified earlier and not expired since, if any. */
  knownAccess(token: string): AccessClaims | undefined {
    const known = this.#verifiedAccess.get(token);
    return known && known.expiresAt > Math.floor(Date.now() / 1000) ? known.claims : undefined;
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    const known = this.knownAccess(token);
    if (known) return known;
    const { payload, keyValidUntil } = await this.#verify(token, 'access');
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
    // A token of the previous key is forgotten when the key retires, even before its exp.
    this.#remember(token, claims, Math.min(payload.exp, keyValidUntil));
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
    const { payload } = await this.#verify(token, 'refresh');
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
        .setProtectedHeader({ alg: this.keys.algorithm, kid: this.keys.keyId })
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

  /**
   * The key a token names with its kid: the current one, or the previous one during its overlap.
   * A token without kid was signed before tokens carried one, with the key that is current unless
   * it was rotated since; it is checked against the current key.
   */
  #keyFor(token: string): { key: CryptoKey | Uint8Array; algorithm: string; validUntil: number } {
    let kid: unknown;
    try {
      ({ kid } = decodeProtectedHeader(token));
    } catch {
      throw new errors.JWSInvalid('malformed protected header');
    }
    if (kid === undefined || kid === this.keys.keyId) {
      return {
        key: this.keys.verifyKey,
        algorithm: this.keys.algorithm,
        validUntil: Number.POSITIVE_INFINITY,
      };
    }
    const previous = this.keys.previous;
    if (previous && kid === previous.keyId) {
      const validUntil = Math.floor(previous.validUntil.getTime() / 1000);
      if (Date.now() / 1000 >= validUntil) throw new RetiredKeyError();
      return { key: previous.verifyKey, algorithm: previous.algorithm, validUntil };
    }
    throw new errors.JWKSNoMatchingKey('no key with this kid');
  }

  async #verify(token: string, type: TokenType) {
    try {
      const { key, algorithm, validUntil } = this.#keyFor(token);
      const { payload } = await jwtVerify(token, key, {
        algorithms: [algorithm],
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
      return {
        payload: payload as typeof payload & { sub: string; jti: string; exp: number; iat: number },
        keyValidUntil: validUntil,
      };
    } catch (error) {
      if (error instanceof RetiredKeyError) {
        throw new UnauthenticatedError(
          'The token was signed with a key that has since been retired. Sign in again.',
        );
      }
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
