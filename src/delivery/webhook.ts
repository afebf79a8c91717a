import http from 'node:http';
import https from 'node:https';
import {
  EVENT_HEADER,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  standardWebhookHeaders,
} from './signature.js';
import { guardedLookup, webhookUrlProblem, type WebhookUrlPolicy } from './url-policy.js';

export interface WebhookRequest {
  url: string;
  /** The current secret first; during a rotation's overlap, the previous one too. */
  secrets: readonly string[];
  /** The idempotency key (the delivery's id). */
  id: string;
  kind: string;
  body: string;
  timeoutMs: number;
  policy: WebhookUrlPolicy;
}

/** Why an attempt failed, as far as the circuit breaker and the delivery log care. */
export type FailureClass = 'refused' | 'timeout' | 'connection' | 'tls' | 'http';

export interface AttemptResult {
  delivered: boolean;
  httpStatus: number | null;
  /**
   * What the delivery log (readable by the tenant's admins) shows: a short class such as
   * "timeout" or "HTTP 503", never an address, a resolver's or a socket's own words.
   */
  error: string | null;
  failure?: FailureClass;
  /** The particulars, for the server log only. */
  detail?: string;
}

export const DESTINATION_NOT_ALLOWED = 'destination not allowed';

// Enough of an error page to tell what went wrong (in the server log), not enough to fill it.
const MAX_ERROR_BODY = 300;

// Failures to resolve the host read the same as a refused address: otherwise the delivery log
// would tell a tenant which internal host names exist (a refused one resolves, a made-up one
// does not). EADDRNOTALLOWED is guardedLookup's refusal.
const UNRESOLVED = new Set(['EADDRNOTALLOWED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ENODATA']);

function isTlsError(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code.includes('SELF_SIGNED') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'EPROTO' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/** The delivery-log class of a request error. */
export function classifyRequestError(error: unknown): Pick<AttemptResult, 'error' | 'failure'> {
  const code = String((error as NodeJS.ErrnoException | undefined)?.code ?? '');
  if (UNRESOLVED.has(code)) return { error: DESTINATION_NOT_ALLOWED, failure: 'refused' };
  if (isTlsError(code)) return { error: 'TLS error', failure: 'tls' };
  return { error: 'connection failed', failure: 'connection' };
}

const detailOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * POSTs one signed webhook. Any 2xx is an acknowledgement; anything else (including redirects,
 * which are not followed so they cannot lead to an internal address) is a failed attempt. The
 * URL policy is applied again here, at send time: the settings may have changed since the URL
 * was saved, and a name may now resolve somewhere else.
 */
export function sendWebhook(request: WebhookRequest): Promise<AttemptResult> {
  const problem = webhookUrlProblem(request.url, request.policy);
  if (problem) {
    return Promise.resolve({
      delivered: false,
      httpStatus: null,
      error: DESTINATION_NOT_ALLOWED,
      failure: 'refused',
      detail: `the webhook URL ${problem}`,
    });
  }
  const url = new URL(request.url);
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
          ...standardWebhookHeaders(request.secrets, request.id, request.body, timestamp),
          // The first scheme's header, for receivers written against it: the current secret only.
          [SIGNATURE_HEADER]: signWebhook(request.secrets[0] ?? '', request.body, timestamp),
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
          finish({
            delivered: false,
            httpStatus: status,
            ...classifyRequestError(error),
            detail: detailOf(error),
          }),
        );
        res.on('end', () => {
          const delivered = status >= 200 && status < 300;
          finish(
            delivered
              ? { delivered, httpStatus: status, error: null }
              : {
                  delivered,
                  httpStatus: status,
                  error: `HTTP ${status}`,
                  failure: 'http',
                  detail: text.slice(0, MAX_ERROR_BODY).trim(),
                },
          );
        });
      },
    );
    // Settles here rather than in the error handler, so a request that is cut off mid-response
    // still counts as a timeout (and the promise cannot be left hanging).
    const timer = setTimeout(() => {
      finish({
        delivered: false,
        httpStatus: null,
        error: 'timeout',
        failure: 'timeout',
        detail: `no response within ${request.timeoutMs} ms`,
      });
      req.destroy();
    }, request.timeoutMs);
    req.on('error', (error) =>
      finish({
        delivered: false,
        httpStatus: null,
        ...classifyRequestError(error),
        detail: detailOf(error),
      }),
    );
    req.end(request.body);
  });
}
