import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../support/accounts.js';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { installed } from '../support/programs.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let db: TestDatabase;
// Without redis-server only the in-memory budgets are tested.
const REDIS_INSTALLED = installed('redis', 'the rate-limit tests against Redis');
let redis: RedisServer;

beforeAll(async () => {
  db = await createTestDatabase();
  if (REDIS_INSTALLED) redis = await startRedis();
});
afterAll(async () => {
  await db.drop();
  await redis?.stop();
});

// Small budgets so the tests reach them; the client address comes from X-Forwarded-For, which
// TRUST_PROXY=true believes one hop deep.
const BUDGETS = {
  TRUST_PROXY: 'true',
  LOGIN_ACCOUNT_ATTEMPTS: '3',
  LOGIN_ADDRESS_ATTEMPTS: '5',
  LOGIN_WINDOW_SECONDS: '900',
  SIGNUP_ADDRESS_ATTEMPTS: '2',
  REFRESH_ADDRESS_ATTEMPTS: '2',
};

const LOGIN = 'mutation ($input: LoginInput!) { login(input: $input) { token } }';
const SIGN_UP = 'mutation ($input: SignUpInput!) { signUp(input: $input) { refreshToken } }';
const REFRESH = 'mutation ($token: String!) { refreshToken(token: $token) { token } }';

let addresses = 0;
/** A client address no earlier request used. */
const freshAddress = () => `10.${Math.floor(++addresses / 250)}.${addresses % 250}.1`;

const outcome = (r: GraphQLResult) => (codeOf(r) as string | undefined) ?? 'OK';

function expectRetryAfter(result: GraphQLResult, atMost: number) {
  expect(result.status).toBe(429);
  const retryAfter = result.errors?.[0]?.extensions?.retryAfter;
  expect(typeof retryAfter).toBe('number');
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(atMost);
}

const BACKENDS: [string, () => Record<string, string>][] = [['in memory', () => BUDGETS]];
if (REDIS_INSTALLED) BACKENDS.push(['in Redis', () => ({ ...BUDGETS, REDIS_URL: redis.url })]);

describe.each(BACKENDS)('sign-in, sign-up and refresh budgets (%s)', (backend, env) => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp(db, env());
  });
  afterAll(async () => {
    await api.close();
  });

  const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
  const login = (email: string, password: string, address = freshAddress()) =>
    api.request(LOGIN, { input: { email, password } }, from(address));
  async function account() {
    const email = `rl-${randomUUID().slice(0, 8)}@example.test`;
    const password = 'the right password';
    const result = await api.request<{ signUp: { refreshToken: string } }>(
      SIGN_UP,
      { input: { email, password, name: 'RL' } },
      from(freshAddress()),
    );
    expect(result.errors).toBeUndefined();
    return { email, password, refreshToken: result.data?.signUp.refreshToken ?? '' };
  }

  it('limits attempts per account, from any address, before the password is checked', async () => {
    const victim = await account();
    const other = await account();
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push(outcome(await login(victim.email, 'wrong password')));
    // The right password, from yet another address: still refused until the window ends.
    const locked = await login(victim.email, victim.password);
    codes.push(outcome(locked));
    console.log(`login (${backend}): account at 3/15 min -> ${codes.join(', ')}`);
    expect(codes).toEqual([
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'RATE_LIMITED',
    ]);
    expectRetryAfter(locked, 900);
    // The email is normalised: case and spaces are the same account.
    expect(outcome(await login(`  ${victim.email.toUpperCase()} `, victim.password))).toBe(
      'RATE_LIMITED',
    );
    expect(outcome(await login(other.email, other.password))).toBe('OK');
  });

  it('a refused attempt does not push the end of the lockout further away', async () => {
    const victim = await account();
    for (let i = 0; i < 3; i++) await login(victim.email, 'wrong password');
    const first = await login(victim.email, 'wrong password');
    await new Promise((r) => setTimeout(r, 1100));
    const later = await login(victim.email, 'wrong password');
    const retry = (r: GraphQLResult) => r.errors?.[0]?.extensions?.retryAfter as number;
    expect(retry(later)).toBeLessThan(retry(first));
  });

  it('a successful sign-in clears the account’s failures', async () => {
    const user = await account();
    const codes: string[] = [];
    for (let round = 0; round < 3; round++) {
      codes.push(outcome(await login(user.email, 'wrong password')));
      codes.push(outcome(await login(user.email, 'wrong password')));
      codes.push(outcome(await login(user.email, user.password)));
    }
    // Nine attempts, never more than three since the last success.
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toEqual([]);
    expect(codes.filter((c) => c === 'OK')).toHaveLength(3);
  });

  it('limits attempts per client address, whatever the account', async () => {
    const user = await account();
    const address = freshAddress();
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push(outcome(await login(`nobody-${i}@example.test`, 'guess', address)));
    }
    const refused = await login(user.email, user.password, address);
    codes.push(outcome(refused));
    console.log(`login (${backend}): address at 5/15 min -> ${codes.join(', ')}`);
    expect(codes).toEqual([...Array(5).fill('UNAUTHENTICATED'), 'RATE_LIMITED']);
    expectRetryAfter(refused, 900);
    // The same account from elsewhere is fine.
    expect(outcome(await login(user.email, user.password))).toBe('OK');
  });

  it('limits sign-ups and refreshes per client address', async () => {
    const address = freshAddress();
    const signUps: string[] = [];
    for (let i = 0; i < 3; i++) {
      const input = {
        email: `many-${randomUUID().slice(0, 8)}@example.test`,
        password: 'a long enough password',
        name: 'Many',
      };
      signUps.push(outcome(await api.request(SIGN_UP, { input }, from(address))));
    }
    expect(signUps).toEqual(['OK', 'OK', 'RATE_LIMITED']);

    const { refreshToken } = await account();
    const refreshAddress = freshAddress();
    const refreshes: string[] = [];
    for (const token of ['not-a-token', 'still-not-a-token', refreshToken]) {
      refreshes.push(outcome(await api.request(REFRESH, { token }, from(refreshAddress))));
    }
    expect(refreshes).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
    expect(outcome(await api.request(REFRESH, { token: refreshToken }, from(freshAddress())))).toBe(
      'OK',
    );
  });
});

describe.skipIf(!REDIS_INSTALLED)('an account locked by someone else’s guesses', () => {
  it('opens again when the window ends, however many guesses came in the meantime', async () => {
    const api = await startTestApp(db, {
      ...BUDGETS,
      LOGIN_WINDOW_SECONDS: '2',
      REDIS_URL: redis.url,
    });
    try {
      const email = `victim-${randomUUID().slice(0, 8)}@example.test`;
      const password = 'the right password';
      await api.request(SIGN_UP, { input: { email, password, name: 'Victim' } });
      const attempt = (pw: string) =>
        api.request(
          LOGIN,
          { input: { email, password: pw } },
          {
            headers: { 'x-forwarded-for': freshAddress() },
          },
        );
      for (let i = 0; i < 3; i++) await attempt('guess');
      expect(outcome(await attempt(password))).toBe('RATE_LIMITED');
      for (let i = 0; i < 5; i++) expect(outcome(await attempt('guess'))).toBe('RATE_LIMITED');
      await new Promise((r) => setTimeout(r, 2100));
      expect(outcome(await attempt(password))).toBe('OK');
    } finally {
      await api.close();
    }
  });
});
