import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { parseEventsSecret } from "../../src/core/events-config";
import { signEvent } from "../../src/events/signing";

const A = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1BISE=";
const B = "whsec_c3RlbXZhdWx0LXRlc3QtZXZlbnRzLXNlY3JldC1CISE=";
const key = (secret: string) => parseEventsSecret(secret) as Uint8Array;

describe("Standard Webhooks signing", () => {
  it("matches the reference library's signature byte for byte", async () => {
    const body = '{"type":"task.archived","timestamp":"2026-11-30T12:00:00.000Z","data":{"taskId":"t"}}';
    const headers = await signEvent("evt_0123456789abcdef0123456789abcdef", 1_796_040_000, body, [key(A)]);
    const expected = new Webhook(A).sign(
      "evt_0123456789abcdef0123456789abcdef",
      new Date(1_796_040_000_000),
      body,
    );
    expect(headers["webhook-signature"]).toBe(expected);
    expect(headers).toMatchObject({ "webhook-timestamp": "1796040000", "content-type": "application/json" });
  });

  it("signs once per secret, space-separated: a receiver with either one verifies", async () => {
    const body = '{"type":"task.failed","timestamp":"2026-11-30T12:00:00.000Z","data":{}}';
    const now = Math.floor(Date.now() / 1000);
    const headers = await signEvent("evt_1", now, body, [key(A), key(B)]);
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    const h = { ...headers } as unknown as Record<string, string>;
    expect(new Webhook(A).verify(body, h)).toEqual(JSON.parse(body));
    expect(new Webhook(B).verify(body, h)).toEqual(JSON.parse(body));
  });

  it("never signs without a key, nor an id the signed content could be confused by", async () => {
    await expect(signEvent("evt_1", 1, "{}", [])).rejects.toThrow(/unsigned/);
    await expect(signEvent("evt.1", 1, "{}", [key(A)])).rejects.toThrow(/'\.'/);
  });
});
