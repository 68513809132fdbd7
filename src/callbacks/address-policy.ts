import net from 'node:net';

/**
 * Addresses a reseller's callback URL must not reach: our own machine, private networks and every
 * other special-purpose range (SSRF). Checked on the addresses a name actually resolves to, at
 * connect time, and on IP literals before that.
 *
 * The policy is data: every range of the IANA IPv4 and IPv6 Special-Purpose Address Registries
 * (RFC 6890 and updates), multicast and reserved space. A range that embeds an IPv4 address
 * (IPv4-mapped, the NAT64 well-known prefix, 6to4) is judged by that IPv4 address, so a DNS64
 * answer for a public host still works while `[64:ff9b::127.0.0.1]` does not.
 */
type Rule = { cidr: string; name: string; embedsIpv4At?: number };

export const refusedIpv4: Rule[] = [
  { cidr: '0.0.0.0/8', name: '"this network"' },
  { cidr: '10.0.0.0/8', name: 'private' },
  { cidr: '100.64.0.0/10', name: 'shared address space (CGNAT)' },
  { cidr: '127.0.0.0/8', name: 'loopback' },
  { cidr: '169.254.0.0/16', name: 'link-local' },
  { cidr: '172.16.0.0/12', name: 'private' },
  { cidr: '192.0.0.0/24', name: 'IETF protocol assignments' },
  { cidr: '192.0.2.0/24', name: 'documentation (TEST-NET-1)' },
  { cidr: '192.31.196.0/24', name: 'AS112-v4' },
  { cidr: '192.52.193.0/24', name: 'AMT' },
  { cidr: '192.88.99.0/24', name: 'deprecated 6to4 relay anycast' },
  { cidr: '192.168.0.0/16', name: 'private' },
  { cidr: '192.175.48.0/24', name: 'direct delegation AS112' },
  { cidr: '198.18.0.0/15', name: 'benchmarking' },
  { cidr: '198.51.100.0/24', name: 'documentation (TEST-NET-2)' },
  { cidr: '203.0.113.0/24', name: 'documentation (TEST-NET-3)' },
  { cidr: '224.0.0.0/4', name: 'multicast' },
  { cidr: '240.0.0.0/4', name: 'reserved, and limited broadcast' },
];

export const refusedIpv6: Rule[] = [
  { cidr: '::/96', name: 'unspecified, loopback and IPv4-compatible (deprecated)' },
  { cidr: '::ffff:0:0:0/96', name: 'IPv4-translated' },
  { cidr: '64:ff9b:1::/48', name: 'IPv4-IPv6 translation, local use' },
  { cidr: '100::/64', name: 'discard-only' },
  { cidr: '100:0:0:1::/64', name: 'dummy IPv6 prefix' },
  { cidr: '2001::/23', name: 'IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)' },
  { cidr: '2001:db8::/32', name: 'documentation' },
  { cidr: '3fff::/20', name: 'documentation' },
  { cidr: '5f00::/16', name: 'segment routing SIDs' },
  { cidr: 'fc00::/7', name: 'unique local' },
  { cidr: 'fe80::/10', name: 'link-local' },
  { cidr: 'fec0::/10', name: 'site-local (deprecated)' },
  { cidr: 'ff00::/8', name: 'multicast' },
];

/** IPv6 ranges that carry an IPv4 address (at this bit offset from the top): judged by that address. */
export const embeddingIpv6: Rule[] = [
  { cidr: '::ffff:0:0/96', name: 'IPv4-mapped', embedsIpv4At: 96 },
  { cidr: '64:ff9b::/96', name: 'NAT64 well-known prefix', embedsIpv4At: 96 },
  { cidr: '2002::/16', name: '6to4', embedsIpv4At: 16 },
];

type Range = Rule & { base: bigint; mask: bigint; width: number };

const compile = (rules: Rule[], width: number): Range[] => rules.map((rule) => {
  const [base, bits] = rule.cidr.split('/') as [string, string];
  const value = width === 32 ? parseIpv4(base) : parseIpv6(base);
  if (value === undefined) throw new Error(`address policy: bad range ${rule.cidr}`);
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - Number(bits))) - 1n);
  return { ...rule, base: value & mask, mask, width };
});

const ipv4Ranges = compile(refusedIpv4, 32);
const ipv6Ranges = compile(refusedIpv6, 128);
const ipv6Embedding = compile(embeddingIpv6, 128);

/** Why an address is refused, or undefined when it is an ordinary public unicast address. */
export function refusalReason(address: string): string | undefined {
  const text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v4 = net.isIPv4(text) ? parseIpv4(text) : undefined;
  if (v4 !== undefined) return ipv4Ranges.find((r) => (v4 & r.mask) === r.base)?.name;
  const v6 = net.isIPv6(text) ? parseIpv6(text) : undefined;
  if (v6 === undefined) return 'not an IP address';
  const whole = ipv6Ranges.find((r) => (v6 & r.mask) === r.base);
  if (whole) return whole.name;
  const carrier = ipv6Embedding.find((r) => (v6 & r.mask) === r.base);
  if (carrier) {
    const inner = (v6 >> BigInt(128 - carrier.embedsIpv4At! - 32)) & 0xffffffffn;
    const innerReason = ipv4Ranges.find((r) => (inner & r.mask) === r.base)?.name;
    return innerReason && `${carrier.name} of a ${innerReason} address`;
  }
  return undefined;
}

export function isPrivateAddress(address: string): boolean {
  return refusalReason(address) !== undefined;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => (n << 8n) | BigInt(Number(p)), 0n);
}

function parseIpv6(text: string): bigint | undefined {
  let groups = text.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(groups);
  if (dotted) {
    const v4 = parseIpv4(dotted[1]!);
    if (v4 === undefined) return undefined;
    groups = `${groups.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = groups.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}
