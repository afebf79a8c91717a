import type { IncomingHttpHeaders } from 'node:http';
import type { TenancyConfig } from '../config.js';
import type { TenantSelector } from '../db/operation.js';
import { BadUserInputError, TenantNotAllowedError } from '../errors.js';
import { TENANT_SLUG, UUID } from '../formats.js';

export interface TenantRequestParts {
  headers: IncomingHttpHeaders;
  /** The request's query string parameters. */
  search: URLSearchParams;
  host: string | undefined;
  /** The tenant claim of a verified token, if any. */
  claimTenantId: string | undefined;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() || undefined;
}

function toSelector(value: string, source: string): TenantSelector {
  if (UUID.test(value)) return { id: value.toLowerCase() };
  if (TENANT_SLUG.test(value)) return { slug: value };
  throw new BadUserInputError(
    source,
    `${source} must be a tenant id (uuid) or slug, got "${value}".`,
  );
}

/** How to name a tenant, for TENANT_REQUIRED messages. */
export function tenantHint(config: TenancyConfig): string {
  const ways: string[] = [];
  for (const source of config.order) {
    if (source === 'header') ways.push(`the ${config.idHeader} header (tenant id)`);
    if (source === 'slug-header') ways.push(`the ${config.slugHeader} header (tenant slug)`);
    if (source === 'query') ways.push(`the ?${config.queryParam}= query parameter`);
    if (source === 'subdomain' && config.baseDomain)
      ways.push(`a <slug>.${config.baseDomain} host`);
    if (source === 'claim') ways.push('a token from switchTenant');
  }
  return `This operation needs a tenant. Name it with ${ways.join(', or ')}.`;
}

/**
 * Which tenant a request is for, from the sources in TENANT_RESOLUTION order. Membership is not
 * checked here: that happens inside the operation's transaction, where RLS applies.
 */
export function resolveTenant(
  config: TenancyConfig,
  request: TenantRequestParts,
): TenantSelector | undefined {
  if (!config.enabled) {
    return config.defaultTenant ? toSelector(config.defaultTenant, 'DEFAULT_TENANT') : undefined;
  }
  const candidates: { source: string; selector: TenantSelector }[] = [];
  for (const source of config.order) {
    if (source === 'claim' && request.claimTenantId) {
      candidates.push({ source: 'token', selector: { id: request.claimTenantId } });
    }
    if (source === 'header') {
      const value = header(request.headers, config.idHeader);
      if (value !== undefined) {
        if (!UUID.test(value)) {
          throw new BadUserInputError(
            config.idHeader,
            `${config.idHeader} must be a tenant id (uuid).`,
          );
        }
        candidates.push({ source: config.idHeader, selector: { id: value.toLowerCase() } });
      }
    }
    if (source === 'slug-header') {
      const value = header(request.headers, config.slugHeader);
      if (value !== undefined) {
        if (!TENANT_SLUG.test(value)) {
          throw new BadUserInputError(
            config.slugHeader,
            `${config.slugHeader} must be a tenant slug.`,
          );
        }
        candidates.push({ source: config.slugHeader, selector: { slug: value } });
      }
    }
    if (source === 'query') {
      const value = request.search.get(config.queryParam)?.trim();
      if (value)
        candidates.push({
          source: config.queryParam,
          selector: toSelector(value, config.queryParam),
        });
    }
    if (source === 'subdomain' && config.baseDomain && request.host) {
      const host = request.host.split(':')[0]?.toLowerCase() ?? '';
      const suffix = `.${config.baseDomain.toLowerCase()}`;
      if (host.endsWith(suffix)) {
        const sub = host.slice(0, -suffix.length);
        if (TENANT_SLUG.test(sub))
          candidates.push({ source: 'subdomain', selector: { slug: sub } });
      }
    }
  }
  if (candidates.length === 0) {
    return config.defaultTenant ? toSelector(config.defaultTenant, 'DEFAULT_TENANT') : undefined;
  }
  // Every source that names a tenant must name the same one. Ids are compared here; an id and a
  // slug together are both handed to the lookup, which matches only a tenant having both.
  let id: string | undefined;
  let slug: string | undefined;
  let disagree = false;
  for (const { selector } of candidates) {
    if (selector.id) {
      disagree ||= id !== undefined && id !== selector.id;
      id = selector.id;
    }
    if (selector.slug) {
      disagree ||= slug !== undefined && slug !== selector.slug;
      slug = selector.slug;
    }
  }
  if (disagree) {
    const fromToken = candidates.some((c) => c.source === 'token');
    throw new TenantNotAllowedError(
      fromToken
        ? 'The request names a different tenant than your token. Use switchTenant to change tenants.'
        : `The request names more than one tenant (${candidates.map((c) => c.source).join(', ')}).`,
    );
  }
  return { id, slug };
}
