// A real local HTTP media origin (Node only: `node:http`), for the tests' globalSetup, the e2e
// test, `npm run simulate` and the benchmarks. Every file it serves is the pattern of
// support/pattern.ts, so `patternSha256(size, seed)` is the digest the Worker must record; build
// its URLs with support/media-url.ts.
//
// Two listeners share one handler and one state:
//   url    → http://127.0.0.1:<port>
//   altUrl → http://127.0.0.2:<port> (or http://[::1]:<port>), a *different host* that a client
//            following a redirect must not reach.
//
// Routes (GET; HEAD wherever a body is served; anything else 404):
//   /bytes/<name>?size=N&seed=S&cl=1|0&type=<mime>  the pattern, streamed with back-pressure;
//                                      cl=0: chunked (no Content-Length)
//   /slow/<name>?delayMs=D&…           waits D ms, then as /bytes
//   /status/<code>                     that status with a short text body
//   /flaky/<key>/<name>?fail=K&status=500&…  the first K requests for <key> get `status`,
//                                      later ones the bytes (with Content-Length)
//   /truncate/<name>?size=N&send=M&seed=S[&cl=0]  declares N bytes, sends M, then closes
//   /redirect?to=<absolute url>&status=302
//   /redirect-chain/<n>/<name>?…       n hops of 302 (absolute, same listener), then the bytes
//   /provider/<path>                   the scripted provider API (record-info), see below
// Control routes (not logged):
//   GET  /__log[?path=<prefix>]        {"requests":[{method,path,query,ua,auth,listener}]}
//   POST /__provider/script            {"<path>[?<query>]": [{status, body?, headers?, delayMs?}, …]}
//
// Provider scripts: a request to /provider/<path>?<query> takes the next answer queued under
// "<path>?<query>", else under "<path>"; the last answer repeats; none → 404. Object bodies are
// sent as JSON. The log records whether an Authorization header came (`auth`), never its value.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { patternChunk } from "./pattern.ts";

export interface OriginLogEntry {
  method: string;
  /** URL path as received, e.g. "/bytes/a.mp3". */
  path: string;
  /** Query string without the "?", "" when absent. */
  query: string;
  ua: string | null;
  /** Whether an Authorization header was present. */
  auth: boolean;
  listener: "primary" | "alt";
}

export interface ScriptedResponse {
  status: number;
  /** Strings are sent as they are, anything else as JSON; omitted: an empty body. */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface Origin {
  /** e.g. "http://127.0.0.1:41234" (no trailing slash). */
  url: string;
  /** The same origin on a second loopback host. */
  altUrl: string;
  /** Requests received so far (optionally only paths starting with `pathPrefix`). */
  log(pathPrefix?: string): OriginLogEntry[];
  close(): Promise<void>;
}

const PIECE = 64 * 1024;

class BadRequest extends Error {}

function intParam(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new BadRequest(`${name} must be a non-negative integer`);
  return n;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  const buf = Buffer.from(body, "utf8");
  res.writeHead(status, { "Content-Length": String(buf.length), ...headers });
  res.end(res.req.method === "HEAD" ? undefined : buf);
}
const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
  send(res, status, body, { "Content-Type": "text/plain; charset=utf-8", ...headers });
const json = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, JSON.stringify(value), { "Content-Type": "application/json" });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** True once the client went away. */
const gone = (res: ServerResponse) => res.destroyed || res.socket === null || res.socket.destroyed;

/** Resolves true when the socket can take more, false when the response went away. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (more: boolean) => () => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(more);
    };
    const onDrain = finish(true);
    const onClose = finish(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/** Writes pattern bytes [0, length) with back-pressure; false when the client went away. */
async function writePattern(res: ServerResponse, length: number, seed: number): Promise<boolean> {
  for (let offset = 0; offset < length; offset += PIECE) {
    if (gone(res)) return false;
    const ok = res.write(patternChunk(offset, Math.min(PIECE, length - offset), seed));
    if (!ok && !(await drained(res))) return false;
  }
  return true;
}

/** Serves the file a /bytes query describes (`contentLength` overrides `cl`). */
async function sendBytes(res: ServerResponse, q: URLSearchParams, contentLength = q.get("cl") !== "0") {
  const size = intParam(q, "size", 1024);
  res.writeHead(200, {
    "Content-Type": q.get("type") || "application/octet-stream",
    "Cache-Control": "no-store",
    ...(contentLength ? { "Content-Length": String(size) } : {}),
  });
  if (res.req.method === "HEAD") return void res.end();
  if (await writePattern(res, size, intParam(q, "seed", 0))) res.end();
}

export async function startOrigin(options: { host?: string; port?: number } = {}): Promise<Origin> {
  const host = options.host ?? "127.0.0.1";
  const log: OriginLogEntry[] = [];
  const flaky = new Map<string, number>();
  const scripts = new Map<string, { queue: ScriptedResponse[]; next: number }>();
  const bases = { primary: "", alt: "" };
  const readLog = (prefix = "") => log.filter((entry) => entry.path.startsWith(prefix));

  async function provider(res: ServerResponse, path: string, query: string) {
    const entry = scripts.get(query ? `${path}?${query}` : path) ?? scripts.get(path);
    const answer = entry?.queue[Math.min(entry.next++, entry.queue.length - 1)];
    if (!answer) return json(res, 404, { code: 404, msg: "no scripted provider response" });
    if (answer.delayMs) await sleep(answer.delayMs);
    if (gone(res)) return;
    const body = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
    const type = typeof answer.body === "string" ? "text/plain; charset=utf-8" : "application/json";
    send(res, answer.status, answer.body === undefined ? "" : body, {
      "Content-Type": type,
      ...answer.headers,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, listener: "primary" | "alt") {
    const url = new URL(req.url ?? "/", "http://origin.invalid");
    const { pathname: path, searchParams: q } = url;
    const query = url.search.slice(1);
    const method = req.method ?? "GET";

    if (path === "/__log") return json(res, 200, { requests: readLog(q.get("path") ?? "") });
    if (path === "/__provider/script" && method === "POST") {
      const table = JSON.parse(await readBody(req)) as Record<string, ScriptedResponse[]>;
      for (const [key, queue] of Object.entries(table)) {
        if (!Array.isArray(queue) || queue.some((answer) => !Number.isInteger(answer?.status)))
          throw new BadRequest(`script for ${key}: a list of answers with an integer status`);
        scripts.set(key, { queue, next: 0 });
      }
      return json(res, 200, { ok: true });
    }

    const ua = req.headers["user-agent"] ?? null;
    log.push({ method, path, query, ua, auth: req.headers.authorization !== undefined, listener });
    if (path.startsWith("/provider/")) return provider(res, path.slice("/provider".length), query);
    if (method !== "GET" && method !== "HEAD") return text(res, 405, "method not allowed\n");

    const [route, ...rest] = path.split("/").filter(Boolean);
    if (route === "bytes" && rest.length > 0) return sendBytes(res, q);
    if (route === "slow" && rest.length > 0) {
      const timer = sleep(intParam(q, "delayMs", 1000));
      await Promise.race([timer, new Promise((done) => res.once("close", done))]);
      return gone(res) ? undefined : sendBytes(res, q);
    }
    if (route === "status" && rest.length === 1) {
      const code = Number(rest[0]);
      if (Number.isInteger(code) && code >= 200 && code <= 999) return text(res, code, `status ${code}\n`);
    }
    if (route === "flaky" && rest.length > 1) {
      const key = rest[0] as string;
      const seen = (flaky.get(key) ?? 0) + 1;
      flaky.set(key, seen);
      const fail = intParam(q, "fail", 1);
      if (seen > fail) return sendBytes(res, q, true);
      return text(res, intParam(q, "status", 500), `flaky ${key}: failure ${seen} of ${fail}\n`);
    }
    if (route === "truncate" && rest.length > 0) {
      const size = intParam(q, "size", 1024);
      res.writeHead(200, {
        "Content-Type": q.get("type") || "application/octet-stream",
        ...(q.get("cl") === "0" ? {} : { "Content-Length": String(size) }),
      });
      if (method === "HEAD") return void res.end();
      res.flushHeaders();
      const sent = await writePattern(
        res,
        Math.min(intParam(q, "send", size >> 1), size),
        intParam(q, "seed", 0),
      );
      // A FIN right after the bytes sent, so the client reads everything up to the cut (a reset
      // could discard even the headers).
      const socket = res.socket;
      if (sent && socket && !socket.destroyed) await new Promise<void>((done) => socket.end(done));
      return;
    }
    if (route === "redirect" && rest.length === 0) {
      const to = q.get("to");
      if (!to) throw new BadRequest("missing ?to=");
      return text(res, intParam(q, "status", 302), `redirect to ${to}\n`, { Location: to });
    }
    if (route === "redirect-chain" && rest.length > 1) {
      const hops = Number(rest[0]);
      if (hops === 0) return sendBytes(res, q);
      if (Number.isSafeInteger(hops) && hops > 0) {
        const next = `${bases[listener]}/redirect-chain/${hops - 1}/${rest.slice(1).join("/")}${url.search}`;
        return text(res, 302, `hop ${hops}\n`, { Location: next });
      }
    }
    text(res, 404, "not found\n");
  }

  const makeServer = (listener: "primary" | "alt"): Server => {
    const server = createServer((req, res) => {
      handle(req, res, listener).catch((error: unknown) => {
        if (res.headersSent) return void res.destroy();
        const message = error instanceof Error ? error.message : String(error);
        text(res, error instanceof BadRequest || error instanceof SyntaxError ? 400 : 500, `${message}\n`);
      });
    });
    // Longer than any pause between a test's requests: a server closing an idle keep-alive
    // connection just as workerd reuses it fails that request with "Network connection lost".
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    return server;
  };
  const listen = (server: Server, address: string, port: number) =>
    new Promise<string>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, address, () => {
        server.off("error", reject);
        const bound = (server.address() as AddressInfo).port;
        resolve(address.includes(":") ? `http://[${address}]:${bound}` : `http://${address}:${bound}`);
      });
    });
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  const primary = makeServer("primary");
  bases.primary = await listen(primary, host, options.port ?? 0);
  let alt = makeServer("alt");
  for (const candidate of ["127.0.0.2", "::1"].filter((address) => address !== host)) {
    try {
      bases.alt = await listen(alt, candidate, 0);
      break;
    } catch {
      alt = makeServer("alt");
    }
  }
  if (!bases.alt) {
    await close(primary);
    throw new Error("origin: could not bind a second loopback listener (tried 127.0.0.2 and ::1)");
  }
  return {
    url: bases.primary,
    altUrl: bases.alt,
    log: readLog,
    close: async () => {
      await Promise.all([close(primary), close(alt)]);
    },
  };
}
