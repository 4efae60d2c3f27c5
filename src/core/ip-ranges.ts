import ipaddr from "ipaddr.js";

export type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses "203.0.113.7", "198.51.100.0/24", "2001:db8::/32"; throws on anything else. */
export function parseIpRanges(entries: string[]): IpRange[] {
  return entries.map((entry) => {
    if (entry.includes("/")) return ipaddr.parseCIDR(entry);
    const addr = ipaddr.parse(entry);
    return [addr, addr.kind() === "ipv4" ? 32 : 128];
  });
}

/** True when `ip` (v4, v6, or v4-mapped v6) falls inside one of the ranges. */
export function ipAllowed(ip: string | null | undefined, ranges: IpRange[]): boolean {
  if (!ip || !ipaddr.isValid(ip)) return false;
  const addr = ipaddr.process(ip); // unwraps ::ffff:a.b.c.d to IPv4
  return ranges.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));
}
