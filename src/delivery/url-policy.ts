import dns from 'node:dns';
import net from 'node:net';

export interface WebhookUrlPolicy {
  /** Allow loopback, private, link-local and other non-public addresses (off: SSRF protection). */
  allowPrivateAddresses: boolean;
  requireHttps: boolean;
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

// Addresses a tenant must not make the server talk to: the host itself, the internal network,
// cloud metadata (169.254.169.254), carrier-grade NAT, multicast and reserved ranges.
const BLOCKED = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is not on the public internet. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return BLOCKED.check(mapped[1], 'ipv4');
  const family = net.isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) return BLOCKED.check(address, 'ipv6');
  return false;
}

/** The host of a URL without IPv6 brackets. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Why a webhook URL is refused, or undefined when it is acceptable. Host names are checked again
 * when each request is sent (see guardedLookup): a name may resolve differently by then.
 */
export function webhookUrlProblem(raw: string, policy: WebhookUrlPolicy): string | undefined {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    return `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https or http';
  if (policy.requireHttps && url.protocol !== 'https:') return 'must use https';
  if (url.username || url.password) return 'must not contain credentials';
  if (!policy.allowPrivateAddresses) {
    const host = bareHost(url);
    if (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)) {
      return 'must point to a public address';
    }
  }
  return undefined;
}

/**
 * A `lookup` for http.request that refuses names resolving to a non-public address, so a DNS
 * answer changed after the URL was saved (DNS rebinding) cannot reach the internal network.
 */
export const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) {
      callback(error, '', 0);
      return;
    }
    const refused = addresses.find((a) => isPrivateAddress(a.address));
    const first = addresses[0];
    if (refused || !first) {
      const refusal: NodeJS.ErrnoException = new Error(
        refused
          ? `${hostname} resolves to a non-public address (${refused.address})`
          : `${hostname} has no address`,
      );
      refusal.code = 'EADDRNOTALLOWED';
      callback(refusal, '', 0);
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
};
