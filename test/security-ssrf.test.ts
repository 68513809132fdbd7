import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../src/callbacks/address-policy.ts';
import { CallbackRefusedError, deliverCallback } from '../src/callbacks/deliver.ts';

/**
 * The reseller callback address policy, checked against every range of the IANA IPv4 and IPv6
 * Special-Purpose Address Registries (plus multicast, 240/4 and the deprecated ranges that still
 * route somewhere). A range is refused whole, or, where an IPv4 address is embedded (mapped,
 * NAT64 well-known prefix, 6to4), judged by that IPv4 address.
 *
 * This table is written out independently of the policy's own, so a range dropped there fails here.
 */
const refusedRanges: [name: string, cidr: string][] = [
  // IPv4 (RFC 6890 registry, and the address architecture)
  ['"this network" 0/8', '0.0.0.0/8'],
  ['private 10/8', '10.0.0.0/8'],
  ['shared address space (CGNAT) 100.64/10', '100.64.0.0/10'],
  ['loopback 127/8', '127.0.0.0/8'],
  ['link-local 169.254/16 (cloud metadata)', '169.254.0.0/16'],
  ['private 172.16/12', '172.16.0.0/12'],
  ['IETF protocol assignments 192.0.0/24', '192.0.0.0/24'],
  ['DS-Lite 192.0.0.0/29', '192.0.0.0/29'],
  ['NAT64/DNS64 discovery 192.0.0.170/31', '192.0.0.170/31'],
  ['documentation TEST-NET-1 192.0.2/24', '192.0.2.0/24'],
  ['AS112-v4 192.31.196/24', '192.31.196.0/24'],
  ['AMT 192.52.193/24', '192.52.193.0/24'],
  ['deprecated 6to4 relay anycast 192.88.99/24', '192.88.99.0/24'],
  ['private 192.168/16', '192.168.0.0/16'],
  ['direct delegation AS112 192.175.48/24', '192.175.48.0/24'],
  ['benchmarking 198.18/15', '198.18.0.0/15'],
  ['documentation TEST-NET-2 198.51.100/24', '198.51.100.0/24'],
  ['documentation TEST-NET-3 203.0.113/24', '203.0.113.0/24'],
  ['multicast 224/4', '224.0.0.0/4'],
  ['reserved 240/4', '240.0.0.0/4'],
  ['limited broadcast', '255.255.255.255/32'],
  // IPv6 (RFC 6890 registry and its updates)
  ['unspecified ::/128', '::/128'],
  ['loopback ::1/128', '::1/128'],
  ['IPv4-compatible (deprecated) ::/96', '::/96'],
  ['IPv4-translated ::ffff:0:0:0/96', '::ffff:0:0:0/96'],
  ['IPv4-IPv6 translation, local use 64:ff9b:1::/48', '64:ff9b:1::/48'],
  ['discard-only 100::/64', '100::/64'],
  ['dummy IPv6 prefix 100:0:0:1::/64', '100:0:0:1::/64'],
  ['IETF protocol assignments 2001::/23', '2001::/23'],
  ['Teredo 2001::/32', '2001::/32'],
  ['benchmarking 2001:2::/48', '2001:2::/48'],
  ['ORCHIDv2 2001:20::/28', '2001:20::/28'],
  ['documentation 2001:db8::/32', '2001:db8::/32'],
  ['documentation 3fff::/20', '3fff::/20'],
  ['segment routing SIDs 5f00::/16', '5f00::/16'],
  ['unique local fc00::/7', 'fc00::/7'],
  ['link-local fe80::/10', 'fe80::/10'],
  ['site-local (deprecated) fec0::/10', 'fec0::/10'],
  ['multicast ff00::/8', 'ff00::/8'],
];

/** Ranges that carry an IPv4 address: refused when that address is, allowed when it is public. */
const embedded: [name: string, address: string, refused: boolean][] = [
  ['IPv4-mapped loopback', '::ffff:127.0.0.1', true],
  ['IPv4-mapped private', '::ffff:10.1.2.3', true],
  ['IPv4-mapped metadata', '::ffff:169.254.169.254', true],
  ['IPv4-mapped public', '::ffff:8.8.8.8', false],
  ['IPv4-compatible loopback (the attack: [::127.0.0.1])', '::127.0.0.1', true],
  ['IPv4-compatible public (deprecated: refused whole)', '::8.8.8.8', true],
  ['NAT64 loopback (the attack: [64:ff9b::127.0.0.1])', '64:ff9b::127.0.0.1', true],
  ['NAT64 private', '64:ff9b::c0a8:101', true],
  ['NAT64 CGNAT', '64:ff9b::100.64.0.1', true],
  ['NAT64 public (DNS64 of a public IPv4 host)', '64:ff9b::8.8.8.8', false],
  ['6to4 of loopback', '2002:7f00:1::1', true],
  ['6to4 of a private address', '2002:c0a8:101::1', true],
  ['6to4 of 0/8', '2002:0:1::', true],
  ['6to4 of a public address', '2002:808:808::1', false],
];

const allowed = ['8.8.8.8', '114.114.114.114', '1.1.1.1', '223.5.5.5', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0',
  '198.17.255.255', '198.20.0.0', '223.255.255.255', '2400:3200::1', '2606:4700:4700::1111', '2001:4860:4860::8888', '2001:200::1'];

describe('SSRF address policy (IANA special-purpose registries)', () => {
  for (const [name, cidr] of refusedRanges) {
    const samples = sampleOf(cidr);
    it(`refuses ${name}: ${samples.join(', ')}`, () => {
      for (const address of samples) expect(isPrivateAddress(address), address).toBe(true);
    });
  }

  for (const [name, address, refused] of embedded) {
    it(`${refused ? 'refuses' : 'allows'} ${name}: ${address}`, () => {
      expect(isPrivateAddress(address)).toBe(refused);
    });
  }

  it('allows ordinary public unicast addresses, including the neighbours of refused ranges', () => {
    for (const address of allowed) expect(isPrivateAddress(address), address).toBe(false);
  });

  it('reads every spelling of an address the same way (zone ids, upper case, expanded, dotted tail)', () => {
    for (const address of ['fe80::1%eth0', 'FE80::1', '0:0:0:0:0:0:0:1', '::0.0.0.1', '0000:0000:0000:0000:0000:ffff:7f00:0001', '[::1]']) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
  });

  it('refuses what it cannot read', () => {
    for (const address of ['', 'localhost', '1.2.3', '999.1.1.1', ':::1', '1::2::3', 'gggg::1']) expect(isPrivateAddress(address), address).toBe(true);
  });
});

describe('SSRF guard on delivery', () => {
  let server: http.Server;
  let port: number;
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => { hits++; res.writeHead(200).end(); });
    await new Promise<void>((r) => server.listen(0, '::', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());

  for (const host of ['[::127.0.0.1]', '[64:ff9b::127.0.0.1]', '[::ffff:127.0.0.1]', '[::1]', '127.1', '2130706433', '0x7f.1', '[2002:7f00:1::1]']) {
    it(`refuses a callback URL to ${host} before connecting`, async () => {
      await expect(deliverCallback({ url: `http://${host}:${port}/cb`, body: '{}', secret: 's', allowPrivateAddresses: false })).rejects.toThrow(CallbackRefusedError);
      expect(hits).toBe(0);
    });
  }
});

/** First, last and a middle address of a CIDR block, written the way a resolver would return them. */
function sampleOf(cidr: string): string[] {
  const [base, bitsText] = cidr.split('/') as [string, string];
  const v6 = base.includes(':');
  const width = v6 ? 128 : 32;
  const bits = Number(bitsText);
  const first = v6 ? v6ToBig(base) : v4ToBig(base);
  const hostBits = BigInt(width - bits);
  const last = first | ((1n << hostBits) - 1n);
  const middle = first | ((1n << hostBits) >> 1n) | (hostBits > 2n ? 5n : 0n);
  const show = (n: bigint) => (v6 ? bigToV6(n) : bigToV4(n));
  return [...new Set([first, middle, last])].map(show);
}

function v4ToBig(a: string): bigint {
  return a.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}
const bigToV4 = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');

function v6ToBig(a: string): bigint {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}
const bigToV6 = (n: bigint) => Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
