import http from 'node:http';
import https from 'node:https';
import { EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook } from './signature.js';
import { guardedLookup, refusedLiteralHost, type WebhookUrlPolicy } from './url-policy.js';

export interface WebhookRequest {
  url: string;
  secret: string;
  /** The idempotency key (the delivery's id). */
  id: string;
  kind: string;
  body: string;
  timeoutMs: number;
  policy: WebhookUrlPolicy;
}

export interface AttemptResult {
  delivered: boolean;
  httpStatus: number | null;
  error: string | null;
}

// Enough of an error page to tell what went wrong, not enough to fill the log with HTML.
const MAX_ERROR_BODY = 300;

/**
 * POSTs one signed webhook. Any 2xx is an acknowledgement; anything else (including redirects,
 * which are not followed so they cannot lead to an internal address) is a failed attempt.
 */
export function sendWebhook(request: WebhookRequest): Promise<AttemptResult> {
  const url = new URL(request.url);
  const refused = refusedLiteralHost(url, request.policy);
  if (refused) {
    return Promise.resolve({
      delivered: false,
      httpStatus: null,
      error: `${refused} is not a public address`,
    });
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: false,
        lookup: request.policy.allowPrivateAddresses ? undefined : guardedLookup,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tenantql-webhooks/1',
          [IDEMPOTENCY_HEADER]: request.id,
          [EVENT_HEADER]: request.kind,
          [SIGNATURE_HEADER]: signWebhook(request.secret, request.body, timestamp),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < MAX_ERROR_BODY) text += chunk;
        });
        res.on('error', (error) =>
          finish({ delivered: false, httpStatus: status, error: error.message }),
        );
        res.on('end', () => {
          const delivered = status >= 200 && status < 300;
          finish({
            delivered,
            httpStatus: status,
            error: delivered ? null : `HTTP ${status}: ${text.slice(0, MAX_ERROR_BODY)}`.trim(),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no response within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    req.on('error', (error) =>
      finish({ delivered: false, httpStatus: null, error: error.message }),
    );
    req.end(request.body);
  });
}
