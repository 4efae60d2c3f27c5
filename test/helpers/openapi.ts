import { Validator } from "@cfworker/json-schema";
import { expect } from "vitest";

// Checks real answers of the Worker against its OpenAPI document, with an independent JSON
// Schema validator (@cfworker/json-schema: no code generation, so it runs inside workerd).

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Operation = { responses: Record<string, { content?: Record<string, { schema: Json }> }> };
export type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
};

/** `#/components/schemas/X` → `#/$defs/X`, so that a plain JSON Schema validator resolves it. */
function rewriteRefs(value: Json): Json {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        key === "$ref" && typeof inner === "string"
          ? inner.replace("#/components/schemas/", "#/$defs/")
          : rewriteRefs(inner),
      ]),
    );
  }
  return value;
}

/** Which documented (method, path, status) the tests have seen answered. */
export class DocumentedAnswers {
  readonly seen = new Set<string>();
  private readonly defs: Json;

  constructor(readonly document: OpenApiDocument) {
    this.defs = rewriteRefs(document.components.schemas as Json);
  }

  /**
   * Asserts that `response` is documented for the operation — its status, and for JSON its body
   * against the documented schema — and returns the parsed body.
   */
  async check(method: string, path: string, response: Response): Promise<unknown> {
    const operation = this.document.paths[path]?.[method.toLowerCase()];
    expect(operation, `${method} ${path} is not in the document`).toBeDefined();
    const documented = operation?.responses[String(response.status)];
    expect(
      documented,
      `${method} ${path} answered ${response.status}, which is not documented`,
    ).toBeDefined();
    this.seen.add(`${method.toLowerCase()} ${path} ${response.status}`);
    const schema = documented?.content?.["application/json"]?.schema;
    if (!schema) {
      await response.arrayBuffer();
      return null;
    }
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await response.json()) as Json;
    const validator = new Validator(
      { ...(rewriteRefs(schema) as object), $defs: this.defs } as never,
      "2020-12",
      false,
    );
    const result = validator.validate(body);
    expect(result.errors, `${method} ${path} ${response.status}: ${JSON.stringify(body)}`).toEqual([]);
    return body;
  }

  /** Operations of the document that no check has seen a 2xx of. */
  unexercised(): string[] {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(this.document.paths)) {
      for (const method of Object.keys(item)) {
        const prefix = `${method} ${path} 2`;
        if (![...this.seen].some((entry) => entry.startsWith(prefix))) missing.push(`${method} ${path}`);
      }
    }
    return missing;
  }
}
