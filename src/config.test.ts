import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('configuration errors a person can fix', () => {
  it.each([
    [
      { LOG_LEVEL: 'loud' },
      /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/,
    ],
    [{ JWT_ALGORITHM: 'none' }, /^JWT_ALGORITHM must be one of HS256, .*EdDSA, got "none"$/],
    [{ JWT_ALGORITHM: 'RS255' }, /^JWT_ALGORITHM must be one of/],
    [
      { DATABASE_POOL_SIZE: 'ten' },
      /^DATABASE_POOL_SIZE must be a non-negative integer, got "ten"$/,
    ],
    [
      { DATABASE_TENANT_MAX_CONNECTIONS: '0' },
      /^DATABASE_TENANT_MAX_CONNECTIONS must be at least 1$/,
    ],
    [{ EMAIL_VERIFICATION: 'sometimes' }, /^EMAIL_VERIFICATION must be required or off/],
    [{ APP_URL: 'ftp://x' }, /^APP_URL must be an absolute http\(s\) URL/],
  ])('%o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts the defaults and level names in any case', () => {
    expect(loadConfig({}).logLevel).toBe('info');
    expect(loadConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(loadConfig({}).auth.jwtAlgorithm).toBe('HS256');
  });
});
