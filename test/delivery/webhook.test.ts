import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../src/delivery/signature.js';
import { isPrivateAddress, webhookUrlProblem } from '../../src/delivery/url-policy.js';
import {
  DESTINATION_NOT_ALLOWED,
  classifyRequestError,
  sendWebhook,
  type WebhookRequest,
} from '../../src/delivery/webhook.js';
import { freePort } from '../support/ports.js';
import { startReceiver, type Receiver } from '../support/delivery.js';

let hooks: Receiver;
let slowOrRedirect: 'slow' | 'redirect' | 'fail' | 'ok' = 'ok';

beforeAll(async () => {
  hooks = await startReceiver(async () => {
    if (slowOrRedirect === 'slow') await new Promise((resolve) => setTimeout(resolve, 1_000));
    return slowOrRedirect === 'redirect' ? 302 : slowOrRedirect === 'fail' ? 500 : 200;
  });
});
afterAll(async () => {
  await hooks.close();
});

const request = (overrides: Partial<WebhookRequest> = {}): WebhookRequest => ({
  url: hooks.url,
  secrets: ['whsec_test-secret-that-is-long-enough'],
  id: '00000000-0000-4000-8000-000000000001',
  kind: 'TASK_ASSIGNED',
  body: '{"hello":"world"}',
  timeoutMs: 2_000,
  policy: { allowPrivateAddresses: true, requireHttps: false },
  ...overrides,
});

describe('webhook URL policy and sending', () => {
  it('knows which addresses are not public', () => {
    for (const address of [
      '127.0.0.1',
      '10.0.0.8',
      '172.20.1.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '172.32.0.1']) {
      expect(isPrivateAddress(address), address).toBe(false);
    }
  });

  it('refuses http where https is required, and accepts public https', () => {
    const strict = { allowPrivateAddresses: false, requireHttps: true };
    expect(webhookUrlProblem('http://hooks.example.com/x', strict)).toBe('must use https');
    expect(webhookUrlProblem('https://hooks.example.com/x', strict)).toBeUndefined();
    expect(webhookUrlProblem('https://app.localhost/x', strict)).toBe(
      'must point to a public address',
    );
    const lenient = { allowPrivateAddresses: true, requireHttps: false };
    expect(webhookUrlProblem('http://127.0.0.1:8080/x', lenient)).toBeUndefined();
  });

  it('checks the resolved address at send time, so a name cannot lead inside', async () => {
    const before = hooks.received.length;
    const policy = { allowPrivateAddresses: false, requireHttps: false };
    const byName = await sendWebhook(
      request({ url: hooks.url.replace('127.0.0.1', 'localhost'), policy }),
    );
    expect(byName).toMatchObject({ delivered: false, httpStatus: null, failure: 'refused' });
    const byAddress = await sendWebhook(request({ policy }));
    const byScheme = await sendWebhook(
      request({ policy: { allowPrivateAddresses: true, requireHttps: true } }),
    );
    for (const refused of [byName, byAddress, byScheme]) {
      // What the tenant's delivery log shows: the refusal, not where the name led.
      expect(refused.error).toBe(DESTINATION_NOT_ALLOWED);
    }
    expect(hooks.received.length).toBe(before);
    // A name that resolves nowhere reads the same, so the log cannot probe internal names.
    for (const code of ['EADDRNOTALLOWED', 'ENOTFOUND', 'EAI_AGAIN']) {
      expect(classifyRequestError(Object.assign(new Error('x'), { code }))).toEqual({
        error: DESTINATION_NOT_ALLOWED,
        failure: 'refused',
      });
    }
  });

  it('records short failure classes, never addresses or socket errors', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/hooks`;
    const refused = await sendWebhook(request({ url: closed }));
    expect(refused).toMatchObject({
      delivered: false,
      httpStatus: null,
      error: 'connection failed',
      failure: 'connection',
    });
    // The particulars stay in the server log.
    expect(refused.detail).toMatch(/ECONNREFUSED/);
    slowOrRedirect = 'fail';
    const failed = await sendWebhook(request());
    expect(failed).toMatchObject({ httpStatus: 500, error: 'HTTP 500', failure: 'http' });
    expect(failed.detail).toBe('receiver failed');
    slowOrRedirect = 'ok';
    expect(
      classifyRequestError(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })),
    ).toEqual({ error: 'TLS error', failure: 'tls' });
    expect(
      classifyRequestError(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })),
    ).toEqual({ error: 'TLS error', failure: 'tls' });
  });

  it('signs what it sends, does not follow redirects, and gives up at the timeout', async () => {
    slowOrRedirect = 'ok';
    expect(await sendWebhook(request())).toEqual({ delivered: true, httpStatus: 200, error: null });
    const hit = hooks.received.at(-1);
    expect(hit?.headers['idempotency-key']).toBe('00000000-0000-4000-8000-000000000001');
    expect(
      verifyWebhookSignature(
        'whsec_test-secret-that-is-long-enough',
        hit?.headers['tenantql-signature'] as string,
        hit?.body ?? '',
      ),
    ).toBe(true);

    slowOrRedirect = 'redirect';
    expect(await sendWebhook(request())).toMatchObject({ delivered: false, httpStatus: 302 });

    slowOrRedirect = 'slow';
    const started = Date.now();
    const slow = await sendWebhook(request({ timeoutMs: 200 }));
    expect(slow).toMatchObject({
      delivered: false,
      httpStatus: null,
      error: 'timeout',
      failure: 'timeout',
    });
    expect(slow.detail).toMatch(/no response within 200 ms/);
    expect(Date.now() - started).toBeLessThan(900);
    slowOrRedirect = 'ok';
  });

  it('refuses old signatures (replays)', () => {
    const body = '{"id":"x"}';
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    const header = signWebhook('whsec_secret-long-enough-0123456789', body, tenMinutesAgo);
    expect(verifyWebhookSignature('whsec_secret-long-enough-0123456789', header, body)).toBe(false);
    expect(
      verifyWebhookSignature('whsec_secret-long-enough-0123456789', header, body, {
        toleranceSeconds: 900,
      }),
    ).toBe(true);
  });
});
