import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * tenantql's first signature header, `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
 * keyed with the whole secret string. Still sent, for receivers written against it; new receivers
 * verify the Standard Webhooks headers below.
 */
export const SIGNATURE_HEADER = 'tenantql-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const EVENT_HEADER = 'tenantql-event';

/** Standard Webhooks (standardwebhooks.com): what its libraries verify. */
export const STANDARD_ID_HEADER = 'webhook-id';
export const STANDARD_TIMESTAMP_HEADER = 'webhook-timestamp';
export const STANDARD_SIGNATURE_HEADER = 'webhook-signature';

const SECRET_PREFIX = 'whsec_';

/**
 * A new webhook signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in
 * base64, which receivers' libraries decode into the HMAC key.
 */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/**
 * The HMAC key of a secret as Standard Webhooks defines it: the base64 after `whsec_`. NOTE:
 * secrets made before tenantql adopted the scheme are base64url; Node decodes those as well, but
 * strict base64 decoders in receivers' libraries may not: rotate such a secret to use them.
 */
function standardKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, 'base64');
}

/**
 * The Standard Webhooks headers of a message: `webhook-signature` holds one `v1,<base64 HMAC>`
 * per secret, space-separated, so during a rotation's overlap receivers holding either secret
 * accept it.
 */
export function standardWebhookHeaders(
  secrets: readonly string[],
  id: string,
  body: string,
  timestamp: number,
): Record<string, string> {
  const signed = `${id}.${timestamp}.${body}`;
  return {
    [STANDARD_ID_HEADER]: id,
    [STANDARD_TIMESTAMP_HEADER]: String(timestamp),
    [STANDARD_SIGNATURE_HEADER]: secrets
      .map(
        (secret) =>
          `v1,${createHmac('sha256', standardKey(secret)).update(signed).digest('base64')}`,
      )
      .join(' '),
  };
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

/**
 * Whether a received body carries a valid signature made with `secret` no more than
 * `toleranceSeconds` ago (replays of old requests fail). The same check receivers implement
 * (see docs/webhooks.md, "Verifying the signature").
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  { toleranceSeconds = 300, now = Date.now() }: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  if (!header) return false;
  const parts = new Map(
    header.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1');
  if (!Number.isInteger(timestamp) || !given) return false;
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
