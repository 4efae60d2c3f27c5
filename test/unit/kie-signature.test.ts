import { describe, expect, it } from "vitest";
import { checkTimestamp, verifyKieSignature } from "../../src/providers/kie-signature";
import { signKie } from "../helpers/kie";

// PROVIDERS.md §4.1: computed with OpenSSL, confirmed with WebCrypto.
const VECTORS = [
  {
    taskId: "test-task-1",
    timestamp: "1700000000",
    signature: "ih48RCm4DBnvaVSGvFV3T+mLtNUQ9bNKacEL4/ay1AA=",
  },
  {
    taskId: "test-task-1",
    timestamp: "1700000001",
    signature: "A8IdWvhVmJ2/U39BUD3Fnp19xJff9ziAK9hwevx5kyE=",
  },
  {
    taskId: "3e63b4cc88d52611159371f6af5571e7",
    timestamp: "1769670760",
    signature: "VhopjBxnoTFxj5xkmBcCsIqHp/CyWbcG30/x1YOkIpg=",
  },
];

const verify = (overrides: Partial<Parameters<typeof verifyKieSignature>[0]>) =>
  verifyKieSignature({
    key: "test-key",
    taskId: "test-task-1",
    timestamp: "1700000000",
    signature: "ih48RCm4DBnvaVSGvFV3T+mLtNUQ9bNKacEL4/ay1AA=",
    toleranceSeconds: 300,
    nowSeconds: 1700000010,
    ...overrides,
  });

describe("kie.ai webhook signature", () => {
  it.each(VECTORS)("signs $taskId at $timestamp like the documented vector", async (vector) => {
    expect(await signKie("test-key", vector.taskId, vector.timestamp)).toBe(vector.signature);
  });

  it.each(VECTORS)("accepts the documented vector for $taskId at $timestamp", async (vector) => {
    expect(await verify({ ...vector, nowSeconds: Number(vector.timestamp) })).toBe("ok");
  });

  it("rejects a signature made for another timestamp", async () => {
    expect(await verify({ timestamp: "1700000001" })).toBe("bad_signature");
  });

  it("rejects a signature made for another task", async () => {
    expect(await verify({ taskId: "test-task-2" })).toBe("bad_signature");
  });

  it("rejects a signature made with another key", async () => {
    expect(await verify({ key: "other-key" })).toBe("bad_signature");
  });

  it("rejects missing headers", async () => {
    expect(await verify({ signature: null })).toBe("missing_headers");
    expect(await verify({ timestamp: undefined })).toBe("missing_headers");
  });

  it("rejects a signature that is not the canonical base64 of 32 bytes as malformed", async () => {
    expect(await verify({ signature: "not base64 at all!" })).toBe("malformed_signature");
    expect(await verify({ signature: "aGVsbG8=" })).toBe("malformed_signature");
  });

  it("rejects a hex signature (the header carries base64)", async () => {
    const hex = "8a1e3c4429b80c19ef695486bc55774fe98bb4d510f5b34a69c10be3f6b2d400";
    // 64 hex digits are valid base64 characters, but decode to 48 bytes, not an HMAC-SHA256.
    expect(await verify({ signature: hex })).toBe("malformed_signature");
  });

  it("rejects a timestamp older than the tolerance", async () => {
    expect(await verify({ nowSeconds: 1700000301 })).toBe("stale_timestamp");
    expect(await verify({ nowSeconds: 1700000300 })).toBe("ok");
  });

  it("rejects a timestamp more than 60 s in the future", async () => {
    expect(await verify({ nowSeconds: 1699999939 })).toBe("future_timestamp");
    expect(await verify({ nowSeconds: 1699999940 })).toBe("ok");
  });

  it("rejects a timestamp that is not plain unix seconds", () => {
    expect(checkTimestamp("1700000000.5", 300, 1700000000)).toBe("malformed_timestamp");
    expect(checkTimestamp("-5", 300, 1700000000)).toBe("malformed_timestamp");
    expect(checkTimestamp("2023-11-14T22:13:20Z", 300, 1700000000)).toBe("malformed_timestamp");
  });
});

describe("base64 decoding of signatures", () => {
  it("rejects a non-canonical encoding of the right MAC (stray low bits)", async () => {
    const { fromBase64, fromBase64Url } = await import("../../src/core/crypto");
    expect(fromBase64("ih48RCm4DBnvaVSGvFV3T+mLtNUQ9bNKacEL4/ay1AA=")).not.toBeNull();
    expect(fromBase64("ih48RCm4DBnvaVSGvFV3T+mLtNUQ9bNKacEL4/ay1AB=")).toBeNull();
    expect(fromBase64Url("JqbdvKzeTw2WB1xxksrEwoaO9VyuFCh4pBDo9kyU1Mc")).not.toBeNull();
    expect(fromBase64Url("JqbdvKzeTw2WB1xxksrEwoaO9VyuFCh4pBDo9kyU1Md")).toBeNull();
  });
});
