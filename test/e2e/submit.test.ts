// End to end through stemvault's submit API, outside workerd's test pool: a real `wrangler dev`
// whose PROVIDER_API_BASE is the fake provider of the local origin (support/fake-provider.ts),
// which — like the real provider — answers, then posts each job's callbacks to the callBackUrl
// stemvault gave it. The loop of `npm run simulate -- --submit` (support/submit-scenario.ts) is
// played once; each test then checks one thing of the result.

import { createHash } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Client } from "../../support/client";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { createFakeProvider, type FakeProvider } from "../../support/fake-provider";
import { type Origin, startOrigin } from "../../support/origin";
import { mediaSha256 } from "../../support/pattern";
import { TEST_SIZES } from "../../support/scenario";
import { runSubmitScenario, SUBMIT_JOBS } from "../../support/submit-scenario";

const PROVIDER_KEY = "e2e-provider-key";

let origin: Origin;
let provider: FakeProvider;
let server: DevServer;
let client: Client;
let result: Awaited<ReturnType<typeof runSubmitScenario>>;

beforeAll(async () => {
  origin = await startOrigin();
  provider = createFakeProvider({
    originUrl: origin.url,
    apiKey: PROVIDER_KEY,
    deliver: "post",
    sizes: TEST_SIZES,
  });
  origin.setProviderHandler(provider.handle);
  origin.setControlHandler(provider.control);
  server = await startDevServer({
    logLevel: "warn",
    vars: { PROVIDER_API_BASE: `${origin.url}/provider`, PROVIDER_API_KEY: PROVIDER_KEY },
  });
  client = Client.dev(server.url);
  const started = Date.now();
  try {
    result = await runSubmitScenario({ client, provider, timeoutMs: 60_000, pollMs: 100 });
  } finally {
    // What a slow or failed run needs to be understood: how long it took, what the Worker said.
    if (!result || result.problems.length > 0) {
      console.error(
        `scenario ended after ${Date.now() - started} ms; wrangler dev output:\n${server.output()}`,
      );
    }
  }
  // The dev server's start (up to a minute on a busy machine) and the scenario's own minute.
}, 180_000);

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    const output = server?.output().trim();
    if (output) console.error(`wrangler dev output:\n${output}`);
  });
});

afterAll(async () => {
  await server?.stop();
  await origin?.close();
});

describe("npm run simulate -- --submit against wrangler dev", () => {
  it("archives every submitted job from the provider's own callbacks", () => {
    expect(result.problems).toEqual([]);
    expect(result.tasks.map((task) => [task.task.kind, task.status?.archive.state])).toEqual([
      ["music", "archived"],
      ["separation", "archived"],
      ["video", "archived"],
    ]);
  });

  it("reached the provider once per job, with the key, the JSON and the kind's callback URL", () => {
    const calls = provider.submissions();
    expect(calls.map((call) => call.path)).toEqual(SUBMIT_JOBS.map((job) => job.path));
    for (const [index, call] of calls.entries()) {
      expect(call.status).toBe(200);
      expect(call.callBackUrl).toBe(
        `${server.url}/callbacks/${result.tasks[index]?.task.kind}?token=dev-callback-token`,
      );
      expect(call.body).toEqual({ ...SUBMIT_JOBS[index]?.body, callBackUrl: call.callBackUrl });
    }
    // The retry with the first job's key was a replay, not a second job.
    expect(result.submits.map((step) => step.replay)).toEqual([false, false, false, true]);
    expect(result.submits[3]?.taskId).toBe(result.submits[0]?.taskId);
  });

  it("posted every callback, and the receiver took each", () => {
    for (const outcome of result.tasks) {
      const job = provider.job(outcome.task.taskId);
      expect(job?.deliveries.map((delivery) => delivery.status)).toEqual(job?.callbacks.map(() => 200));
    }
  });

  it("shows each task as submitted, with its request", () => {
    const music = result.tasks[0]?.status;
    expect(music?.via).toBe("submit");
    expect(music?.request).toEqual(SUBMIT_JOBS[0].body);
  });

  it("serves every archived file back byte-exact", async () => {
    let files = 0;
    for (const outcome of result.tasks) {
      for (const file of outcome.task.files) {
        const asset = outcome.status?.assets.find((candidate) => candidate.name === file.asset);
        expect(asset?.url, `${outcome.task.taskId} ${file.asset}`).toBeTruthy();
        const response = await fetch(client.link(asset?.url as string));
        expect(response.status).toBe(200);
        const hash = createHash("sha256");
        let size = 0;
        for await (const chunk of response.body as ReadableStream<Uint8Array>) {
          size += chunk.byteLength;
          hash.update(chunk);
        }
        expect(size).toBe(file.size);
        expect(hash.digest("hex")).toBe(await mediaSha256(file.name, file.size, file.seed));
        files++;
      }
    }
    expect(files).toBe(4 + 12 + 1);
  });
});
