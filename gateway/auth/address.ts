/** Client addresses as protocols report them, and the IP allow/deny lists matched against them. */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * The client IP of an address as a socket reports it, without a port (`req.socket.remoteAddress`):
 * `::ffff:10.1.2.3` (IPv4 on a dual-stack listener) becomes `10.1.2.3`, anything else is kept.
 */
export function plainIp(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The client IP of an `address:port` string: what every protocol builds as
 * peerAddress(socket) (`10.0.0.5:51234`, `::1:51234`,
 * `::ffff:10.0.0.5:51234`), or `[v6]:port`. An address with no colon (`10.0.0.5`, `internal`) is
 * kept. The last `:digits` is always the port here, so a bare IPv6 address (`2001:db8::1:2`) would
 * lose its last group: give those to plainIp.
 */
export function clientIp(remoteAddress: string): string {
  const bracket = /^\[(.*)\]:\d{1,5}$/.exec(remoteAddress);
  if (bracket) return plainIp(bracket[1]!);
  const m = /^(.*):(\d{1,5})$/.exec(remoteAddress);
  if (m && (isIPv4(m[1]!) || isIPv6(m[1]!))) return plainIp(m[1]!);
  return plainIp(remoteAddress);
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.');
}

/** An allow list and a deny list of addresses and CIDRs; deny wins, an empty allow list allows all. */
export class IpFilter {
  private readonly allow: BlockList | undefined;
  private readonly deny: BlockList | undefined;

  constructor(lists: { readonly allow: readonly string[]; readonly deny: readonly string[] }) {
    this.allow = blockList(lists.allow);
    this.deny = blockList(lists.deny);
  }

  allows(ip: string): boolean {
    if (inList(this.deny, ip)) return false;
    return !this.allow || inList(this.allow, ip);
  }
}

function blockList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function inList(list: BlockList | undefined, ip: string): boolean {
  if (!list) return false;
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}
