// The committed OpenAPI document, checked in Node (the validator compiles schemas with Ajv,
// which workerd does not allow): valid OpenAPI 3.1 by an independent validator, and the
// client's types are exactly what openapi-typescript generates from it. That the Worker serves
// this very document is checked in workerd (test/integration/openapi.test.ts) and against a real
// `wrangler dev` (test/e2e/).

import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { generateTypes } from "../../support/openapi-types.ts";

const root = new URL("../../", import.meta.url);
/** A fresh copy each time: the validator resolves $refs in place. */
const document = () => JSON.parse(readFileSync(new URL("openapi.json", root), "utf8"));

describe("openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(document());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("resolves every $ref", async () => {
    const validator = new Validator();
    await validator.validate(document());
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it("is what support/api-types.d.ts was generated from (run `npm run openapi` after a change)", async () => {
    const committed = readFileSync(new URL("support/api-types.d.ts", root), "utf8");
    expect(await generateTypes(document())).toBe(committed);
  });
});
