// `npm run openapi`: writes the Worker's OpenAPI document (GET /openapi.json of a real
// `wrangler dev`) to openapi.json and the client's types generated from it to
// support/api-types.d.ts. `npm test` fails while either differs from what the Worker generates
// (test/integration/openapi.test.ts, test/node/api-document.test.ts).
//
//   node tools/openapi.ts

import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startDevServer } from "../support/dev-server.ts";
import { generateTypes } from "../support/openapi-types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const server = await startDevServer({ logLevel: "warn" });
try {
  const response = await fetch(`${server.url}/openapi.json`);
  if (response.status !== 200)
    throw new Error(`GET /openapi.json answered ${response.status}: ${await response.text()}`);
  const document = await response.json();
  writeFileSync(join(ROOT, "openapi.json"), `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(join(ROOT, "support", "api-types.d.ts"), await generateTypes(document));
  console.log("wrote openapi.json and support/api-types.d.ts");
} finally {
  await server.stop();
}
