import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { DestinationAddressPolicy } from '../../ports/delivery-client';

/** What kind of address a destination resolved to, as far as the policy cares. */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unspecified'
  | 'non-unicast';

const DESCRIPTIONS: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address',
  unspecified: 'an unspecified address (it reaches this host)',
  private: 'a private-network address',
  'link-local': 'a link-local/metadata address',
  'non-unicast': 'a multicast, broadcast or reserved address',
};

function subnets(entries: ReadonlyArray<readonly [string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of entries) {
    list.addSubnet(network, prefix, isIP(network) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

// IPv4 subnets also match their IPv4-mapped IPv6 forms (::ffff:127.0.0.1), so a mapped
// address cannot slip past as "IPv6".
const LOOPBACK = subnets([
  ['127.0.0.0', 8],
  ['::1', 128],
]);
const UNSPECIFIED = subnets([
  ['0.0.0.0', 8],
  ['::', 128],
]);
// Cloud metadata services live here: 169.254.169.254 (AWS, GCP, Azure) and AWS's fd00:ec2::254
// (in fc00::/7, below).
const LINK_LOCAL = subnets([
  ['169.254.0.0', 16],
  ['fe80::', 10],
]);
const PRIVATE = subnets([
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  // Carrier-grade NAT, used inside cloud providers' networks.
  ['100.64.0.0', 10],
  ['fc00::', 7],
]);
const NON_UNICAST = subnets([
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  ['ff00::', 8],
]);

// Classes of the addresses seen lately: an attempt checks its destination's address every time,
// and a BlockList check builds a SocketAddress per subnet list. Destinations repeat; the cache
// starts over once it holds this many.
const MAX_CLASSIFIED = 1_024;
const classified = new Map<string, AddressClass>();

/** Classifies an IPv4 or IPv6 address (no brackets); anything not special is `public`. */
export function classifyAddress(address: string): AddressClass {
  let kind = classified.get(address);
  if (kind === undefined) {
    kind = classifyUncached(address);
    if (classified.size >= MAX_CLASSIFIED) classified.clear();
    classified.set(address, kind);
  }
  return kind;
}

function classifyUncached(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`not an IP address: ${address}`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (LOOPBACK.check(address, type)) return 'loopback';
  if (UNSPECIFIED.check(address, type)) return 'unspecified';
  if (LINK_LOCAL.check(address, type)) return 'link-local';
  if (PRIVATE.check(address, type)) return 'private';
  if (NON_UNICAST.check(address, type)) return 'non-unicast';
  return 'public';
}

/**
 * Why the policy refuses to connect to `address`, or undefined when it may. Loopback (and the
 * unspecified address, which reaches this host) needs `allowLoopback`; private-network and
 * link-local addresses, the cloud metadata service among them, need `allowPrivate`; multicast,
 * broadcast and reserved addresses are never a destination.
 */
export function addressRefusal(
  address: string,
  policy: DestinationAddressPolicy,
): string | undefined {
  const kind = classifyAddress(address);
  const allowed =
    kind === 'public' ||
    ((kind === 'loopback' || kind === 'unspecified') && policy.allowLoopback) ||
    ((kind === 'private' || kind === 'link-local') && policy.allowPrivate);
  if (allowed) return undefined;
  return `destination resolves to ${address}, ${DESCRIPTIONS[kind as Exclude<AddressClass, 'public'>]}; refused by policy`;
}

/** The connection to a destination was not opened: the address it resolves to is refused. */
export class DestinationRefusedError extends Error {
  static readonly CODE = 'ERR_SQSTASH_DESTINATION_REFUSED';
  readonly code = DestinationRefusedError.CODE;
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefusedError';
  }
}

/** The address in a URL's host when it is an IP literal (`[::1]` without brackets), else undefined. */
export function literalAddress(url: string): string | undefined {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) === 0 ? undefined : host;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net.connect/tls.connect that resolves as usual and drops every address the
 * policy refuses, failing with DestinationRefusedError when none is left. It runs for each new
 * connection, on the addresses actually connected to, so a name that resolves to a public
 * address when published and to 169.254.169.254 later (DNS rebinding) is still refused.
 */
export function policyLookup(policy: DestinationAddressPolicy) {
  return (
    hostname: string,
    options: LookupOneOptions | LookupAllOptions,
    callback: LookupCallback,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const allowed = addresses.filter(({ address }) => !addressRefusal(address, policy));
      if (allowed.length === 0) {
        const first = addresses[0];
        const reason = first
          ? addressRefusal(first.address, policy)!
          : `${hostname} resolves to no address`;
        callback(new DestinationRefusedError(reason), []);
        return;
      }
      if (options.all) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
