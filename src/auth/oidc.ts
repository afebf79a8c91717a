import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isAcceptableKeyUrl, type OidcIssuerConfig } from '../config.js';
import { ServiceUnavailableError, UnauthenticatedError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The verified claims of an identity provider's access token that tenantql uses, nothing more. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
  /** As the token has it (not normalised); undefined when the claim is absent or not a string. */
  email: string | undefined;
  /** True only when the configured claim says so, in so many words. */
  emailVerified: boolean;
  name: string | undefined;
  /** From iat, when the token has one. */
  issuedAtMs: number | undefined;
}

const DISCOVERY_TIMEOUT_MS = 5_000;
/** A failed discovery is retried by a later token, but not more often than this. */
const DISCOVERY_RETRY_MS = 10_000;
/** The provider's whole key set is fetched again this often, even when every kid is known. */
const JWKS_MAX_AGE_MS = 10 * 60 * 1000;
/** OpenID Connect Core 1.0 §2: sub is at most 255 ASCII characters. */
const SUBJECT_MAX_LENGTH = 255;

const INVALID = 'The token is invalid. Sign in again.';

/**
 * Verifies one identity provider's access tokens: signature against its published keys (fetched
 * lazily, cached, fetched again when a token names an unknown kid, at most once per cooldown),
 * algorithms pinned by configuration, issuer, audience and expiry.
 */
export class OidcIssuer {
  #keys: Promise<JWTVerifyGetKey> | undefined;
  #failedAt = 0;

  constructor(
    readonly config: OidcIssuerConfig,
    private readonly log: Logger,
  ) {}

  async verify(token: string): Promise<ExternalIdentity> {
    const keys = await this.#jwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: this.config.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw this.#refusal(error);
    }
    const subject = payload.sub;
    if (
      typeof subject !== 'string' ||
      subject.length === 0 ||
      subject.length > SUBJECT_MAX_LENGTH
    ) {
      throw new UnauthenticatedError(INVALID);
    }
    const email = payload[this.config.emailClaim];
    const name = payload[this.config.nameClaim];
    const verifiedClaim = this.config.emailVerifiedClaim;
    const verified = verifiedClaim === null ? undefined : payload[verifiedClaim];
    return {
      issuer: this.config.issuer,
      subject,
      email: typeof email === 'string' ? email : undefined,
      // Some providers (Cognito, for one) send the string "true".
      emailVerified: verified === true || verified === 'true',
      name: typeof name === 'string' ? name : undefined,
      issuedAtMs: typeof payload.iat === 'number' ? Math.round(payload.iat * 1000) : undefined,
    };
  }

  #refusal(error: unknown): Error {
    if (error instanceof errors.JWTExpired) {
      return new UnauthenticatedError(
        'The token has expired. Get a new one from your identity provider.',
      );
    }
    // The provider's keys could not be fetched (timeout, not 200, not a key set, network): the
    // token may well be good, so the client is told to retry rather than to sign in again.
    if (
      error instanceof errors.JWKSTimeout ||
      error instanceof errors.JWKSInvalid ||
      !(error instanceof errors.JOSEError) ||
      error.code === errors.JOSEError.code
    ) {
      this.log.warn(
        { err: error, issuer: this.config.issuer },
        'could not fetch the keys of an identity provider',
      );
      return new ServiceUnavailableError(
        'The identity provider that issued this token cannot be reached. Retry in a few seconds.',
      );
    }
    return new UnauthenticatedError(INVALID);
  }

  #jwks(): Promise<JWTVerifyGetKey> {
    if (!this.#keys && Date.now() - this.#failedAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(this.#unreachable());
    }
    this.#keys ??= this.#jwksUri().then(
      (uri) =>
        createRemoteJWKSet(new URL(uri), {
          cooldownDuration: this.config.jwksCooldownSeconds * 1000,
          cacheMaxAge: JWKS_MAX_AGE_MS,
          timeoutDuration: DISCOVERY_TIMEOUT_MS,
        }),
      (error: unknown) => {
        this.#keys = undefined;
        this.#failedAt = Date.now();
        this.log.error(
          { err: error, issuer: this.config.issuer },
          `OpenID Connect discovery failed for ${this.config.issuer}: ${(error as Error).message}`,
        );
        throw this.#unreachable();
      },
    );
    return this.#keys;
  }

  #unreachable(): ServiceUnavailableError {
    return new ServiceUnavailableError(
      'The identity provider that issued this token cannot be reached. Retry in a few seconds.',
    );
  }

  /** The configured JWKS URL, or jwks_uri from the issuer's discovery document. */
  async #jwksUri(): Promise<string> {
    if (this.config.jwksUri) return this.config.jwksUri;
    const url = `${this.config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
    });
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer it was asked for.
    if (document.issuer !== this.config.issuer) {
      throw new Error(`${url} names issuer ${String(document.issuer)}`);
    }
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== 'string' || !isAcceptableKeyUrl(jwksUri, this.config.allowHttp)) {
      throw new Error(`${url} has no usable jwks_uri (https, or http to localhost)`);
    }
    return jwksUri;
  }
}

/** The configured identity providers, by exact issuer. */
export class OidcIssuers {
  readonly #byIssuer: Map<string, OidcIssuer>;

  constructor(configs: OidcIssuerConfig[], log: Logger) {
    this.#byIssuer = new Map(configs.map((c) => [c.issuer, new OidcIssuer(c, log)]));
  }

  get(issuer: string): OidcIssuer | undefined {
    return this.#byIssuer.get(issuer);
  }
}
