// `npm run simulate`: plays the provider against a running `npm run dev` and shows the receiver
// archive everything. It starts a local media origin, sends the callbacks of tools/scenario.ts
// (music text → first → complete plus a duplicate and a late `first`, a 12-stem separation, a
// 40 MB video), draws one progress bar per task from `GET /tasks/:taskId`, and ends with a table
// of what was stored, how long it took and the signed links. Exit code 1 when a task is not
// archived in time (or a check fails), 2 when the receiver cannot be reached.

import { parseArgs } from "node:util";
import { MultiBar, type SingleBar } from "cli-progress";
import Table from "cli-table3";
import { startOrigin } from "../test/helpers/origin.ts";
import { DEV_EVENTS_PORT, watchSimulatorEvents } from "./events-endpoint.ts";
import {
  absoluteLink,
  checkReceiver,
  DEMO_SIZES,
  expectedSha256,
  planScenario,
  ReceiverUnreachableError,
  type RunResult,
  runScenario,
  ScenarioError,
  type StepResult,
  type TaskProgress,
  TEST_SIZES,
} from "./scenario.ts";

const USAGE = `Plays the music API provider against a running receiver (start it first with \`npm run dev\`).

Usage: npm run simulate -- [options]

  --url <url>              receiver base URL (default http://127.0.0.1:8787)
  --port <n>               shorthand for --url http://127.0.0.1:<n>
  --callback-token <t>     ?token= of the callbacks (default dev-callback-token)
  --api-token <t>          bearer token of GET /tasks (default dev-api-token)
  --timeout <seconds>      give up on tasks not archived by then (default 180)
  --small                  small files (about 15 MB instead of 75 MB)
  --delay <ms>             pause between callbacks (default 400)
  --events-port <n>        where this receives the outbound events (default ${DEV_EVENTS_PORT})
  -h, --help               this text
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function options() {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.url && values.port) fail("give either --url or --port, not both");
  let url = values.url ?? "http://127.0.0.1:8787";
  if (values.port) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(`--port must be a port number`);
    url = `http://127.0.0.1:${port}`;
  }
  try {
    url = new URL(url).origin;
  } catch {
    fail(`--url must be a URL like http://127.0.0.1:8787, not ${url}`);
  }
  const timeout = Number(values.timeout ?? "180");
  if (!(timeout > 0)) fail("--timeout must be a positive number of seconds");
  const delay = Number(values.delay ?? "400");
  if (!(delay >= 0)) fail("--delay must be a number of milliseconds");
  return {
    receiver: {
      url,
      callbackToken: values["callback-token"] ?? "dev-callback-token",
      apiToken: values["api-token"] ?? "dev-api-token",
    },
    timeoutMs: timeout * 1000,
    stepDelayMs: delay,
    sizes: values.small ? TEST_SIZES : DEMO_SIZES,
    eventsPort: Number(values["events-port"] ?? DEV_EVENTS_PORT),
  };
}

function parse() {
  return parseArgs({
    options: {
      url: { type: "string" },
      port: { type: "string" },
      "callback-token": { type: "string" },
      "api-token": { type: "string" },
      timeout: { type: "string" },
      delay: { type: "string" },
      "events-port": { type: "string" },
      small: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
}

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
const tty = Boolean(process.stdout.isTTY);

/** One bar per task on a terminal; one line per change otherwise (CI, a pipe). */
function progressView(progress: readonly TaskProgress[], startedAt: number) {
  const width = Math.max(...progress.map((entry) => entry.task.taskId.length));
  const describe = (entry: TaskProgress) => {
    const status = entry.status;
    const downloading = status?.assets.filter((asset) => asset.state === "downloading").length ?? 0;
    const state = !status
      ? "waiting for callback"
      : status.archive.state === "archiving" && downloading > 0
        ? `archiving, ${downloading} downloading`
        : status.archive.state;
    return {
      task: entry.task.taskId.padEnd(width),
      assets: status ? `${status.archive.stored}/${status.archive.total}`.padStart(5) : "  -/-",
      bytes: `${mb(status?.archive.bytes ?? 0)} / ${mb(entry.task.bytes)}`.padStart(19),
      state,
      stored: status?.archive.bytes ?? 0,
    };
  };

  if (!tty) {
    const last = new Map<string, string>();
    return {
      update(entries: readonly TaskProgress[]) {
        for (const entry of entries) {
          const d = describe(entry);
          const line = `${d.task}  ${d.assets} assets  ${d.bytes}  ${d.state}`;
          if (last.get(entry.task.taskId) === line) continue;
          last.set(entry.task.taskId, line);
          const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(5);
          process.stdout.write(`[${seconds}s] ${line}\n`);
        }
      },
      log: (line: string) => process.stdout.write(`${line}\n`),
      stop() {},
    };
  }

  const multibar = new MultiBar({
    format: " {task} {bar} {percentage}% | {assets} assets | {bytes} | {state}",
    barsize: 28,
    barCompleteChar: "\u2588",
    barIncompleteChar: "\u2591",
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    autopadding: true,
    fps: 10,
    gracefulExit: true,
  });
  const bars = new Map<string, SingleBar>();
  for (const entry of progress) {
    const d = describe(entry);
    bars.set(entry.task.taskId, multibar.create(entry.task.bytes, 0, d));
  }
  return {
    update(entries: readonly TaskProgress[]) {
      for (const entry of entries) {
        const d = describe(entry);
        bars.get(entry.task.taskId)?.update(d.stored, d);
      }
    },
    log: (line: string) => multibar.log(`${line}\n`),
    stop: () => multibar.stop(),
  };
}

function stepLine(result: StepResult): string {
  const answer = result.body as { duplicate?: boolean } | null;
  const outcome =
    result.status === 200 ? (answer?.duplicate ? "200 duplicate" : "200 received") : `${result.status}`;
  const tries = result.attempts > 1 ? `, ${result.attempts} tries` : "";
  return `  POST ${result.step.path.padEnd(22)} ${result.step.label.padEnd(36)} → ${outcome} (${result.ms} ms${tries})`;
}

/** Table chars that draw no borders: columns stay aligned and links copy cleanly. */
const PLAIN = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "  ",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/** `<trackId>/audio` → `c5ea1489…/audio`: the track ids are long and the link names the asset anyway. */
const shortAsset = (name: string) => name.replace(/^([0-9a-f]{8})[0-9a-f-]{28}\//, "$1…/");

async function report(result: RunResult, receiverUrl: string) {
  const receiver = { url: receiverUrl, callbackToken: "", apiToken: "" };
  const head = tty ? ["cyan"] : [];
  const summary = new Table({
    head: ["task", "kind", "assets stored", "bytes", "callback → archived", "archive", "sha256 checked"],
    colAligns: ["left", "left", "right", "right", "right", "left", "right"],
    style: { head, border: [] },
  });
  const links = new Table({
    head: ["asset", "bytes", "sha256", "signed link"],
    colAligns: ["left", "right", "left", "left"],
    chars: PLAIN,
    style: { head, border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const outcome of result.tasks) {
    const archive = outcome.status?.archive;
    let verified = 0;
    links.push([{ colSpan: 4, content: `${outcome.task.kind} ${outcome.task.taskId}` }]);
    for (const file of outcome.task.files) {
      const asset = outcome.status?.assets.find((candidate) => candidate.name === file.asset);
      const matches = asset?.bytes === file.size && asset?.sha256 === (await expectedSha256(file));
      if (matches) verified += 1;
      links.push([
        `  ${shortAsset(file.asset)}`,
        asset?.bytes?.toLocaleString("en-US") ?? "-",
        asset?.sha256 ? `${asset.sha256.slice(0, 12)}… ${matches ? "ok" : "MISMATCH"}` : "-",
        absoluteLink(receiver, asset?.url ?? null) ?? asset?.state ?? "missing",
      ]);
    }
    summary.push([
      outcome.task.taskId,
      outcome.task.kind,
      archive ? `${archive.stored}/${archive.total}` : "-",
      archive ? archive.bytes.toLocaleString("en-US") : "-",
      outcome.seconds === null ? "not in time" : `${outcome.seconds.toFixed(1)} s`,
      archive?.state ?? "unknown",
      `${verified}/${outcome.task.files.length}`,
    ]);
  }
  process.stdout.write(`\n${summary.toString()}\n\nSigned links (GET them as they are, no token needed):\n`);
  // The last column is padded to its widest cell; trailing blanks would only get in the way.
  const lines = links.toString().split("\n");
  process.stdout.write(`${lines.map((line) => line.trimEnd()).join("\n")}\n`);
}

/** Hours until the signed links expire (their `expires` query), for the closing line. */
function linkLifetimeHours(result: RunResult): number | null {
  for (const outcome of result.tasks) {
    for (const asset of outcome.status?.assets ?? []) {
      const expires = asset.url ? new URL(asset.url, "http://x").searchParams.get("expires") : null;
      if (expires) return Math.round((Number(expires) * 1000 - Date.now()) / 3_600_000);
    }
  }
  return null;
}

const unreachable = (error: ReceiverUnreachableError): never =>
  fail(
    `${error.message}.\nStart the receiver first, in another shell: npm run dev\n` +
      "(or point the simulator at it with --url / --port)",
  );

type ProgressView = ReturnType<typeof progressView>;

async function main() {
  const opts = options();
  try {
    await checkReceiver(opts.receiver);
  } catch (error) {
    if (error instanceof ReceiverUnreachableError) unreachable(error);
    throw error;
  }
  const origin = await startOrigin();
  let print = (line: string): void => void process.stdout.write(`${line}\n`);
  const events = await watchSimulatorEvents(opts.receiver.url, opts.eventsPort, (line) => print(line));
  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    void origin.close().finally(() => process.exit(130));
  });
  try {
    const scenario = planScenario({ originUrl: origin.url, sizes: opts.sizes });
    const files = scenario.tasks.reduce((sum, task) => sum + task.files.length, 0);
    const bytes = scenario.tasks.reduce((sum, task) => sum + task.bytes, 0);
    process.stdout.write(
      `receiver ${opts.receiver.url}\n` +
        `origin   ${origin.url} (${files} media files, ${mb(bytes)})\n\n` +
        `Sending ${scenario.steps.length} callbacks for ${scenario.tasks.length} tasks:\n`,
    );
    const startedAt = Date.now();
    // Created on the first poll; callback lines sent before that wait for it.
    const ui: { view: ProgressView | null; pending: string[] } = { view: null, pending: [] };
    let result: RunResult;
    try {
      result = await runScenario({
        receiver: opts.receiver,
        scenario,
        timeoutMs: opts.timeoutMs,
        stepDelayMs: opts.stepDelayMs,
        pollMs: 200,
        onStep: (step) => {
          if (ui.view) ui.view.log(stepLine(step));
          else ui.pending.push(stepLine(step));
        },
        onProgress: (progress) => {
          if (!ui.view) {
            ui.view = progressView(progress, startedAt);
            print = ui.view.log;
            for (const line of ui.pending.splice(0)) ui.view.log(line);
          }
          ui.view.update(progress);
        },
      });
    } finally {
      ui.view?.stop();
      print = (line: string): void => void process.stdout.write(`${line}\n`);
    }
    await report(result, opts.receiver.url);
    process.stdout.write(
      `\n${
        (await events?.summary(
          result.tasks.map((t) => t.task.taskId),
          5000,
        )) ?? ""
      }`,
    );
    const archived = result.tasks.filter((task) => task.archived).length;
    if (!result.ok) {
      process.stdout.write(`\n${archived} of ${result.tasks.length} tasks archived. Problems:\n`);
      for (const problem of result.problems) process.stdout.write(`  - ${problem}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(
        `\nAll ${result.tasks.length} tasks archived in ${result.seconds.toFixed(1)} s; every file's size and ` +
          `SHA-256 match what the origin served.\n` +
          `The signed links expire in about ${linkLifetimeHours(result) ?? "?"} h (MEDIA_LINK_TTL_SECONDS).\n`,
      );
    }
  } catch (error) {
    if (interrupted) return;
    if (error instanceof ReceiverUnreachableError) unreachable(error);
    if (error instanceof ScenarioError) fail(error.message);
    throw error;
  } finally {
    await events?.close();
    await origin.close();
  }
}

await main();
