import { describe, expect, it } from "vitest";
import { ipAllowed, parseIpRanges } from "../../src/core/ip-ranges";

describe("IP allowlist", () => {
  const ranges = parseIpRanges(["203.0.113.7", "198.51.100.0/24", "2001:db8:abcd::/48", "2001:db8::1"]);

  it.each([
    ["203.0.113.7", true],
    ["203.0.113.8", false],
    ["198.51.100.0", true],
    ["198.51.100.255", true],
    ["198.51.101.1", false],
    ["2001:db8:abcd:12::5", true],
    ["2001:db8:abce::5", false],
    ["2001:db8::1", true],
    ["2001:db8::2", false],
    ["::ffff:198.51.100.9", true],
    ["::ffff:10.0.0.1", false],
  ])("%s is allowed: %s", (ip, allowed) => {
    expect(ipAllowed(ip, ranges)).toBe(allowed);
  });

  it("denies a missing or garbled address", () => {
    expect(ipAllowed(undefined, ranges)).toBe(false);
    expect(ipAllowed("", ranges)).toBe(false);
    expect(ipAllowed("203.0.113.7, 10.0.0.1", ranges)).toBe(false);
    expect(ipAllowed("not-an-ip", ranges)).toBe(false);
  });

  it("refuses a malformed allowlist entry instead of ignoring it", () => {
    expect(() => parseIpRanges(["198.51.100.0/33"])).toThrow();
    expect(() => parseIpRanges(["example.com"])).toThrow();
  });
});
