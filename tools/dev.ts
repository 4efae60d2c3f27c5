// `npm run dev`: `wrangler dev` with the development settings (support/dev-vars.ts) as `--var`
// flags, so `wrangler deploy` never sees them, plus every argument given after `--` (`--port N`,
// `--var NAME:value`, `--persist-to DIR`, … exactly as wrangler takes them). Once the receiver
// answers it prints where to send callbacks and the tokens to use.
//
// Wrangler shares this terminal (its hotkeys work) and this process group, so Ctrl-C reaches it
// directly; SIGTERM and SIGHUP to this process are passed on to it, and it is stopped too should
// this process's parent go away. This process exits when wrangler has.

import { readFileSync } from "node:fs";
import { spawnWrangler, varFlags, waitHealthy } from "../support/dev-server.ts";
import { DEV_VARS } from "../support/dev-vars.ts";

const args = process.argv.slice(2);

/** The value of a wrangler flag given as `--name value` or `--name=value` (the last one wins). */
function flag(name: string): string | undefined {
  let value: string | undefined;
  args.forEach((arg, index) => {
    if (arg === `--${name}`) value = args[index + 1];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  });
  return value;
}

/** A `[dev]` setting of wrangler.toml (the port and address wrangler uses without flags). */
function devSetting(name: string): string | undefined {
  const section = /^\[dev\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(
    readFileSync("wrangler.toml", "utf8"),
  )?.[1];
  return section && new RegExp(`^${name}\\s*=\\s*"?([^"\\s]+)"?`, "m").exec(section)?.[1];
}

/** The development settings with the `--var` flags given here applied. */
function effectiveVars(): Record<string, string> {
  const vars: Record<string, string> = { ...DEV_VARS };
  args.forEach((arg, index) => {
    const pair = arg === "--var" ? args[index + 1] : arg.startsWith("--var=") ? arg.slice(6) : undefined;
    const colon = pair?.indexOf(":") ?? -1;
    if (pair && colon > 0) vars[pair.slice(0, colon)] = pair.slice(colon + 1);
  });
  return vars;
}

const wrangler = spawnWrangler(["dev", ...varFlags(DEV_VARS), ...args], { stdio: "inherit" });
let exited = false;
wrangler.once("exit", (code, signal) => {
  exited = true;
  process.exitCode = code ?? (signal === "SIGINT" ? 130 : 1);
  clearInterval(watchParent);
});
// Ctrl-C reaches wrangler from the terminal; ignore it here and leave when wrangler does.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"] as const) process.on(signal, () => wrangler.kill(signal));
process.once("exit", () => {
  if (!exited) wrangler.kill("SIGTERM");
});
// `npm run` may die without passing a signal on; wrangler must not outlive it.
const parent = process.ppid;
const watchParent = setInterval(() => {
  if (process.ppid !== parent) wrangler.kill("SIGTERM");
}, 1000);

const host = flag("ip") ?? devSetting("ip") ?? "localhost";
const url = `http://${host.includes(":") ? `[${host}]` : host}:${flag("port") ?? devSetting("port") ?? "8787"}`;
try {
  await waitHealthy(url, () => exited);
  const vars = effectiveVars();
  const token = vars.CALLBACK_TOKENS?.split(",")[0];
  process.stdout.write(
    `\nstemvault is listening on ${url}\n` +
      `  Dashboard:    ${url}/  (asks for the API token below)\n` +
      `  Callback URL: ${url}/callbacks${token ? `?token=${encodeURIComponent(token)}` : ""}\n` +
      `  API token:    ${vars.API_TOKEN ?? "(none)"}   (Authorization: Bearer …, for GET ${url}/tasks/<taskId>)\n` +
      "  Watch it archive: npm run simulate (in another terminal)\n\n",
  );
} catch {
  // Wrangler exited (its own output says why) or answers elsewhere: nothing to announce.
}
