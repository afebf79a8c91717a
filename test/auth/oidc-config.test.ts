import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

function issuers(value: unknown) {
  return loadConfig({ OIDC_ISSUERS: typeof value === 'string' ? value : JSON.stringify(value) })
    .auth.oidcIssuers;
}

describe('OIDC_ISSUERS', () => {
  it('is empty when unset, and fills in the defaults', () => {
    expect(loadConfig({}).auth.oidcIssuers).toEqual([]);
    expect(issuers([{ issuer: 'https://id.example.com/', audience: 'tenantql-api' }])).toEqual([
      {
        issuer: 'https://id.example.com/',
        audience: 'tenantql-api',
        jwksUri: undefined,
        algorithms: ['RS256'],
        emailClaim: 'email',
        emailVerifiedClaim: 'email_verified',
        nameClaim: 'name',
        allowHttp: false,
        jwksCooldownSeconds: 30,
      },
    ]);
    expect(
      issuers([{ issuer: 'https://a.example', audience: 'x', emailVerifiedClaim: null }])[0]
        ?.emailVerifiedClaim,
    ).toBeNull();
  });

  it.each([
    ['not JSON', '[{issuer:', /must be a JSON array such as/],
    ['an object', { issuer: 'https://a.example' }, /must be a JSON array$/],
    [
      'a typo',
      [{ issuer: 'https://a.example', audiance: 'x' }],
      /\[0\] has unknown field audiance/,
    ],
    [
      'no audience',
      [{ issuer: 'https://a.example' }],
      /\[0\]\.audience must be a non-empty string/,
    ],
    [
      'http',
      [{ issuer: 'http://id.example.com', audience: 'x' }],
      /\[0\]\.issuer must be an https/,
    ],
    [
      'an http JWKS',
      [{ issuer: 'https://a.example', audience: 'x', jwksUri: 'http://keys.example/jwks' }],
      /\[0\]\.jwksUri must be an https/,
    ],
    [
      'HS256',
      [{ issuer: 'https://a.example', audience: 'x', algorithms: ['HS256'] }],
      /algorithms must be a non-empty list of .* \(never HS\* or none\)/,
    ],
    ['none', [{ issuer: 'https://a.example', audience: 'x', algorithms: ['none'] }], /never HS/],
    ['tenantql itself', [{ issuer: 'tenantql', audience: 'x' }], /\[0\]\.issuer must be an https/],
    [
      'a duplicate',
      [
        { issuer: 'https://a.example', audience: 'x' },
        { issuer: 'https://a.example', audience: 'y' },
      ],
      /\[1\]\.issuer "https:\/\/a\.example" is listed twice/,
    ],
  ])('refuses %s with a one-line ConfigError', (_label, value, message) => {
    let error: unknown;
    try {
      issuers(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('allows http for loopback issuers, or when told to', () => {
    expect(issuers([{ issuer: 'http://127.0.0.1:8080', audience: 'x' }])).toHaveLength(1);
    expect(issuers([{ issuer: 'http://localhost:8080/realms/r', audience: 'x' }])).toHaveLength(1);
    expect(
      issuers([{ issuer: 'http://keycloak:8080/realms/r', audience: 'x', allowHttp: true }]),
    ).toHaveLength(1);
  });

  it('refuses the issuer tenantql signs its own tokens with', () => {
    expect(() =>
      loadConfig({
        JWT_ISSUER: 'https://api.example.com',
        OIDC_ISSUERS: JSON.stringify([{ issuer: 'https://api.example.com', audience: 'x' }]),
      }),
    ).toThrow(/is JWT_ISSUER/);
  });
});
