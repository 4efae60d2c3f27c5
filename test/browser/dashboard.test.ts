// The dashboard (GET /) in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real `wrangler dev` of the Worker (support/dev-server.ts), with real
// media from a local origin: the tasks of test/browser/scenario.ts are posted as callbacks and
// archived first, then the page is used the way a person would.
//
// One wrangler, one browser, one page; the tests run in order and share them.
// Screenshots go to test/browser/screenshots/ (ignored by git); with
// UPDATE_DASHBOARD_SCREENSHOT=1 (`npm run screenshot`) the README's docs/dashboard.png is redone.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../support/dev-server";
import { DEV_VARS } from "../../support/dev-vars";
import { crc32, readZip, sha256Hex } from "../../support/zip";
import { type MediaOrigin, startMediaOrigin } from "./media-origin";
import {
  type ApiStatus,
  apiGet,
  LYRICS,
  MEDIA,
  MIDI_INSTRUMENTS,
  type Plan,
  planTasks,
  postAll,
  type Receiver,
  settled,
  UNKNOWN_XSS,
  waitForTask,
  XSS,
} from "./scenario";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The flags this machine's Chromium needs (see TOOLCHAIN notes), plus sound without a click. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
  "--mute-audio",
];
const HERE = dirname(fileURLToPath(import.meta.url));
const SCREENSHOTS = join(HERE, "screenshots");
const README_SCREENSHOT = join(HERE, "..", "..", "docs", "dashboard.png");

const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
  "connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
  "require-trusted-types-for 'script'; trusted-types 'none'";

let origin: MediaOrigin;
let server: DevServer;
let receiver: Receiver;
let plan: Plan;
let statuses: Record<keyof Plan["ids"], ApiStatus>;
let browser: Browser;
let context: BrowserContext;
let page: Page;

const requests: string[] = [];
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

/** Chromium logs every non-2xx fetch like this; those are answers, not script errors. */
const HTTP_STATUS_LOG = /^Failed to load resource: the server responded with a status of \d+/;

beforeAll(async () => {
  [origin, server] = await Promise.all([
    startMediaOrigin(MEDIA),
    startDevServer({ logLevel: "warn", vars: { RETRY_BASE_SECONDS: "0" } }),
  ]);
  receiver = { url: server.url, callbackToken: DEV_VARS.CALLBACK_TOKENS, apiToken: DEV_VARS.API_TOKEN };
  plan = planTasks(origin.url, Date.now().toString(36));
  await postAll(receiver, plan);
  const entries = await Promise.all(
    Object.entries(plan.ids).map(async ([name, taskId]) => [
      name,
      await waitForTask(receiver, taskId, settled),
    ]),
  );
  statuses = Object.fromEntries(entries);

  browser = await chromium
    .launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    .catch((error) => {
      throw new Error(`could not start ${CHROMIUM} (apt-get install -y chromium): ${error.message}`);
    });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("request", (request) => requests.push(request.url()));
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !HTTP_STATUS_LOG.test(message.text()))
      consoleErrors.push(message.text());
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 90_000);

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    const output = server?.output().trim();
    if (output) console.error(`wrangler dev output:\n${output}`);
    if (pageErrors.length || consoleErrors.length) console.error({ pageErrors, consoleErrors });
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await origin?.close();
});

/** What the tests read of an <audio> and an <img> (this project's TypeScript has no DOM lib). */
interface Media {
  currentTime: number;
  duration: number;
  paused: boolean;
  error: { code: number } | null;
  play(): Promise<void>;
  pause(): void;
}
interface Picture {
  complete: boolean;
  naturalWidth: number;
}

/** Waits until an image in the page has loaded and has the expected width (0 while it has not). */
async function expectLoadedWidth(image: Locator, width: number) {
  await image.scrollIntoViewIfNeeded();
  await expect
    .poll(() =>
      image.evaluate(
        (img) => (img as unknown as Picture).complete && (img as unknown as Picture).naturalWidth,
      ),
    )
    .toBe(width);
}

const taskUrl = (taskId: string) => `${server.url}/#/tasks/${taskId}`;

/** Waits for the page's next automatic refresh (the "updated" time in the header changes). */
async function nextRefresh() {
  const before = await page.locator("#live").textContent();
  await expect.poll(() => page.locator("#live").textContent(), { timeout: 10_000 }).not.toBe(before);
}

/** Opens a task through the list's "Open a task by its id" form, as a person would. */
async function openTask(taskId: string) {
  await page.goto(`${server.url}/#/`);
  await page.getByLabel("Open a task by its id").fill(taskId);
  await page.getByLabel("Open a task by its id").press("Enter");
  await expect.poll(() => page.locator("#task-heading").textContent()).toBe(taskId);
  await page.locator(".task-body:not([hidden])").waitFor();
}

const sha256 = (bytes: Buffer | undefined) =>
  createHash("sha256")
    .update(bytes ?? Buffer.alloc(0))
    .digest("hex");

const assetCard = (name: string) => page.locator(`section.asset[data-key="${name}"]`);

describe("the dashboard in Chromium, against wrangler dev", () => {
  it("serves the page with a strict Content-Security-Policy, nosniff and no referrer", async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toBe(EXPECTED_CSP);
    // Every fetch directive allows this origin at most: no host, scheme, wildcard or unsafe-*.
    for (const directive of csp.split(";").map((part) => part.trim().split(/\s+/))) {
      const [name, ...sources] = directive;
      if (name === "require-trusted-types-for" || name === "trusted-types") continue;
      for (const source of sources) expect(["'self'", "'none'"], `${name} ${source}`).toContain(source);
    }
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("set-cookie")).toBeNull();
    for (const [path, type] of [
      ["/dashboard/app.js", /^text\/javascript/],
      ["/dashboard/app.css", /^text\/css/],
    ] as const) {
      const file = await fetch(`${server.url}${path}`);
      expect(file.status, path).toBe(200);
      expect(file.headers.get("content-type"), path).toMatch(type);
      expect(file.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
    // The Worker's own routes are still the Worker's.
    expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({ ok: true });
    expect((await fetch(`${server.url}/tasks/${plan.ids.music}`)).status).toBe(401);
  });

  it("asks for the API token once and keeps it in sessionStorage, without a cookie", async () => {
    const response = await page.goto(`${server.url}/`);
    expect(response?.headers()["content-security-policy"]).toBe(EXPECTED_CSP);
    const token = page.getByLabel("API token");
    await expect.poll(() => token.isVisible()).toBe(true);
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("token");

    await token.fill("not-the-token");
    await page.getByRole("button", { name: "Open dashboard" }).click();
    await expect.poll(() => page.locator("#token-error").textContent()).toContain("rejected");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await token.fill(receiver.apiToken);
    await token.press("Enter");
    await page.getByRole("heading", { name: "Tasks", level: 1 }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("stemvault.apiToken"))).toBe(receiver.apiToken);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    // Asked once: a reload in the same tab goes straight to the list.
    await page.reload();
    await page.getByRole("heading", { name: "Tasks", level: 1 }).waitFor();
    expect(await page.locator("#token").count()).toBe(0);
    expect(await page.evaluate("document.cookie")).toBe("");
    expect(await context.cookies()).toEqual([]);
  });

  it("lists tasks of every kind, filters them by kind and finds one by id prefix", async () => {
    const list = await apiGet(receiver, "/tasks?limit=200");
    expect(list.status, "GET /tasks (the list API, CONTRACT.md) must answer 200").toBe(200);

    await page.goto(`${server.url}/#/`);
    const row = (taskId: string) => page.locator(`tbody tr[data-key="${taskId}"]`);
    // The index follows within a few seconds; the page refreshes itself meanwhile.
    for (const [name, kind] of [
      ["music", "music"],
      ["stems", "separation"],
      ["video", "video"],
      ["wav", "wav"],
      ["cover", "cover"],
      ["lyrics", "lyrics"],
      ["midi", "midi"],
      ["unknown", "unknown"],
    ] as const) {
      await row(plan.ids[name]).waitFor({ timeout: 15_000 });
      expect(await row(plan.ids[name]).locator('[data-label="Kind"]').textContent()).toBe(kind);
    }
    expect(await row(plan.ids.music).locator('[data-label="Archive"]').textContent()).toContain("4/4");

    // The automatic refresh patches the table in place: same row nodes, same scroll position.
    await page.setViewportSize({ width: 1280, height: 320 });
    await page.evaluate("window.scrollTo(0, 150)");
    const scrolled = await page.evaluate("window.scrollY");
    expect(scrolled).toBeGreaterThan(0);
    const rowNode = await row(plan.ids.music).elementHandle();
    await nextRefresh();
    expect(await rowNode?.evaluate((node) => (node as unknown as { isConnected: boolean }).isConnected)).toBe(
      true,
    );
    expect(await page.evaluate("window.scrollY")).toBe(scrolled);
    await page.setViewportSize({ width: 1280, height: 900 });

    const kindOptions = await page
      .getByLabel("Kind")
      .locator("option")
      .evaluateAll((options) => options.map((option) => option.getAttribute("value")));
    expect(kindOptions).toEqual([
      "",
      "music",
      "separation",
      "video",
      "wav",
      "cover",
      "lyrics",
      "midi",
      "unknown",
    ]);
    await page.getByLabel("Kind").selectOption("midi");
    await expect.poll(() => row(plan.ids.music).count()).toBe(0);
    expect(await row(plan.ids.midi).count()).toBe(1);
    expect(new Set(await page.locator('tbody [data-label="Kind"]').allTextContents())).toEqual(
      new Set(["midi"]),
    );

    await page.getByLabel("Kind").selectOption("video");
    await expect.poll(() => row(plan.ids.video).count()).toBe(1);
    expect(await row(plan.ids.midi).count()).toBe(0);
    const kinds = await page.locator('tbody [data-label="Kind"]').allTextContents();
    expect(new Set(kinds)).toEqual(new Set(["video"]));
    expect(page.url()).toContain("kind=video");

    await page.getByRole("button", { name: "Clear" }).click();
    await page.getByLabel("Search").fill(plan.ids.music.slice(0, -2));
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    expect(await row(plan.ids.music).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, "list.png") });
    await page.getByRole("button", { name: "Clear" }).click();
  });

  it("shows a task: its timeline, archive progress and every file with its details and player", async () => {
    const status = statuses.music;
    await openTask(plan.ids.music);

    expect(await page.locator(".task-head .badge").first().textContent()).toBe("succeeded");
    expect(await page.locator(".archive-state").textContent()).toContain("4 of 4 files stored");
    const timeline = page.locator(".timeline");
    expect(await timeline.textContent()).toContain("3 callbacks received: 2 distinct, 1 duplicate");
    expect(await timeline.textContent()).toContain("complete");
    const history = (status as ApiStatus & { callbacks?: { history?: { stage: string }[] } }).callbacks
      ?.history;
    if (history) {
      // One entry per distinct callback (text, complete), plus "recorded" and the summary.
      expect(await timeline.locator("li.event:not(.summary)").count()).toBe(history.length + 1);
      expect(await timeline.textContent()).toContain("Callback: text");
    }

    expect(await page.locator("section.asset").count()).toBe(status.assets.length);
    for (const asset of status.assets) {
      const card = assetCard(asset.name);
      expect(await card.locator(".badge").textContent(), asset.name).toBe("stored");
      expect(await card.locator(".hash").textContent(), asset.name).toBe(asset.sha256);
      expect(await card.textContent(), asset.name).toContain(origin.url.replace("http://", ""));
      const download = card.getByRole("link", { name: /^Download/ });
      expect(await download.getAttribute("href")).toMatch(/^\/media\/music\/.+\?expires=\d+&sig=/);
      expect(await download.getAttribute("download")).toMatch(/\.(wav|png)$/);
    }
    const audios = page.locator("audio");
    expect(await audios.count()).toBe(2);
    for (const src of await audios.evaluateAll((nodes) => nodes.map((node) => node.getAttribute("src")))) {
      expect(src).toMatch(/^\/media\/music\/.+\/audio\.wav\?expires=\d+&sig=/);
    }
    const covers = page.locator(".player.cover img");
    expect(await covers.count()).toBe(2);
    for (const cover of await covers.all()) {
      await expectLoadedWidth(cover, 96);
    }
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(SCREENSHOTS, "task.png") });
    if (process.env.UPDATE_DASHBOARD_SCREENSHOT === "1") {
      mkdirSync(dirname(README_SCREENSHOT), { recursive: true });
      await page.screenshot({ path: README_SCREENSHOT });
    }

    // A separation has an <audio> per stem, a video a <video>.
    await page.goto(taskUrl(plan.ids.stems));
    await expect.poll(() => page.locator("audio").count()).toBe(2);
    await page.goto(taskUrl(plan.ids.video));
    await expect.poll(() => page.locator("video").count()).toBe(1);
    expect(await page.locator("video").getAttribute("src")).toMatch(/^\/media\/video\/.+\/video\.mp4\?/);
  });

  it("plays an archived audio file through its signed link", async () => {
    await page.goto(taskUrl(plan.ids.music));
    const audio = page.locator("audio").first();
    await audio.waitFor();
    const media: number[] = [];
    page.on("response", (response) => {
      if (new URL(response.url()).pathname.startsWith("/media/")) media.push(response.status());
    });
    await audio.evaluate((element) => (element as unknown as Media).play());
    await expect
      .poll(() => audio.evaluate((element) => (element as unknown as Media).currentTime), { timeout: 10_000 })
      .toBeGreaterThan(0.3);
    const state = await audio.evaluate((element) => {
      const media = element as unknown as Media;
      return { error: media.error?.code ?? null, duration: media.duration, paused: media.paused };
    });
    expect(state.error).toBeNull();
    expect(state.paused).toBe(false);
    expect(state.duration).toBeCloseTo(8, 1);
    expect(media.length).toBeGreaterThan(0);
    expect(media.every((status) => status === 200 || status === 206)).toBe(true);

    // The task view refreshes while it plays; the player is left alone (no restart, no new link).
    const node = await audio.elementHandle();
    const position = await audio.evaluate((element) => (element as unknown as Media).currentTime);
    await nextRefresh();
    expect(
      await node?.evaluate((element) => (element as unknown as { isConnected: boolean }).isConnected),
    ).toBe(true);
    expect(await audio.evaluate((element) => (element as unknown as Media).paused)).toBe(false);
    expect(await audio.evaluate((element) => (element as unknown as Media).currentTime)).toBeGreaterThan(
      position,
    );
    await audio.evaluate((element) => (element as unknown as Media).pause());
  });

  it("downloads every file of a task as one ZIP through its signed link", async () => {
    const status = statuses.music;
    await openTask(plan.ids.music);
    const link = page.getByRole("link", { name: "Download all (.zip)" });
    expect(await link.getAttribute("href")).toMatch(
      new RegExp(`^/tasks/${plan.ids.music}/bundle\\.zip\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`),
    );
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe(`${plan.ids.music}.zip`);
    const entries = readZip(new Uint8Array(readFileSync(await download.path())));

    // One folder per track, named by its title; each file byte-exact, and the manifest.
    const titles = new Map(status.tracks.map((track) => [track.id, track.title]));
    const expected = status.assets.map((asset) => {
      const [trackId] = asset.name.split("/");
      const file = asset.key?.slice(asset.key.lastIndexOf("/") + 1);
      return { name: `${titles.get(trackId as string)}/${file}`, sha256: asset.sha256 };
    });
    expect(entries.map((entry) => entry.name).sort()).toEqual(
      [...expected.map((file) => file.name), "manifest.json"].sort(),
    );
    for (const file of expected) {
      const entry = entries.find((candidate) => candidate.name === file.name);
      expect(await sha256Hex(entry?.bytes as Uint8Array), file.name).toBe(file.sha256);
      expect(entry?.declaredCrc32, file.name).toBe(crc32(entry?.bytes as Uint8Array));
    }
    const manifest = JSON.parse(
      new TextDecoder().decode(entries.find((entry) => entry.name === "manifest.json")?.bytes),
    );
    expect(manifest).toMatchObject({ taskId: plan.ids.music, archive: { state: "archived" } });
  });

  it("renders what callbacks carry as text: no payload runs", async () => {
    await page.goto(taskUrl(plan.ids.hostile));
    await page.locator(".track-title").first().waitFor();
    await page.locator(".prompt summary").first().click();
    await page.locator(".prompt p").first().hover();
    await page.locator(".inline-facts").first().hover();

    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(await page.locator(".track-title").allTextContents()).toEqual([XSS.title1, XSS.title2]);
    expect(await page.locator(".provider-message").textContent()).toBe(XSS.message);
    expect(await page.locator(".prompt p").first().textContent()).toBe(XSS.prompt);
    expect(await page.locator("main").textContent()).toContain(XSS.tags);
    expect(await page.locator('img[src="x"], main script, main svg, main b').count()).toBe(0);
    // Trusted Types are enforced: assigning HTML strings throws, so no code path can parse data.
    // (Probed in a tab of its own: the blocked assignment is logged as a console error.)
    const probe = await context.newPage();
    await probe.goto(`${server.url}/`);
    const sink = await probe.evaluate(`(() => {
      try {
        document.createElement("div").innerHTML = "<b>x</b>";
        return "allowed";
      } catch (error) {
        return error.name;
      }
    })()`);
    await probe.close();
    expect(sink).toBe("TypeError");
  });

  it("plays a WAV conversion and shows a cover generation's images", async () => {
    await openTask(plan.ids.wav);
    expect(await page.locator(".task-head .kind").textContent()).toBe("wav");
    const stored = statuses.wav.assets;
    expect(stored.map((asset) => [asset.role, asset.state, asset.key])).toEqual([
      ["audio", "stored", `wav/${plan.ids.wav}/audio.wav`],
    ]);
    expect(stored[0]?.sha256).toBe(sha256(MEDIA["/converted.wav"]?.body));
    const audio = page.locator("audio");
    expect(await audio.count()).toBe(1);
    expect(await audio.getAttribute("src")).toMatch(/^\/media\/wav\/.+\/audio\.wav\?expires=\d+&sig=/);
    await audio.evaluate((element) => (element as unknown as Media).play());
    await expect
      .poll(() => audio.evaluate((element) => (element as unknown as Media).currentTime), { timeout: 10_000 })
      .toBeGreaterThan(0.3);
    const state = await audio.evaluate((element) => {
      const media = element as unknown as Media;
      return { error: media.error?.code ?? null, duration: media.duration };
    });
    expect(state).toEqual({ error: null, duration: expect.closeTo(5, 1) });
    await audio.evaluate((element) => (element as unknown as Media).pause());
    await page.screenshot({ path: join(SCREENSHOTS, "wav.png") });

    await openTask(plan.ids.cover);
    expect(statuses.cover.assets.map((asset) => [asset.role, asset.state, asset.key, asset.sha256])).toEqual([
      ["image", "stored", `cover/${plan.ids.cover}/image-1.png`, sha256(MEDIA["/art-1.png"]?.body)],
      ["image", "stored", `cover/${plan.ids.cover}/image-2.png`, sha256(MEDIA["/art-2.png"]?.body)],
    ]);
    const images = page.locator(".player.cover img");
    expect(await images.count()).toBe(2);
    for (const [index, image] of (await images.all()).entries()) {
      expect(await image.getAttribute("src")).toMatch(
        new RegExp(`^/media/cover/${plan.ids.cover}/image-${index + 1}\\.png\\?expires=\\d+&sig=`),
      );
      await expectLoadedWidth(image, 120);
    }
    expect(await page.locator("audio, video").count()).toBe(0);
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(SCREENSHOTS, "cover.png"), fullPage: true });
  });

  it("shows the lyrics texts with their titles, status and line breaks, as text", async () => {
    await openTask(plan.ids.lyrics);
    expect(statuses.lyrics.lyrics).toEqual(
      LYRICS.map((item) => ({ title: item.title, text: item.text, status: item.status, error: null })),
    );
    const card = page.locator("#lyrics-card");
    expect(await card.isVisible()).toBe(true);
    expect(await card.locator(".lyrics-title").allTextContents()).toEqual(LYRICS.map((item) => item.title));
    expect(await card.locator(".lyrics-head .badge").allTextContents()).toEqual(["complete", "complete"]);
    expect(await card.locator(".lyrics-text").allTextContents()).toEqual(LYRICS.map((item) => item.text));
    // The line breaks are shown as line breaks: the rendered text has one line per line of lyrics.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (line breaks on screen)
    const shown = await card.locator(".lyrics-text").first().innerText();
    expect(shown.split("\n")).toEqual((LYRICS[0]?.text ?? "").split("\n"));
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(await page.locator('img[src="x"], main script, main b').count()).toBe(0);

    // lyrics.json is an archived file of the task, made by stemvault, with its hash.
    const file = statuses.lyrics.assets.find((asset) => asset.role === "lyrics");
    expect(file).toMatchObject({ state: "stored", key: `lyrics/${plan.ids.lyrics}/lyrics.json` });
    const card_ = assetCard(file?.name ?? "");
    expect(await card_.locator(".hash").textContent()).toBe(file?.sha256);
    expect(await card_.textContent()).toContain("made by stemvault");
    const download = await fetch(
      `${server.url}${await card_.getByRole("link", { name: /^Download/ }).getAttribute("href")}`,
    );
    expect(download.headers.get("content-disposition")).toMatch(/^attachment/);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(sha256(bytes)).toBe(file?.sha256);
    expect(JSON.stringify(JSON.parse(bytes.toString("utf8")))).toContain("Harbour lights are fading slow");
    await page.screenshot({ path: join(SCREENSHOTS, "lyrics.png"), fullPage: true });
  });

  it("shows the MIDI summary and downloads notes.mid and notes.json", async () => {
    await openTask(plan.ids.midi);
    const notes = MIDI_INSTRUMENTS.flatMap((instrument) => instrument.notes);
    const seconds = Math.max(...notes.map((note) => Number(note.end)));
    expect(statuses.midi.midi).toEqual({ instruments: 3, notes: notes.length, durationSeconds: seconds });
    const facts = page.locator("#midi-card .midi-facts");
    expect(await facts.locator("dt").allTextContents()).toEqual(["Instruments", "Notes", "Duration"]);
    expect(await facts.locator("dd").allTextContents()).toEqual(["3", String(notes.length), "0:07"]);

    for (const [role, name, type, magic] of [
      ["midi", "notes.mid", "audio/midi", "MThd"],
      ["notes", "notes.json", "application/json", "{"],
    ] as const) {
      const asset = statuses.midi.assets.find((candidate) => candidate.role === role);
      expect(asset, role).toMatchObject({
        state: "stored",
        key: `midi/${plan.ids.midi}/${name}`,
        contentType: type,
      });
      const link = page.locator("#midi-card").getByRole("link", { name: `Download ${name}` });
      expect(await link.getAttribute("download")).toBe(`${plan.ids.midi}-${name}`);
      const href = (await link.getAttribute("href")) ?? "";
      expect(href).toMatch(
        new RegExp(`^/media/midi/${plan.ids.midi}/${name.replace(".", "\\.")}\\?expires=`),
      );
      const response = await fetch(`${server.url}${href}`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get("content-type")).toMatch(new RegExp(`^${type}`));
      expect(response.headers.get("content-disposition")).toMatch(/^attachment/);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes.subarray(0, magic.length).toString("latin1"), name).toBe(magic);
      expect(sha256(bytes), name).toBe(asset?.sha256);
    }
    // A browser cannot play MIDI: there is no player, only the downloads.
    expect(await page.locator("audio, video").count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, "midi.png"), fullPage: true });
  });

  it("shows an unrecognised callback's raw JSON as inert text, with its salvaged file", async () => {
    const status = statuses.unknown;
    expect(status.kind).toBe("unknown");
    expect(status.callbacks.unrecognized).toBe(1);
    expect(status.unrecognizedCallbacks?.map((callback) => [callback.route, callback.body])).toEqual([
      ["/callbacks", plan.unknownBody],
    ]);
    await openTask(plan.ids.unknown);
    const card = page.locator("#unrecognized-card");
    expect(await card.isVisible()).toBe(true);
    const raw = card.locator(".raw-json");
    expect(await raw.count()).toBe(1);
    expect(await raw.textContent()).toBe(JSON.stringify(JSON.parse(plan.unknownBody), null, 2));
    expect(await card.locator(".raw-head code").textContent()).toBe("POST /callbacks");
    await raw.hover();
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(await raw.locator("*").count()).toBe(0);
    expect(await page.locator('img[src="x"], main script, main b').count()).toBe(0);
    expect(await raw.textContent()).toContain(UNKNOWN_XSS.msg.replaceAll('"', '\\"'));
    expect(await page.locator(".timeline").textContent()).toContain("1 not recognised");
    expect(await page.locator(".timeline li.is-unrecognized").textContent()).toContain(
      "Callback not recognised/callbacks",
    );

    // The media link inside it was archived as a file of the task and shows as an image.
    const salvaged = status.assets.find((asset) => asset.role === "file");
    expect(salvaged).toMatchObject({ state: "stored", sha256: sha256(MEDIA["/salvaged.png"]?.body) });
    const image = assetCard(salvaged?.name ?? "").locator("img");
    await expectLoadedWidth(image, 64);
    // Retry reads the kept callback again; this version still does not know its shape.
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await expect
      .poll(() => page.locator(".action-status").textContent())
      .toBe("Re-queued 0 files. This version does not recognise the kept callbacks either.");
    const after = await apiGet(receiver, `/tasks/${plan.ids.unknown}`);
    expect(after.body).toMatchObject({ kind: "unknown", callbacks: { unrecognized: 1 } });
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(SCREENSHOTS, "unknown.png"), fullPage: true });
  });

  it("retries failed files: the button re-queues them and they are stored", async () => {
    const vocal = statuses.retry.assets.find((asset) => asset.name === "vocal");
    expect(vocal?.state).toBe("failed");
    await openTask(plan.ids.retry);
    const card = assetCard("vocal");
    expect(await card.locator(".badge").textContent()).toBe("failed");
    expect(await card.locator(".fact.error").textContent()).toMatch(/404/);
    expect(await page.locator(".archive-state").textContent()).toContain("1 of 2 files stored");

    origin.release("/late-vocals.wav");
    const hits = origin.hits("/late-vocals.wav");
    await page.getByRole("button", { name: "Retry failed files" }).click();
    await expect.poll(() => page.locator(".action-status").textContent()).toBe("Re-queued 1 file.");

    const after = await waitForTask(
      receiver,
      plan.ids.retry,
      (status) => status.archive.state === "archived",
    );
    const stored = after.assets.find((asset) => asset.name === "vocal");
    expect(stored).toMatchObject({ state: "stored", error: null });
    expect(origin.hits("/late-vocals.wav")).toBeGreaterThan(hits);
    // The page follows on its own.
    await expect.poll(() => card.locator(".badge").textContent(), { timeout: 10_000 }).toBe("stored");
    expect(await card.locator("audio").count()).toBe(1);
    expect(await page.locator(".archive-state").textContent()).toContain("2 of 2 files stored");
    expect(await page.getByRole("button", { name: "Retry failed files" }).isDisabled()).toBe(true);
  });

  it("deletes a task only after a confirmation", async () => {
    const probe = await apiGet(receiver, "/tasks/dash-never-registered");
    const unknownDelete = await fetch(`${server.url}/tasks/dash-never-registered`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${receiver.apiToken}` },
    });
    expect(probe.status).toBe(404);
    expect(
      ((await unknownDelete.json()) as { error?: { code?: string } }).error?.code,
      "DELETE /tasks/:taskId (CONTRACT.md) must exist: an unknown task is 404 task_not_found",
    ).toBe("task_not_found");

    await openTask(plan.ids.doomed);
    const dialog = page.getByRole("dialog");
    await page.getByRole("button", { name: "Delete task…" }).click();
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(plan.ids.doomed);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await apiGet(receiver, `/tasks/${plan.ids.doomed}`)).status).toBe(200);

    await page.getByRole("button", { name: "Delete task…" }).click();
    await dialog.getByRole("button", { name: "Delete task" }).click();
    await page.locator(".flash").waitFor();
    expect(await page.locator(".flash").textContent()).toContain(`Deleted task ${plan.ids.doomed}`);
    expect(new URL(page.url()).hash).toMatch(/^#\/(\?.*)?$/);
    const gone = await apiGet(receiver, `/tasks/${plan.ids.doomed}`);
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ error: { code: "task_deleted" } });
  });

  it("made no request to another origin, raised no script error and set no cookie", async () => {
    const page375 = await context.newPage();
    await page375.setViewportSize({ width: 375, height: 800 });
    page375.on("request", (request) => requests.push(request.url()));
    page375.on("pageerror", (error) => pageErrors.push(error.message));
    await page375.goto(taskUrl(plan.ids.music));
    // A new tab has its own sessionStorage: it asks again.
    await page375.getByLabel("API token").fill(receiver.apiToken);
    await page375.getByLabel("API token").press("Enter");
    await page375.locator(".task-body:not([hidden])").waitFor();
    expect(await page375.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
    await page375.screenshot({ path: join(SCREENSHOTS, "task-375.png"), fullPage: true });
    for (const name of ["wav", "cover", "lyrics", "midi", "unknown"] as const) {
      await page375.goto(taskUrl(plan.ids[name]));
      await page375.locator(".task-body:not([hidden])").waitFor();
      expect(await page375.evaluate("document.documentElement.scrollWidth"), name).toBeLessThanOrEqual(375);
      await page375.screenshot({ path: join(SCREENSHOTS, `${name}-375.png`), fullPage: true });
    }
    await page375.close();

    expect(requests.length).toBeGreaterThan(0);
    const foreign = requests.filter((url) => new URL(url).origin !== server.url);
    expect(foreign).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(await context.cookies()).toEqual([]);
  });
});
