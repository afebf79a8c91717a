import { isIP } from 'node:net';

/**
 * Which proxies to believe about the client's address (TRUST_PROXY): none (the socket's peer is
 * the client), a number of hops (the load balancers in front of us), or a list of proxy addresses.
 */
export type TrustProxy =
  { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'list'; addresses: Set<string> };

export function parseTrustProxy(raw: string | undefined): TrustProxy | undefined {
  const value = raw?.trim().toLowerCase();
  if (!value || value === 'false' || value === '0') return { kind: 'none' };
  if (value === 'true') return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(value)) return { kind: 'hops', hops: Number(value) };
  const addresses = value.split(',').map((a) => a.trim());
  if (addresses.every((a) => isIP(a) !== 0)) return { kind: 'list', addresses: new Set(addresses) };
  return undefined;
}

function normalise(address: string): string {
  // IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d.
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The client's address: the socket peer, or, behind trusted proxies, the entry in
 * X-Forwarded-For that the outermost trusted proxy saw. Entries a client wrote itself sit further
 * left and are never believed.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: TrustProxy,
): string | undefined {
  const socket = peer ? normalise(peer) : undefined;
  if (trust.kind === 'none' || !forwardedFor) return socket;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => normalise(h.trim()))
    .filter(Boolean);
  // The chain from nearest to farthest: our peer, then X-Forwarded-For right to left.
  const chain = [socket, ...hops.reverse()];
  if (trust.kind === 'hops') return chain[Math.min(trust.hops, chain.length - 1)];
  let i = 0;
  while (i < chain.length - 1 && chain[i] !== undefined && trust.addresses.has(chain[i] ?? '')) {
    i++;
  }
  return chain[i];
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  // A zone (fe80::1%eth0) names the local interface, not a different client.
  const text = address.split('%')[0] ?? '';
  if (isIP(text) !== 6) return undefined;
  let head = text;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] && dotted[2]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[2].split('.').map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    head = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
  }
  const [left = '', right] = head.split('::');
  const parse = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const leftGroups = parse(left);
  const rightGroups = [...parse(right ?? ''), ...tail];
  const zeros = 8 - leftGroups.length - rightGroups.length;
  if (right === undefined && zeros !== 0) return undefined;
  return [...leftGroups, ...Array<number>(Math.max(0, zeros)).fill(0), ...rightGroups];
}

/**
 * The key a client address spends per-address budgets under. An IPv6 client counts against its
 * /64: one subscriber, one home or one VM gets a whole /64 and can use 2^64 addresses in it, so a
 * key per address would be no budget at all. IPv4 and IPv4-mapped IPv6 stay per address.
 */
export function addressBudgetKey(address: string): string {
  const groups = ipv6Groups(address);
  if (!groups) return address;
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
