import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryWorker } from '../../src/delivery/worker.js';
import { AUTH_FIELDS, codeOf, signUpAccount, type Account } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testDeliveryConfig, testWorker } from '../support/delivery.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { startSmtpInbox, tokenIn, type SmtpInbox } from '../support/smtp.js';

let db: TestDatabase;
let api: TestApp;
let smtp: SmtpInbox;
let worker: DeliveryWorker;
let tenant: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtpInbox();
  api = await startTestApp(db, { SMTP_URL: smtp.url, ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS: '3' });
  // The delivery worker as production runs it, on its own role, sending to a real SMTP server.
  worker = testWorker(db, testDeliveryConfig({ SMTP_URL: smtp.url }));
  worker.start();
  tenant = await seedTenant(db.ownerUrl, 'sec');
});
afterAll(async () => {
  await worker.stop();
  await api.close();
  await smtp.close();
  await db.drop();
});

const ME = '{ me { id email emailVerified } }';

interface Me {
  me: { id: string; email: string; emailVerified: boolean } | null;
}

async function login(account: Account, password = account.password) {
  return api.request<{ login: { token: string; refreshToken: string } }>(
    `mutation ($i: LoginInput!) { login(input: $i) { ${AUTH_FIELDS} } }`,
    { i: { email: account.email, password } },
  );
}

async function refresh(refreshToken: string) {
  return api.request(`mutation ($t: String!) { refreshToken(token: $t) { token } }`, {
    t: refreshToken,
  });
}

/** Makes the account a member of the seeded tenant (as the owner role, like an accepted invite). */
async function joinTenant(account: Account): Promise<void> {
  await ownerQuery(
    db.ownerUrl,
    `insert into app.memberships (tenant_id, user_id, role) values ($1, $2, 'member')`,
    [tenant.id, account.id],
  );
}

describe('email verification', () => {
  it('signUp mails a link; verifyEmail proves the address once', async () => {
    const account = await signUpAccount(api, 'verify');
    const before = await api.request<Me>(ME, {}, { token: account.token });
    expect(before.data?.me?.emailVerified).toBe(false);

    const mail = await smtp.waitForMail(account.email, /verifyEmail/);
    expect(mail.data).toMatch(/^Subject: Confirm your email address/m);
    const token = tokenIn(mail);

    const verified = await api.request<{ verifyEmail: boolean }>(
      `mutation ($t: String!) { verifyEmail(token: $t) }`,
      { t: token },
    );
    expect(verified.data?.verifyEmail).toBe(true);
    const after = await api.request<Me>(ME, {}, { token: account.token });
    expect(after.data?.me?.emailVerified).toBe(true);

    const again = await api.request(`mutation ($t: String!) { verifyEmail(token: $t) }`, {
      t: token,
    });
    expect(codeOf(again)).toBe('BAD_USER_INPUT');
    // Nothing more to send once verified.
    const resend = await api.request<{ resendVerification: boolean }>(
      'mutation { resendVerification }',
      {},
      { token: account.token },
    );
    expect(resend.data?.resendVerification).toBe(false);
  });

  it('refuses a made-up, malformed or expired token with the same answer', async () => {
    const account = await signUpAccount(api, 'expire');
    const token = tokenIn(await smtp.waitForMail(account.email, /verifyEmail/));
    await ownerQuery(
      db.ownerUrl,
      `update app.account_tokens set expires_at = now() - interval '1 second' where user_id = $1`,
      [account.id],
    );
    const answers = await Promise.all(
      [token, 'x'.repeat(43), 'not a token'].map((t) =>
        api.request(`mutation ($t: String!) { verifyEmail(token: $t) }`, { t }),
      ),
    );
    expect(answers.map(codeOf)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT', 'BAD_USER_INPUT']);
    expect(new Set(answers.map((a) => a.errors?.[0]?.message)).size).toBe(1);
  });

  it('a token proves only the address it was sent to', async () => {
    const account = await signUpAccount(api, 'moved');
    const token = tokenIn(await smtp.waitForMail(account.email, /verifyEmail/));
    await ownerQuery(db.ownerUrl, `update app.users set email = $2 where id = $1`, [
      account.id,
      `moved-${account.id.slice(0, 8)}@example.test`,
    ]);
    const result = await api.request(`mutation ($t: String!) { verifyEmail(token: $t) }`, {
      t: token,
    });
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    const [row] = await ownerQuery<{ verified: boolean }>(
      db.ownerUrl,
      'select email_verified_at is not null as verified from app.users where id = $1',
      [account.id],
    );
    expect(row?.verified).toBe(false);
  });

  it('the API role cannot mark an address verified, nor read tokens or queued emails', async () => {
    const account = await signUpAccount(api, 'direct');
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.user_id', $1, true)`, [account.id]);
      await expect(
        client.query('update app.users set email_verified_at = now() where id = $1', [account.id]),
      ).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback');
      await client.query('begin');
      await client.query(`select set_config('app.user_id', $1, true)`, [account.id]);
      expect((await client.query('select * from app.account_tokens')).rows).toEqual([]);
      expect((await client.query('select * from app.account_emails')).rows).toEqual([]);
      await client.query('rollback');
    } finally {
      await client.end();
    }
  });

  it('resendVerification is limited per recipient', async () => {
    const account = await signUpAccount(api, 'resend');
    const codes: unknown[] = [];
    for (let i = 0; i < 4; i += 1) {
      const result = await api.request(
        'mutation { resendVerification }',
        {},
        {
          token: account.token,
        },
      );
      codes.push(codeOf(result) ?? 'ok');
    }
    // ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS=3 in this file.
    expect(codes).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
  });
});

describe('signing out for real', () => {
  it('signOutEverywhere refuses the old access and refresh tokens on the next operation', async () => {
    const account = await signUpAccount(api, 'everywhere');
    await joinTenant(account);
    const second = (await login(account)).data?.login;
    expect(second).toBeDefined();
    const headers = { 'x-tenant-id': tenant.id };
    const read = '{ projects(first: 5) { edges { node { id } } } }';
    const before = await api.request(read, {}, { token: account.token, headers });
    expect(before.errors).toBeUndefined();

    const out = await api.request<{ signOutEverywhere: boolean }>(
      'mutation { signOutEverywhere }',
      {},
      { token: account.token },
    );
    expect(out.data?.signOutEverywhere).toBe(true);

    for (const token of [account.token, second?.token ?? '']) {
      const me = await api.request<Me>(ME, {}, { token });
      expect(codeOf(me)).toBe('UNAUTHENTICATED');
      const rows = await api.request(read, {}, { token, headers });
      expect(codeOf(rows)).toBe('UNAUTHENTICATED');
      expect(rows.data?.projects ?? null).toBeNull();
      const write = await api.request(
        `mutation { createProject(input: {key: "ZZ", name: "after sign-out"}) { id } }`,
        {},
        { token, headers },
      );
      expect(codeOf(write)).toBe('UNAUTHENTICATED');
    }
    for (const refreshToken of [account.refreshToken, second?.refreshToken ?? '']) {
      expect(codeOf(await refresh(refreshToken))).toBe('UNAUTHENTICATED');
    }
    // Signing in again works at once, even sending the dead token along.
    const fresh = await api.request<{ login: { token: string } }>(
      `mutation ($i: LoginInput!) { login(input: $i) { token } }`,
      { i: { email: account.email, password: account.password } },
      { token: account.token },
    );
    const me = await api.request<Me>(ME, {}, { token: fresh.data?.login.token ?? '' });
    expect(me.data?.me?.id).toBe(account.id);
  });

  it('logout ends that sign-in’s access tokens too, and only that sign-in', async () => {
    const account = await signUpAccount(api, 'logout');
    const other = (await login(account)).data?.login;
    const out = await api.request(`mutation ($t: String!) { logout(refreshToken: $t) }`, {
      t: account.refreshToken,
    });
    expect(out.errors).toBeUndefined();
    expect(codeOf(await api.request(ME, {}, { token: account.token }))).toBe('UNAUTHENTICATED');
    const still = await api.request<Me>(ME, {}, { token: other?.token ?? '' });
    expect(still.data?.me?.id).toBe(account.id);
  });

  it('a refreshed access token belongs to the same sign-in', async () => {
    const account = await signUpAccount(api, 'rotate');
    const next = await api.request<{ refreshToken: { token: string; refreshToken: string } }>(
      `mutation ($t: String!) { refreshToken(token: $t) { token refreshToken } }`,
      { t: account.refreshToken },
    );
    const token = next.data?.refreshToken.token ?? '';
    expect((await api.request<Me>(ME, {}, { token })).data?.me?.id).toBe(account.id);
    await api.request(`mutation ($t: String!) { logout(refreshToken: $t) }`, {
      t: next.data?.refreshToken.refreshToken,
    });
    expect(codeOf(await api.request(ME, {}, { token }))).toBe('UNAUTHENTICATED');
  });
});

describe('changing a password', () => {
  it('needs the current password', async () => {
    const account = await signUpAccount(api, 'wrong');
    const result = await api.request(
      `mutation ($i: ChangePasswordInput!) { changePassword(input: $i) }`,
      { i: { currentPassword: 'not the password', newPassword: 'a brand new password' } },
      { token: account.token },
    );
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions?.field).toBe('currentPassword');
    expect((await api.request<Me>(ME, {}, { token: account.token })).data?.me?.id).toBe(account.id);
  });

  it('kills every earlier token; the new password signs in at once', async () => {
    const account = await signUpAccount(api, 'change');
    const newPassword = 'a completely new passphrase';
    const result = await api.request<{ changePassword: boolean }>(
      `mutation ($i: ChangePasswordInput!) { changePassword(input: $i) }`,
      { i: { currentPassword: account.password, newPassword } },
      { token: account.token },
    );
    expect(result.data?.changePassword).toBe(true);
    expect(codeOf(await api.request(ME, {}, { token: account.token }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(account.refreshToken))).toBe('UNAUTHENTICATED');
    expect(codeOf(await login(account))).toBe('UNAUTHENTICATED');
    const fresh = (await login(account, newPassword)).data?.login;
    expect((await api.request<Me>(ME, {}, { token: fresh?.token ?? '' })).data?.me?.id).toBe(
      account.id,
    );
  });
});

describe('password reset', () => {
  it('answers the same for an address with and without an account, and mails only the account', async () => {
    const account = await signUpAccount(api, 'reset-known');
    const unknown = `nobody-${account.id.slice(0, 8)}@example.test`;
    const answers = await Promise.all(
      [account.email, unknown].map((email) =>
        api.request(`mutation ($e: String!) { requestPasswordReset(email: $e) }`, { e: email }),
      ),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.data).toEqual({ requestPasswordReset: true });
    await smtp.waitForMail(account.email, /resetPassword/);
    const [queued] = await ownerQuery<{ n: number }>(
      db.ownerUrl,
      `select count(*)::int as n from app.account_emails where recipient = $1`,
      [unknown],
    );
    expect(queued?.n).toBe(0);
  });

  it('a reset token works once, signs out every session and verifies the address', async () => {
    const account = await signUpAccount(api, 'reset');
    await api.request(`mutation ($e: String!) { requestPasswordReset(email: $e) }`, {
      e: account.email,
    });
    const token = tokenIn(await smtp.waitForMail(account.email, /resetPassword/));
    const newPassword = 'reset to something else';
    const reset = (t: string, password = newPassword) =>
      api.request<{ resetPassword: boolean }>(
        `mutation ($i: ResetPasswordInput!) { resetPassword(input: $i) }`,
        { i: { token: t, newPassword: password } },
      );

    // A password the rules refuse does not spend the token.
    const refused = await reset(token, account.email);
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect((await reset(token)).data?.resetPassword).toBe(true);
    expect(codeOf(await reset(token, 'yet another password'))).toBe('BAD_USER_INPUT');

    expect(codeOf(await api.request(ME, {}, { token: account.token }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh(account.refreshToken))).toBe('UNAUTHENTICATED');
    const fresh = (await login(account, newPassword)).data?.login;
    const me = await api.request<Me>(ME, {}, { token: fresh?.token ?? '' });
    expect(me.data?.me).toMatchObject({ id: account.id, emailVerified: true });
  });

  it('an expired reset token is refused and changes nothing', async () => {
    const account = await signUpAccount(api, 'reset-late');
    await api.request(`mutation ($e: String!) { requestPasswordReset(email: $e) }`, {
      e: account.email,
    });
    const token = tokenIn(await smtp.waitForMail(account.email, /resetPassword/));
    await ownerQuery(
      db.ownerUrl,
      `update app.account_tokens set expires_at = now() - interval '1 second'
        where user_id = $1 and purpose = 'reset_password'`,
      [account.id],
    );
    const result = await api.request(
      `mutation ($i: ResetPasswordInput!) { resetPassword(input: $i) }`,
      { i: { token, newPassword: 'too late for this one' } },
    );
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect((await login(account)).data?.login).toBeDefined();
  });

  it('a password change spends reset links already mailed', async () => {
    const account = await signUpAccount(api, 'reset-stale');
    await api.request(`mutation ($e: String!) { requestPasswordReset(email: $e) }`, {
      e: account.email,
    });
    const token = tokenIn(await smtp.waitForMail(account.email, /resetPassword/));
    await api.request(
      `mutation ($i: ChangePasswordInput!) { changePassword(input: $i) }`,
      { i: { currentPassword: account.password, newPassword: 'changed in the meantime' } },
      { token: account.token },
    );
    const result = await api.request(
      `mutation ($i: ResetPasswordInput!) { resetPassword(input: $i) }`,
      { i: { token, newPassword: 'attacker would like this' } },
    );
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
  });
});
