// Starts and stops a real `wrangler dev` of this project from Node (the e2e test, benchmarks).
//
// Each server gets its own port and its own `--persist-to` folder, so it never touches the
// `.wrangler/state` of a developer's `npm run dev`. Wrangler is spawned detached: it leads its own
// process group, which holds its child Node process and the two workerd processes. It is stopped
// by its process id (SIGTERM, which wrangler forwards to its children), then whatever is left of
// its group gets SIGTERM and, after a timeout, SIGKILL. Never by name.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The development settings of `npm run dev` (package.json), as `--var` flags. */
export const DEV_VARS: Readonly<Record<string, string>> = {
  CALLBACK_TOKENS: "dev-callback-token",
  API_TOKEN: "dev-api-token",
  LOCAL_DEV: "true",
};

export type WranglerLogLevel = "debug" | "info" | "log" | "warn" | "error" | "none";

export interface DevServerOptions {
  /** Port to listen on; omitted or 0 picks a free one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  ip?: string;
  /** `--persist-to` folder; omitted → a new temporary folder, deleted again by `stop()`. */
  persistDir?: string;
  /** Vars added to (or overriding) `DEV_VARS`, e.g. `{ PART_SIZE_BYTES: "5242880" }`. */
  vars?: Record<string, string>;
  /** `--log-level`; `warn` drops the per-request log lines (wrangler's default is `log`). */
  logLevel?: WranglerLogLevel;
  /** Further `wrangler dev` arguments. */
  args?: string[];
  /** Project root (holds wrangler.toml and node_modules); default: the folder above tools/. */
  cwd?: string;
  /** Extra environment variables for wrangler. */
  env?: Record<string, string>;
  /** `pipe` keeps the output (see `output()`, `onOutput`); `inherit` shows it; `ignore` drops it. */
  stdio?: "pipe" | "inherit" | "ignore";
  /** Called with every piece of output when `stdio` is `pipe`. */
  onOutput?: (text: string) => void;
  /** How long to wait for `GET /healthz` to answer 200 (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Use wrangler's shared dev registry (~/.config/.wrangler/registry) instead of a private one.
   * Off by default: every `wrangler dev` of the same Worker name registers under that name, and
   * the other running instances reload (dropping their open connections) when it changes.
   */
  sharedRegistry?: boolean;
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
  /** The last 64 KiB of wrangler's output (with `stdio: "pipe"`). */
  output(): string;
  /** Resolves when wrangler has exited (with its exit code, or the signal's name). */
  exited: Promise<number | string>;
  /** Stops wrangler and every process of its group; idempotent. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUT_LIMIT = 64 * 1024;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A port that nothing listens on right now (the kernel's choice for port 0). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.once("error", fail);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    const finish = (open: boolean) => {
      socket.destroy();
      done(open);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
    socket.connect(port, host);
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

async function waitFor(condition: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

/**
 * Starts `wrangler dev` for the project and resolves once `GET /healthz` answers 200. Rejects
 * (after stopping what it started) when wrangler exits early or the timeout passes; the error
 * message carries wrangler's output.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cwd = options.cwd ?? PROJECT_ROOT;
  const ip = options.ip ?? "127.0.0.1";
  const port = options.port || (await freePort(ip));
  // Otherwise the readiness check below could be answered by someone else's server.
  if (await isPortOpen(port, ip)) throw new Error(`port ${port} on ${ip} is already in use`);
  // Wrangler's inspector defaults to 9229; a second instance must not fight over it.
  const inspectorPort = await freePort(ip);
  const ownsPersistDir = options.persistDir === undefined;
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "stemvault-dev-"));
  const registryDir = options.sharedRegistry ? null : mkdtempSync(join(tmpdir(), "stemvault-registry-"));
  const vars = { ...DEV_VARS, ...options.vars };
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    ip,
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistDir,
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ...(options.logLevel ? ["--log-level", options.logLevel] : []),
    ...(options.args ?? []),
  ];
  const bin = join(cwd, "node_modules", ".bin");
  const stdio = options.stdio ?? "pipe";
  // `wrangler` starts with `#!/usr/bin/env node`: with node_modules/.bin first on PATH it runs on
  // the project's Node 22, whatever Node runs this file.
  const child: ChildProcess = spawn(join(bin, "wrangler"), args, {
    cwd,
    detached: true,
    stdio: ["ignore", stdio, stdio],
    env: {
      ...process.env,
      PATH: [bin, process.env.PATH ?? ""].join(delimiter),
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      ...(registryDir ? { WRANGLER_REGISTRY_PATH: registryDir } : {}),
      ...options.env,
    },
  });
  const pid = child.pid;
  if (pid === undefined) {
    const error = await new Promise<Error>((done) => child.once("error", done));
    if (ownsPersistDir) rmSync(persistDir, { recursive: true, force: true });
    if (registryDir) rmSync(registryDir, { recursive: true, force: true });
    throw new Error(`could not start wrangler: ${error.message}`);
  }

  let output = "";
  child.on("error", (error) => {
    output += `\n[spawn error] ${error.message}\n`;
  });
  const collect = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output = (output + text).slice(-OUTPUT_LIMIT);
    options.onOutput?.(text);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  let exitValue: number | string | null = null;
  const exited = new Promise<number | string>((done) => {
    child.once("exit", (code, signal) => {
      exitValue = code ?? signal ?? "unknown";
      done(exitValue);
    });
  });

  // Should this process end without calling stop(), take the group down with it.
  const onExit = () => signalGroup(pid, "SIGKILL");
  process.once("exit", onExit);

  let stopping: Promise<void> | null = null;
  const stop = ({ timeoutMs = 15_000 } = {}) => {
    stopping ??= (async () => {
      if (exitValue === null) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // Exited in the meantime.
        }
        const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
        if (!done) {
          signalGroup(pid, "SIGKILL");
          await exited;
        }
      }
      // Wrangler's children usually follow it within a moment; whatever lingers is signalled.
      if (!(await waitFor(() => !groupAlive(pid), 3000))) {
        signalGroup(pid, "SIGTERM");
        if (!(await waitFor(() => !groupAlive(pid), 5000))) signalGroup(pid, "SIGKILL");
        await waitFor(() => !groupAlive(pid), 5000);
      }
      process.off("exit", onExit);
      if (ownsPersistDir) rmSync(persistDir, { recursive: true, force: true });
      if (registryDir) rmSync(registryDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const url = `http://${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
  const server: DevServer = { url, port, pid, persistDir, args, output: () => output, exited, stop };
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exitValue !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${exitValue}) before it was ready:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer GET /healthz on ${url} in time:\n${output}`);
    }
    await sleep(100);
  }
}
