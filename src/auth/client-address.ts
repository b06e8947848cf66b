/**
 * The client address refused credentials are counted and limited by. `req.ip` is the socket's
 * peer unless ROSTER_TRUST_PROXY names the proxies whose X-Forwarded-For may be believed
 * (express `trust proxy`). An IPv6 client is counted by its /64, the block one subscriber gets:
 * counting single IPv6 addresses would let one machine appear as 2^64 clients.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function clientAddressKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip)) return 'unknown';
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function expandIPv6(ip: string): string[] {
  const withoutZone = ip.split('%')[0]!;
  const [head, tail] = withoutZone.includes('::') ? withoutZone.split('::') : [withoutZone, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return groups.map((g) => (g.includes('.') ? g : parseInt(g || '0', 16).toString(16)));
}
