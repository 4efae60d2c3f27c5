// `npm run simulate`: plays the provider against a running `npm run dev` and shows the receiver
// archive everything. It starts a local media origin, sends the callbacks of support/scenario.ts
// (music text → first → complete plus a duplicate and a late `first`, a 12-stem separation, a
// 40 MB video), draws one progress bar per task from `GET /tasks/:taskId`, and ends with a table
// of what was stored, how long it took and the signed links. Exit code 1 when a task is not
// archived in time (or a check fails), 2 when the receiver cannot be reached.
//
// With --submit it plays the other half of the provider instead: it runs a fake provider API and
// submits jobs through the receiver's `POST /provider/<path>` (support/submit-scenario.ts); the
// fake provider posts the callbacks to the URL the receiver gave it. No callback is hand-posted.

import { parseArgs } from "node:util";
import { Client } from "../support/client.ts";
import { DEV_PROVIDER, DEV_VARS } from "../support/dev-vars.ts";
import { DEV_EVENTS_PORT, watchSimulatorEvents } from "../support/events-endpoint.ts";
import { createFakeProvider } from "../support/fake-provider.ts";
import { type Origin, startOrigin } from "../support/origin.ts";
import {
  checkReceiver,
  DEMO_SIZES,
  planScenario,
  ReceiverUnreachableError,
  type RunResult,
  runScenario,
  ScenarioError,
  type StepResult,
  type TaskProgress,
  TEST_SIZES,
} from "../support/scenario.ts";
import { runSubmitScenario, SubmitNotConfiguredError, type SubmitStep } from "../support/submit-scenario.ts";

const USAGE = `Plays the music API provider against a running receiver (start it first with \`npm run dev\`).

Usage: npm run simulate -- [options]

  --url <url>              receiver base URL (default http://127.0.0.1:8787)
  --port <n>               shorthand for --url http://127.0.0.1:<n>
  --callback-token <t>     ?token= of the callbacks (default ${DEV_VARS.CALLBACK_TOKENS})
  --api-token <t>          bearer token of GET /tasks (default ${DEV_VARS.API_TOKEN})
  --timeout <seconds>      give up on tasks not archived by then (default 180)
  --small                  small files (about 15 MB instead of 75 MB)
  --delay <ms>             pause between callbacks (default 400)
  --events-port <n>        where this receives the outbound events (default ${DEV_EVENTS_PORT})
  --submit                 submit jobs through the receiver (POST /provider/…) to a fake provider
                           that sends the callbacks itself; the receiver must be started with
                           npm run dev -- --var PROVIDER_API_BASE:${DEV_PROVIDER.base} --var PROVIDER_API_KEY:${DEV_PROVIDER.key}
  --provider-port <n>      the fake provider's port with --submit (default ${DEV_PROVIDER.port})
  -h, --help               this text
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function options() {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse().values;
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.url && values.port) fail("give either --url or --port, not both");
  let url = values.port ? `http://127.0.0.1:${values.port}` : (values.url ?? "http://127.0.0.1:8787");
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
    client: new Client({
      url,
      callbackToken: values["callback-token"] ?? DEV_VARS.CALLBACK_TOKENS,
      apiToken: values["api-token"] ?? DEV_VARS.API_TOKEN,
    }),
    timeoutMs: timeout * 1000,
    stepDelayMs: delay,
    sizes: values.small ? TEST_SIZES : DEMO_SIZES,
    eventsPort: Number(values["events-port"] ?? DEV_EVENTS_PORT),
    submit: values.submit === true,
    providerPort: Number(values["provider-port"] ?? DEV_PROVIDER.port),
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
      small: { type: "boolean" },
      "events-port": { type: "string" },
      submit: { type: "boolean" },
      "provider-port": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/** One line per task: a bar of the bytes stored, assets stored, bytes, state. */
function taskLine(entry: TaskProgress): string {
  const status = entry.status;
  const stored = status?.archive.bytes ?? 0;
  const done = Math.min(1, stored / entry.task.bytes);
  const width = 24;
  const bar = "█".repeat(Math.round(done * width)).padEnd(width, "░");
  const downloading = status?.assets.filter((asset) => asset.state === "downloading").length ?? 0;
  const state = !status
    ? "waiting for callback"
    : status.archive.state === "archiving" && downloading > 0
      ? `archiving, ${downloading} downloading`
      : status.archive.state;
  const assets = status ? `${status.archive.stored}/${status.archive.total}` : "-/-";
  const bytes = `${mb(stored)} / ${mb(entry.task.bytes)}`;
  return ` ${entry.task.kind.padEnd(10)} ${bar} ${`${Math.floor(done * 100)}%`.padStart(4)} │ ${assets.padStart(5)} assets │ ${bytes.padStart(17)} │ ${state}`;
}

/**
 * On a terminal: the task lines stay at the bottom and are redrawn in place on every poll;
 * callback lines are printed above them (the block is erased, the line written, the block drawn
 * again). Lines are cut to the terminal's width so that none wraps and the block's height stays
 * known. Elsewhere (a pipe, CI): every line once, and a task's line again only when it changed.
 */
function display() {
  const out = process.stdout;
  if (!out.isTTY) {
    const last = new Map<string, string>();
    const startedAt = Date.now();
    return {
      log: (line: string) => out.write(`${line}\n`),
      progress(entries: readonly TaskProgress[]) {
        for (const entry of entries) {
          const line = taskLine(entry);
          if (last.get(entry.task.taskId) === line) continue;
          last.set(entry.task.taskId, line);
          out.write(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)}s]${line}\n`);
        }
      },
      stop() {},
    };
  }
  let block: string[] = [];
  let drawn = 0;
  const clip = (line: string) => [...line].slice(0, Math.max(20, (out.columns || 80) - 1)).join("");
  const erase = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}F\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    out.write(block.map((line) => `${clip(line)}\n`).join(""));
    drawn = block.length;
  };
  const restoreCursor = () => out.write("\x1b[?25h");
  out.write("\x1b[?25l");
  process.once("exit", restoreCursor);
  return {
    log(line: string) {
      erase();
      out.write(`${line}\n`);
      draw();
    },
    progress(entries: readonly TaskProgress[]) {
      block = ["", ...entries.map(taskLine)];
      erase();
      draw();
    },
    stop: restoreCursor,
  };
}

function submitLine(step: SubmitStep): string {
  const outcome = `${step.status}${step.replay ? " replayed" : ""}${step.taskId ? ` task ${step.taskId}` : ""}`;
  return `  POST /provider${step.path.padEnd(31)} ${step.label.padEnd(38)} → ${outcome} (${step.ms} ms)`;
}

function stepLine(result: StepResult): string {
  const answer = result.body as { duplicate?: boolean } | null;
  const outcome =
    result.status === 200 ? (answer?.duplicate ? "200 duplicate" : "200 received") : `${result.status}`;
  const tries = result.attempts > 1 ? `, ${result.attempts} tries` : "";
  const path = `/callbacks${result.step.kind ? `/${result.step.kind}` : ""}`;
  return `  POST ${path.padEnd(21)} ${result.step.label.padEnd(35)} → ${outcome} (${result.ms} ms${tries})`;
}

/** Rows as columns two spaces apart; `right` names the right-aligned columns. */
function columns(rows: string[][], right: number[] = []): string {
  const widths =
    rows[0]?.map((_, index) => Math.max(...rows.map((row) => [...(row[index] ?? "")].length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          right.includes(index) ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** `<trackId>/audio` → `c5ea1489…/audio`: the track ids are long and the link names the asset anyway. */
const shortAsset = (name: string) => name.replace(/^([0-9a-f]{8})[0-9a-f-]{28}\//, "$1…/");

function report(result: RunResult, client: Client) {
  const summary = [
    ["task", "kind", "assets stored", "bytes", "callback → archived", "archive", "sha256 checked"],
  ];
  const links: string[] = [];
  for (const outcome of result.tasks) {
    const archive = outcome.status?.archive;
    const rows: string[][] = [];
    for (const file of outcome.task.files) {
      const asset = outcome.status?.assets.find((candidate) => candidate.name === file.asset);
      const wrong = outcome.problems.some((problem) =>
        problem.startsWith(`${outcome.task.taskId} ${file.asset}:`),
      );
      rows.push([
        `  ${shortAsset(file.asset)}`,
        asset?.bytes?.toLocaleString("en-US") ?? "-",
        asset?.sha256 ? `${asset.sha256.slice(0, 12)}… ${wrong ? "MISMATCH" : "ok"}` : "-",
        asset?.url ? client.link(asset.url) : (asset?.state ?? "missing"),
      ]);
    }
    const verified = rows.filter((row) => row[2]?.endsWith(" ok")).length;
    links.push(`${outcome.task.kind} ${outcome.task.taskId}`, columns(rows, [1]));
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
  process.stdout.write(
    `\n${columns(summary, [2, 3, 4, 6])}\n\nSigned links (GET them as they are, no token needed):\n${links.join("\n")}\n`,
  );
}

/** Hours until the signed links expire (their `expires` query), for the closing line. */
function linkLifetimeHours(result: RunResult): number | null {
  const url = result.tasks.flatMap((outcome) => outcome.status?.assets ?? []).find((asset) => asset.url)?.url;
  const expires = url ? new URL(url, "http://x").searchParams.get("expires") : null;
  return expires ? Math.round((Number(expires) * 1000 - Date.now()) / 3_600_000) : null;
}

const unreachable = (error: ReceiverUnreachableError): never =>
  fail(
    `${error.message}.\nStart the receiver first, in another shell: npm run dev\n(or point the simulator at it with --url / --port)`,
  );

const notConfigured = (error: SubmitNotConfiguredError, port: number): never => {
  const base = `http://127.0.0.1:${port}/provider`;
  return fail(
    `${error.message}\n\nThe receiver must submit to this simulator's fake provider. Start it with:\n` +
      `  npm run dev -- --var PROVIDER_API_BASE:${base} --var PROVIDER_API_KEY:${DEV_PROVIDER.key}`,
  );
};

/** --submit: jobs through POST /provider/…, the fake provider calls back, the receiver archives. */
async function submitLoop(
  client: Client,
  origin: Origin,
  opts: Omit<ReturnType<typeof options>, "client">,
  view: ReturnType<typeof display>,
): Promise<void> {
  const provider = createFakeProvider({
    originUrl: origin.url,
    apiKey: DEV_PROVIDER.key,
    deliver: "post",
    sizes: opts.sizes,
    stepDelayMs: opts.stepDelayMs,
  });
  origin.setProviderHandler(provider.handle);
  origin.setControlHandler(provider.control);
  process.stdout.write(
    `receiver ${client.url}\nprovider ${origin.url}/provider (fake: it answers, then posts the callbacks)\n\n`,
  );
  let result: Awaited<ReturnType<typeof runSubmitScenario>>;
  try {
    result = await runSubmitScenario({
      client,
      provider,
      timeoutMs: opts.timeoutMs,
      onStep: (step) => view.log(submitLine(step)),
      onProgress: (progress) => view.progress(progress),
    });
  } finally {
    view.stop();
  }
  report(result, client);
  if (!result.ok) {
    process.stdout.write("\nProblems:\n");
    for (const problem of result.problems) process.stdout.write(`  - ${problem}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(
      `\nAll ${result.tasks.length} submitted jobs archived in ${result.seconds.toFixed(1)} s from the provider's own ` +
        "callbacks; every file's size and SHA-256 match what the origin served.\n",
    );
  }
}

async function main() {
  const { client, ...opts } = options();
  try {
    await checkReceiver(client);
  } catch (error) {
    if (error instanceof ReceiverUnreachableError) unreachable(error);
    throw error;
  }
  let origin: Origin;
  try {
    origin = await startOrigin(opts.submit ? { port: opts.providerPort } : {});
  } catch (error) {
    fail(`cannot listen on port ${opts.providerPort} for the fake provider: ${(error as Error).message}`);
  }
  const view = display();
  const events = await watchSimulatorEvents(client.url, opts.eventsPort, (line) => view.log(line));
  process.once("SIGINT", () => {
    view.stop();
    void origin.close().finally(() => process.exit(130));
  });
  try {
    if (opts.submit) {
      await submitLoop(client, origin, opts, view);
      return;
    }
    const scenario = planScenario({ originUrl: origin.url, sizes: opts.sizes });
    const files = scenario.tasks.reduce((sum, task) => sum + task.files.length, 0);
    const bytes = scenario.tasks.reduce((sum, task) => sum + task.bytes, 0);
    process.stdout.write(
      `receiver ${client.url}\norigin   ${origin.url} (${files} media files, ${mb(bytes)})\n\n` +
        `Sending ${scenario.steps.length} callbacks for ${scenario.tasks.length} tasks:\n`,
    );
    let result: RunResult;
    try {
      result = await runScenario({
        client,
        scenario,
        timeoutMs: opts.timeoutMs,
        stepDelayMs: opts.stepDelayMs,
        pollMs: 200,
        onStep: (step) => view.log(stepLine(step)),
        onProgress: (progress) => view.progress(progress),
      });
    } finally {
      view.stop();
    }
    report(result, client);
    const eventSummary = await events?.summary(
      result.tasks.map((task) => task.task.taskId),
      5000,
    );
    if (eventSummary) process.stdout.write(`\n${eventSummary}`);
    if (!result.ok) {
      const archived = result.tasks.filter((task) => task.archived).length;
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
    if (error instanceof SubmitNotConfiguredError) notConfigured(error, opts.providerPort);
    if (error instanceof ReceiverUnreachableError) unreachable(error);
    if (error instanceof ScenarioError) fail(error.message);
    throw error;
  } finally {
    await events?.close();
    await origin.close();
  }
}

await main();
