// Starts and stops a real `wrangler dev` from Node: `npm run dev` (tools/dev.ts), the e2e test
// and the benchmarks.
//
// `startDevServer` gives each server a free port, its own inspector port, its own temporary
// `--persist-to` folder and its own dev registry, so it never touches the `.wrangler/state` of a
// developer's `npm run dev` nor makes another running instance reload. Wrangler is spawned
// detached: it leads its own process group (its child Node process and two workerd processes).
// It is stopped by its process id (SIGTERM, which wrangler forwards to its children); whatever is
// left of its group then gets SIGTERM and, after a timeout, SIGKILL. Never by name.

import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_VARS } from "./dev-vars.ts";

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUT_LIMIT = 64 * 1024;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** `--var NAME:value` flags for every entry. */
export const varFlags = (vars: Record<string, string>) =>
  Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);

/**
 * Spawns `wrangler <args>` of the project in `cwd`. With node_modules/.bin first on PATH,
 * `wrangler` (`#!/usr/bin/env node`) runs on the project's Node 22, whatever Node runs this file.
 */
export function spawnWrangler(
  args: string[],
  { cwd = PROJECT_ROOT, env, ...options }: Omit<SpawnOptions, "env"> & { env?: Record<string, string> } = {},
): ChildProcess {
  const bin = join(cwd.toString(), "node_modules", ".bin");
  return spawn(join(bin, "wrangler"), args, {
    ...options,
    cwd,
    env: {
      ...process.env,
      PATH: [bin, process.env.PATH ?? ""].join(delimiter),
      // Offline, the Request.cf lookup only prints a warning twice.
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      ...env,
    },
  });
}

/**
 * Resolves once `GET <url>/healthz` answers 200 from the receiver (or the bench's Workers);
 * rejects when `exited()` turns true or `timeoutMs` passes.
 */
export async function waitHealthy(url: string, exited: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!exited()) {
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer GET ${url}/healthz in time`);
    await sleep(100);
  }
  throw new Error("wrangler dev exited before it was ready");
}

/** A port that nothing listens on right now (the kernel's choice for port 0). */
function freePort(host: string): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** True while any process of the group exists (zombies included). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

export interface DevServerOptions {
  /** Vars added to (or overriding) the development settings, e.g. `{ PART_SIZE_BYTES: "5242880" }`. */
  vars?: Record<string, string>;
  /** `--log-level`; `warn` drops the per-request log lines. */
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  /** The folder holding wrangler.toml (default: the project); needs node_modules beside it. */
  cwd?: string;
  /** `--persist-to` folder to reuse (kept by `stop()`); default: a new temporary one, deleted. */
  persistDir?: string;
}

export interface DevServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  /** Process id of wrangler; also the id of its process group. */
  pid: number;
  persistDir: string;
  /** The arguments wrangler was started with (after `wrangler`). */
  args: string[];
  /** The last 64 KiB of wrangler's output. */
  output(): string;
  /** Stops wrangler and every process of its group, and deletes its folders; idempotent. */
  stop(): Promise<void>;
  /** Fault injection: SIGKILL to the whole process group at once, as a crash would. */
  kill(): Promise<void>;
}

/** Starts `wrangler dev` and resolves once `GET /healthz` answers 200. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const ip = "127.0.0.1";
  const port = await freePort(ip);
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "stemvault-dev-"));
  const registryDir = mkdtempSync(join(tmpdir(), "stemvault-registry-"));
  const args = [
    "dev",
    ...["--port", String(port), "--ip", ip, "--inspector-port", String(await freePort(ip))],
    ...["--persist-to", persistDir, "--show-interactive-dev-session=false"],
    ...varFlags({ ...DEV_VARS, ...options.vars }),
    ...(options.logLevel ? ["--log-level", options.logLevel] : []),
  ];
  const child = spawnWrangler(args, {
    cwd: options.cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { WRANGLER_SEND_METRICS: "false", WRANGLER_REGISTRY_PATH: registryDir },
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  child.on("error", (error) => collect(Buffer.from(`\n[spawn error] ${error.message}\n`)));
  let exited = false;
  const exit = new Promise<void>((done) => child.once("close", () => done()));
  child.once("exit", () => {
    exited = true;
  });
  const pid = child.pid ?? 0;

  // Should this process end without calling stop(), take the group down with it.
  const onExit = () => signalGroup(pid, "SIGKILL");
  process.once("exit", onExit);
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      if (pid && !exited) {
        child.kill("SIGTERM");
        if (!(await Promise.race([exit.then(() => true), sleep(15_000).then(() => false)]))) {
          signalGroup(pid, "SIGKILL");
          await exit;
        }
      }
      // Wrangler's children usually follow it within a moment; whatever lingers is signalled.
      if (pid && !(await waitFor(() => !groupAlive(pid), 3000))) {
        signalGroup(pid, "SIGTERM");
        if (!(await waitFor(() => !groupAlive(pid), 5000))) signalGroup(pid, "SIGKILL");
        await waitFor(() => !groupAlive(pid), 5000);
      }
      process.off("exit", onExit);
      if (!options.persistDir) rmSync(persistDir, { recursive: true, force: true });
      rmSync(registryDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const url = `http://${ip}:${port}`;
  try {
    if (!pid) throw new Error("could not start wrangler");
    await waitHealthy(url, () => exited);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}:\n${output}`);
  }
  const kill = async () => {
    signalGroup(pid, "SIGKILL");
    await exit;
    await waitFor(() => !groupAlive(pid), 5000);
    await stop();
  };
  return { url, port, pid, persistDir, args, output: () => output, stop, kill };
}
