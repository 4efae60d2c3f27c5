// `npm run bench:profile` (diagnostic, writes no report): where the Worker's CPU goes on the
// ack path. Starts a `wrangler dev`, posts new-task callbacks (video, one 1 KiB file on the local
// origin, so their archives run too), and records a V8 CPU profile of the Worker's isolate over
// wrangler's inspector proxy while it posts `--tasks` more and waits `--settle` ms for what
// follows them (archives, index writes). Prints the CPU the Worker's workerd used per task (from
// /proc) and the functions with the most self and inclusive time per task; `--save FILE` keeps
// the profile (open it in Chrome DevTools → Performance).
//
// The Durable Objects run in the Worker's isolate, so their SQL shows as `exec` under the
// function that ran it. Local D1, the queue broker and R2 run in other isolates of the same
// workerd (in its /proc CPU, not in the profile). Sampling adds overhead: compare profiles with
// each other, not with `npm run bench`.
//
// `--media none` posts music `text` callbacks instead (a new task without files: the ack path
// and its index write alone). Besides the top functions it prints where the storage calls go:
// the time of each native storage call (SQL statements, the alarm, queue sends, R2 puts, D1)
// attributed to the function of ours that made it.
//
//   node bench/profile.ts [--tasks 1000] [--connections 16] [--settle 6000] [--save FILE]
//                         [--media video|none]
//                         [--cwd DIR]   (another copy of the project, node_modules beside it: an A/B)

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Client } from "../support/client.ts";
import { startDevServer } from "../support/dev-server.ts";
import { DEV_VARS } from "../support/dev-vars.ts";
import { mediaUrl } from "../support/media-url.ts";
import { startOrigin } from "../support/origin.ts";
import { videoCallback } from "./callbacks.ts";
import { mapLimit, progress, sleep } from "./measure.ts";
import { cpuMs, workerdPids } from "./workerd.ts";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "1000" },
    connections: { type: "string", default: "16" },
    settle: { type: "string", default: "6000" },
    save: { type: "string" },
    cwd: { type: "string" },
    media: { type: "string", default: "video" },
  },
});
const tasks = Number(values.tasks);

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/** A minimal Chrome DevTools Protocol session over wrangler's inspector proxy. */
async function inspect(port: string) {
  // wrangler's proxy accepts a local Origin only; Node's WebSocket (undici) takes headers.
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { Origin: `http://127.0.0.1:${port}` },
  } as unknown as string[]);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  let lastId = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
    const message = JSON.parse(text) as { id?: number; result?: unknown };
    // The proxy renumbers the requests it forwards (it adds a large offset).
    const id = message.id === undefined ? undefined : message.id % 100_000_000;
    if (id !== undefined) waiting.get(id)?.(message.result);
  });
  return {
    call: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        const id = ++lastId;
        waiting.set(id, resolve as (result: unknown) => void);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

const label = ({ functionName, url, lineNumber }: CallFrame) =>
  `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`;

/** Self and inclusive milliseconds per function (by name and place), over the whole profile. */
function tally(profile: Profile) {
  const msPerSample = (profile.endTime - profile.startTime) / profile.samples.length / 1000;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const hits = new Map<number, number>();
  for (const sample of profile.samples) hits.set(sample, (hits.get(sample) ?? 0) + 1);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  /** Native storage calls (a leaf with no script) by the nearest function of the Worker's bundle. */
  const storage = new Map<string, number>();
  for (const [id, count] of hits) {
    const ms = count * msPerSample;
    const leaf = nodes.get(id);
    if (leaf) self.set(label(leaf.callFrame), (self.get(label(leaf.callFrame)) ?? 0) + ms);
    if (leaf && STORAGE_CALLS.has(leaf.callFrame.functionName) && leaf.callFrame.url === "") {
      let caller = parents.get(leaf.id);
      while (caller !== undefined && !isOurs(nodes.get(caller)?.callFrame)) caller = parents.get(caller);
      const frame = caller === undefined ? undefined : nodes.get(caller)?.callFrame;
      const key = `${leaf.callFrame.functionName} ← ${frame ? label(frame) : "(unknown)"}`;
      storage.set(key, (storage.get(key) ?? 0) + ms);
    }
    const counted = new Set<string>(); // a recursive function counts once per sample
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const node = nodes.get(at);
      if (!node) break;
      const key = label(node.callFrame);
      if (counted.has(key)) continue;
      counted.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  return { self, inclusive, storage };
}

/** The native calls that reach storage or another binding: SQL, the alarm, the queue, R2, D1. */
const STORAGE_CALLS = new Set([
  "exec",
  "one",
  "toArray",
  "next",
  "setAlarm",
  "getAlarm",
  "deleteAlarm",
  "send",
  "sendBatch",
  "put",
  "get",
  "batch",
]);
/** A named function of the Worker's bundle (not the runtime's, not an arrow without a name). */
const isOurs = (frame: CallFrame | undefined) =>
  frame?.url.endsWith("index.js") === true && frame.functionName !== "";

const top = (totals: Map<string, number>, count: number) =>
  [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, ms]) => `${(ms / tasks).toFixed(3).padStart(8)} ms/task  ${key}`)
    .join("\n");

const origin = await startOrigin();
const server = await startDevServer({ logLevel: "warn", cwd: values.cwd });
try {
  const client = new Client({
    url: server.url,
    callbackToken: DEV_VARS.CALLBACK_TOKENS,
    apiToken: DEV_VARS.API_TOKEN,
  });
  const file = mediaUrl(origin.url, { name: "profile.mp4", size: 1024, seed: 1, type: "video/mp4" });
  const run = Date.now().toString(36);
  const callback = (taskId: string) =>
    values.media === "none"
      ? {
          code: 200,
          msg: "Text generation completed successfully.",
          data: { callbackType: "text", task_id: taskId, data: [] },
        }
      : videoCallback(taskId, file);
  const post = (prefix: string, count: number) =>
    mapLimit(
      Array.from({ length: count }, (_, i) => i),
      Number(values.connections),
      async (i) => {
        const response = await client.postCallback(callback(`profile-${run}-${prefix}-${i}`));
        await response.text();
        if (response.status !== 200) throw new Error(`POST /callbacks answered ${response.status}`);
      },
    );
  progress("profile: warm-up (200 tasks)");
  await post("warm", 200);
  await sleep(Number(values.settle));

  const inspector = await inspect(server.args[server.args.indexOf("--inspector-port") + 1] ?? "");
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: 200 });
  const { runtime } = workerdPids(server.pid, server.port);
  const cpuBefore = cpuMs(runtime);
  await inspector.call("Profiler.start");
  progress(`profile: ${tasks} new tasks at ${values.connections} connections`);
  const started = Date.now();
  await post("load", tasks);
  const seconds = (Date.now() - started) / 1000;
  await sleep(Number(values.settle));
  const cpuAfter = cpuMs(runtime);
  const { profile } = await inspector.call<{ profile: Profile }>("Profiler.stop");
  inspector.close();
  if (values.save) writeFileSync(values.save, JSON.stringify(profile));

  const cpu = cpuBefore !== null && cpuAfter !== null ? ((cpuAfter - cpuBefore) / tasks).toFixed(2) : "?";
  console.log(
    `${tasks} new tasks in ${seconds.toFixed(1)} s (${(tasks / seconds).toFixed(0)}/s); ` +
      `the Worker's workerd used ${cpu} ms CPU per task, ${values.media === "none" ? "its index write" : "its archive and index write"} included`,
  );
  const { self, inclusive, storage } = tally(profile);
  console.log(`\nself time, per task\n${top(self, 25)}`);
  console.log(`\ninclusive time, per task\n${top(inclusive, 45)}`);
  console.log(`\nstorage and binding calls by the function that made them, per task\n${top(storage, 40)}`);
} finally {
  await server.stop();
  await origin.close();
}
