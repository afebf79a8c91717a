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
