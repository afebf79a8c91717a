import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../logger.js';
import type { TrustProxy } from './client-address.js';

const WARNING =
  'Requests arrive with X-Forwarded-For but TRUST_PROXY is off: every client behind the proxy ' +
  'counts as the proxy for per-address budgets and logs. Set TRUST_PROXY to the number of proxy ' +
  'hops or to the proxy addresses.';

/**
 * Notices, in production, a proxy in front of an instance told to trust none: the first request
 * with X-Forwarded-For is logged once, and /readyz carries the warning from then on (still 200:
 * the instance works, it just counts every client as one).
 */
export class ForwardedForWatch {
  #warning: string | undefined;

  constructor(
    private readonly log: Logger,
    private readonly enabled: boolean,
  ) {}

  static for(log: Logger, options: { production: boolean; trustProxy: TrustProxy }) {
    return new ForwardedForWatch(log, options.production && options.trustProxy.kind === 'none');
  }

  observe(headers: IncomingHttpHeaders): void {
    if (!this.enabled || this.#warning !== undefined) return;
    if (headers['x-forwarded-for'] === undefined) return;
    this.#warning = WARNING;
    this.log.warn({ setting: 'TRUST_PROXY' }, WARNING);
  }

  /** Set once a forwarded request has been seen. */
  get warning(): string | undefined {
    return this.#warning;
  }
}
