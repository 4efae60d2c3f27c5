// @ts-check
// One task: header and actions, archive progress, stage timeline, what only some kinds have
// (lyrics, MIDI, unrecognised callbacks: family.js), tracks with their files and players,
// outbound events. Refreshed in place: a part whose data did not change is not touched,
// so a playing file keeps playing and focus stays where it was.

import { ApiError, deleteTask, getTask, redeliverEvent, retryTask } from "./api.js";
import { announce, fact, fill, h, setText, syncList } from "./dom.js";
import { drawLyrics, drawMidi, drawUnrecognized } from "./family.js";
import { exactBytes, formatBytes, formatDuration, hostOf, stamp, when } from "./format.js";
import { archiveSummary, badge, refreshTimes, timeAgo } from "./list.js";

/**
 * @typedef {{ at: string, stage: string | null, code: number | null, message: string | null,
 *   duplicates?: number }} CallbackEntry
 * @typedef {{ received: number, distinct?: number, duplicates: number, unrecognized?: number,
 *   firstAt: string | null, lastAt: string | null, history?: CallbackEntry[] }} Callbacks
 * @typedef {{ id: string, title: string | null, tags: string | null, prompt: string | null,
 *   modelName: string | null, duration: number | null, createTime: string | number | null }} Track
 * @typedef {{ name: string, role: string, sourceUrl: string | null, state: string, via?: string,
 *   key: string | null, bytes: number | null, sha256: string | null, contentType: string | null,
 *   attempts: number, error: string | null, url: string | null }} Asset
 * @typedef {{ id: string, type: string, state: string, attempts: number, lastStatus: number | null,
 *   lastError: string | null, createdAt: string | null, deliveredAt: string | null }} TaskEvent
 * @typedef {{ attempts: number, lastAt: string | null, lastStatus: string | null,
 *   nextAt: string | null, error: string | null }} Reconcile
 * @typedef {{ url: string, bytes: number }} Bundle
 * @typedef {{ taskId: string, kind: string, state: string, stage: string | null,
 *   providerCode: number | null, providerMessage: string | null, createdAt: string,
 *   callbacks: Callbacks, archive: import("./api.js").Archive, reconcile?: Reconcile,
 *   tracks: Track[], assets: Asset[], events?: TaskEvent[], via?: string,
 *   request?: Record<string, unknown> | null,
 *   lyrics?: import("./family.js").LyricsItem[], midi?: import("./family.js").MidiSummary | null,
 *   unrecognizedCallbacks?: import("./family.js").UnrecognizedCallback[], bundle?: Bundle }} TaskStatus
 * @typedef {import("./app.js").ViewContext} ViewContext
 */

const RETRYABLE = new Set(["failed", "queued", "downloading"]);
/** Roles of the files stemvault writes itself from a callback's data (nothing to play). */
const MADE = new Set(["lyrics", "midi", "notes"]);
/** What the files group of each kind is called. */
const FILES_TITLE = /** @type {Record<string, string>} */ ({
  separation: "Stems",
  video: "Video",
  wav: "WAV",
  cover: "Cover images",
  lyrics: "Lyrics file",
  midi: "MIDI files",
  unknown: "Salvaged files",
});

/**
 * @param {ViewContext} context
 * @param {string} taskId
 */
export function taskView(context, taskId) {
  /** @type {TaskStatus | null} */
  let status = null;
  /** @type {AbortController | null} */
  let inFlight = null;
  let gone = false;
  /** The newest signed link of each stored file, for players whose own link expired. */
  const latestUrl = new Map();
  /** Per part of the page, what it was last drawn from. */
  const drawn = new Map();

  const back = h("a", { href: context.listHash() }, "← All tasks");
  const heading = h("h1", { class: "mono task-id", tabindex: "-1" }, taskId);
  const kind = h("span", { class: "kind" });
  const meta = h("p", { class: "meta" });
  const provider = h("p", { class: "provider", hidden: true });
  const actionStatus = h("p", { class: "action-status", role: "status" });
  const retryButton = h("button", { type: "button", onclick: retry, disabled: true }, "Retry failed files");
  const deleteButton = h(
    "button",
    { type: "button", class: "danger", onclick: confirmDelete },
    "Delete task…",
  );
  const notice = h("div", { class: "notice", role: "alert", hidden: true });
  // Through the bundle's signed link, so a plain download works without the token.
  const bundleLink = h("a", { class: "button bundle-link", download: `${taskId}.zip`, hidden: true });

  const archiveBody = h("div", { class: "archive-body" });
  const timeline = h("ol", { class: "timeline" });
  const groups = h("div", { class: "groups" });
  const eventsBody = h("div", { class: "events-body" });
  const requestBody = h("dl", { class: "facts request" });
  const lyricsBody = h("div", { class: "lyrics-body" });
  const midiBody = h("div", { class: "midi-body" });
  const unrecognizedBody = h("div", { class: "unrecognized-body" });

  const section = (/** @type {string} */ id, /** @type {string} */ title, /** @type {Node} */ body) =>
    h(
      "section",
      { class: "card", id: `${id}-card`, "aria-labelledby": `${id}-heading` },
      h("h2", { id: `${id}-heading` }, title),
      body,
    );
  const lyricsCard = section("lyrics", "Lyrics", lyricsBody);
  const midiCard = section("midi", "MIDI", midiBody);
  const unrecognizedCard = section("unrecognized", "Unrecognised callbacks", unrecognizedBody);
  for (const card of [lyricsCard, midiCard, unrecognizedCard]) card.hidden = true;

  const content = h(
    "div",
    { class: "task-body", hidden: true },
    h(
      "div",
      { class: "columns" },
      section("archive", "Archive", archiveBody),
      section("timeline", "Timeline", timeline),
      section("request", "Submitted request", requestBody),
    ),
    lyricsCard,
    midiCard,
    section("files", "Files", groups),
    unrecognizedCard,
    section("events", "Events", eventsBody),
  );

  const dialog = deleteDialog();
  const element = h(
    "section",
    { class: "view task-view", "aria-labelledby": "task-heading" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, back),
    h(
      "header",
      { class: "task-head" },
      h("div", { class: "title" }, kind, heading, meta, provider),
      h("div", { class: "actions" }, bundleLink, retryButton, deleteButton),
    ),
    actionStatus,
    notice,
    content,
    dialog.element,
  );
  heading.id = "task-heading";

  async function load() {
    if (gone) return;
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    try {
      const next = /** @type {TaskStatus} */ (await getTask(taskId, controller.signal));
      if (controller.signal.aborted) return;
      render(next);
      context.live(true);
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError && error.status === 401) return context.unauthorized();
      if (error instanceof ApiError && (error.status === 404 || error.status === 410)) {
        gone = true;
        content.hidden = true;
        retryButton.disabled = true;
        deleteButton.disabled = true;
        notice.hidden = false;
        fill(
          notice,
          h("strong", {}, error.status === 410 ? "Deleted. " : "Not found. "),
          error.status === 410
            ? `Task ${taskId} was deleted, with its archive.`
            : `This Worker has no task ${taskId}.`,
          " ",
          h("a", { href: context.listHash() }, "Back to all tasks"),
        );
        return context.live(true);
      }
      if (error instanceof ApiError) {
        notice.hidden = false;
        fill(notice, h("strong", {}, "The task could not be loaded. "), error.message);
        return context.live(true);
      }
      context.live(false);
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  /**
   * Redraws `part` only when `data` differs from what it was last drawn from.
   * @param {string} part
   * @param {unknown} data
   * @param {() => void} draw
   */
  function once(part, data, draw) {
    const signature = JSON.stringify(data);
    if (drawn.get(part) === signature) return;
    drawn.set(part, signature);
    draw();
  }

  /** @param {TaskStatus} next */
  function render(next) {
    status = next;
    notice.hidden = true;
    content.hidden = false;
    for (const asset of next.assets) if (asset.url) latestUrl.set(asset.name, asset.url);
    document.title = `${next.taskId} · stemvault`;

    once(
      "head",
      [next.kind, next.state, next.stage, next.createdAt, next.providerCode, next.providerMessage],
      () => {
        kind.className = `kind kind-${next.kind}`;
        setText(kind, next.kind);
        fill(
          meta,
          badge(next.state),
          next.stage ? h("span", { class: "stage" }, `stage ${next.stage}`) : null,
          h("span", { class: "muted" }, "created ", timeAgo(next.createdAt)),
        );
        provider.hidden = next.providerCode === null && !next.providerMessage;
        fill(
          provider,
          "Provider: ",
          next.providerCode !== null ? h("code", {}, String(next.providerCode)) : null,
          next.providerMessage ? h("q", { class: "provider-message" }, next.providerMessage) : null,
        );
      },
    );
    const retryable = next.assets.filter((asset) => RETRYABLE.has(asset.state)).length;
    const unread = next.unrecognizedCallbacks?.length ?? next.callbacks.unrecognized ?? 0;
    retryButton.disabled = retryable === 0 && unread === 0;
    setText(retryButton, unread > 0 && retryable === 0 ? "Retry" : "Retry failed files");
    retryButton.title =
      [
        retryable > 0 ? `Download ${retryable} file(s) again` : "",
        unread > 0 ? `Read ${unread} unrecognised callback(s) again` : "",
      ]
        .filter(Boolean)
        .join("; ") || "Every file is stored";

    drawBundleLink(next);
    once("archive", [next.archive, next.assets.map((asset) => asset.bytes)], () => drawArchive(next));
    once("timeline", [next.state, next.stage, next.callbacks, next.reconcile, next.createdAt], () =>
      drawTimeline(next),
    );
    once("lyrics", next.lyrics ?? null, () => drawLyrics(lyricsCard, lyricsBody, next.lyrics));
    once(
      "midi",
      [next.midi ?? null, next.assets.filter((asset) => asset.role === "midi" || asset.role === "notes")],
      () => drawMidi(midiCard, midiBody, next.midi, next.assets, next.taskId),
    );
    drawGroups(next);
    once("unrecognized", next.unrecognizedCallbacks ?? null, () =>
      drawUnrecognized(unrecognizedCard, unrecognizedBody, next.unrecognizedCallbacks),
    );
    once("events", next.events ?? null, () => drawEvents(next.events));
    once("request", [next.via, next.request], () => drawRequest(next));
    refreshTimes(element);
  }

  /**
   * Every refresh brings a fresh signed link. Until the task is archived, the ZIP holds the
   * files stored so far (`partial=true`; its manifest lists what is missing).
   * @param {TaskStatus} next
   */
  function drawBundleLink(next) {
    bundleLink.hidden = !next.bundle;
    if (!next.bundle) return bundleLink.removeAttribute("href");
    const complete = next.archive.state === "archived";
    bundleLink.setAttribute("href", complete ? next.bundle.url : `${next.bundle.url}&partial=true`);
    bundleLink.title = `${formatBytes(next.bundle.bytes)} (${exactBytes(next.bundle.bytes)}): every stored file and the manifest`;
    setText(bundleLink, complete ? "Download all (.zip)" : "Download stored files (.zip)");
  }

  /**
   * What was submitted through `POST /provider/…` (prompt, model, title…), beside the timeline.
   * Values are text nodes like everything else (fact → h), so a prompt is never markup.
   * @param {TaskStatus} next
   */
  function drawRequest(next) {
    const card = /** @type {HTMLElement} */ (requestBody.parentElement);
    const request = next.via === "submit" ? next.request : null;
    card.hidden = !request;
    if (!request) return;
    fill(
      requestBody,
      ...Object.entries(request).map(([name, value]) =>
        fact(name, typeof value === "string" ? value : JSON.stringify(value)),
      ),
    );
  }

  /** @param {TaskStatus} next */
  function drawArchive(next) {
    const { archive } = next;
    const known = next.assets.every((asset) => asset.bytes !== null);
    const totalBytes = next.assets.reduce((sum, asset) => sum + (asset.bytes ?? 0), 0);
    fill(
      archiveBody,
      h(
        "p",
        { class: "archive-state" },
        badge(archive.state, "archive"),
        archive.total > 0
          ? h("span", { class: "big" }, `${archive.stored} of ${archive.total} files stored`)
          : null,
      ),
      archive.total > 0 ? archiveSummary(archive) : null,
      archive.total > 0
        ? h(
            "p",
            { class: "muted" },
            h("span", { title: exactBytes(archive.bytes) }, formatBytes(archive.bytes)),
            " stored",
            known && totalBytes > archive.bytes ? ` of ${formatBytes(totalBytes)}` : "",
            (archive.failed ?? 0) > 0 ? ` · ${archive.failed} failed` : "",
          )
        : h("p", { class: "muted" }, "No media files reported yet."),
    );
  }

  /** @param {TaskStatus} next */
  function drawTimeline(next) {
    const { callbacks } = next;
    /** @type {HTMLElement[]} */
    const items = [];
    const item = (
      /** @type {string | null} */ at,
      /** @type {string} */ title,
      /** @type {(Node | string | null)[]} */ details,
      /** @type {string} */ tone = "",
    ) =>
      h(
        "li",
        { class: `event ${tone}` },
        h("div", { class: "when" }, at ? h("time", { datetime: at, title: when(at) }, stamp(at)) : "—"),
        h("div", { class: "what" }, h("strong", {}, title), ...details),
      );
    const code = (/** @type {number | null} */ value) =>
      value === null ? null : h("code", {}, String(value));
    const message = (/** @type {string | null} */ text) => (text ? h("q", {}, text) : null);

    items.push(item(next.createdAt, "Task recorded", [h("span", { class: "muted" }, next.kind)]));
    /** Callbacks, recognised or not, in the order they arrived. @type {[string, HTMLElement][]} */
    const arrivals = [];
    for (const entry of next.unrecognizedCallbacks ?? []) {
      arrivals.push([
        entry.receivedAt,
        item(entry.receivedAt, "Callback not recognised", [h("code", {}, entry.route)], "is-unrecognized"),
      ]);
    }
    if (Array.isArray(callbacks.history)) {
      for (const entry of callbacks.history) {
        const dupes = entry.duplicates ?? 0;
        arrivals.push([
          entry.at,
          item(
            entry.at,
            `Callback: ${entry.stage ?? "unknown stage"}`,
            [
              code(entry.code),
              message(entry.message),
              dupes > 0
                ? h("span", { class: "muted" }, `+${dupes} duplicate${dupes === 1 ? "" : "s"}`)
                : null,
            ],
            entry.stage === "error" ? "is-error" : "",
          ),
        ]);
      }
    } else if (callbacks.received > 0) {
      items.push(item(callbacks.firstAt, "First callback", []));
      items.push(
        item(
          callbacks.lastAt,
          `Latest callback: ${next.stage ?? "unknown stage"}`,
          [code(next.providerCode), message(next.providerMessage)],
          next.stage === "error" ? "is-error" : "",
        ),
      );
    }
    arrivals.sort(([a], [b]) => Date.parse(a) - Date.parse(b));
    items.push(...arrivals.map(([, node]) => node));
    if (next.reconcile && next.reconcile.attempts > 0) {
      const { reconcile } = next;
      items.push(
        item(
          reconcile.lastAt,
          `Asked the provider (${reconcile.attempts}×)`,
          [
            reconcile.lastStatus ? h("span", {}, reconcile.lastStatus) : null,
            reconcile.error ? h("span", { class: "bad" }, reconcile.error) : null,
          ],
          reconcile.error ? "is-error" : "",
        ),
      );
    }
    const distinct = callbacks.distinct ?? callbacks.received - callbacks.duplicates;
    const unrecognized = callbacks.unrecognized ?? 0;
    fill(timeline, items);
    const summary =
      callbacks.received === 0
        ? "Waiting for the first callback."
        : `${callbacks.received} callback${callbacks.received === 1 ? "" : "s"} received: ${distinct} distinct, ${callbacks.duplicates} duplicate${callbacks.duplicates === 1 ? "" : "s"}${unrecognized > 0 ? `, ${unrecognized} not recognised` : ""}.`;
    timeline.append(h("li", { class: "event summary" }, h("div", { class: "what muted" }, summary)));
  }

  /** @param {TaskStatus} next */
  function drawGroups(next) {
    /** @type {{ key: string, track: Track | null, assets: Asset[] }[]} */
    const list = [];
    const claimed = new Set();
    for (const track of next.tracks ?? []) {
      const own = next.assets.filter((asset) => asset.name.startsWith(`${track.id}/`));
      for (const asset of own) claimed.add(asset.name);
      list.push({ key: `track:${track.id}`, track, assets: own });
    }
    const rest = next.assets.filter((asset) => !claimed.has(asset.name));
    if (rest.length > 0 || list.length === 0) list.push({ key: "files", track: null, assets: rest });

    syncList(groups, list, {
      key: (group) => group.key,
      signature: (group) => JSON.stringify([group.track, group.assets.length > 0]),
      create: (group) => {
        const node = h(
          "article",
          { class: "group" },
          h("div", { class: "group-head" }),
          h("div", { class: "assets" }),
        );
        drawGroupHead(node, group.track, next, group.assets.length);
        return node;
      },
      update: (node, group) => {
        drawGroupHead(node, group.track, next, group.assets.length);
        return node;
      },
    });
    for (const group of list) {
      const node = [...groups.children].find(
        (child) => /** @type {HTMLElement} */ (child).dataset.key === group.key,
      );
      const container = node?.querySelector(".assets");
      if (!container) continue;
      if (group.assets.length === 0) {
        fill(
          container,
          h("p", { class: "muted" }, group.track ? "No files for this track yet." : "No files reported yet."),
        );
        continue;
      }
      for (const child of [...container.children])
        if (!(/** @type {HTMLElement} */ (child).dataset.key)) child.remove();
      syncList(container, group.assets, {
        key: (asset) => asset.name,
        signature: (asset) => JSON.stringify({ ...asset, url: asset.url !== null }),
        create: (asset) => assetCard(asset, group.track),
        update: (node, asset) => {
          const fresh = assetCard(asset, group.track);
          const oldPlayer = node.querySelector(".player");
          const newPlayer = fresh.querySelector(".player");
          // The same stored object: keep the element that may be playing.
          if (
            oldPlayer &&
            newPlayer &&
            oldPlayer.getAttribute("data-object") === newPlayer.getAttribute("data-object")
          )
            newPlayer.replaceWith(oldPlayer);
          return fresh;
        },
      });
    }
  }

  /**
   * @param {Element} node
   * @param {Track | null} track
   * @param {TaskStatus} next
   * @param {number} files
   */
  function drawGroupHead(node, track, next, files) {
    const head = node.querySelector(".group-head");
    if (!head) return;
    if (!track && files === 0) {
      fill(head);
      return;
    }
    if (!track) {
      fill(head, h("h3", {}, FILES_TITLE[next.kind] ?? "Files"));
      return;
    }
    fill(
      head,
      h("h3", { class: "track-title" }, track.title || "Untitled track"),
      h(
        "dl",
        { class: "facts inline-facts" },
        fact("Tags", track.tags || "—"),
        fact("Duration", formatDuration(track.duration)),
        fact("Model", track.modelName || "—"),
        fact("Track id", h("span", { class: "mono" }, track.id)),
      ),
      track.prompt
        ? h(
            "details",
            { class: "prompt" },
            h("summary", {}, "Prompt"),
            h("p", { class: "pre" }, track.prompt),
          )
        : null,
    );
  }

  /**
   * @param {Asset} asset
   * @param {Track | null} track
   */
  function assetCard(asset, track) {
    const short = track
      ? asset.name.slice(track.id.length + 1)
      : MADE.has(asset.role) && asset.key
        ? (asset.key.split("/").pop() ?? asset.name)
        : asset.name;
    const download =
      asset.url && asset.key
        ? `${status?.taskId ?? taskId}-${asset.key.split("/").slice(2).join("-")}`
        : null;
    return h(
      "section",
      { class: `asset is-${asset.state}`, "aria-label": `${asset.role} ${asset.name}` },
      h(
        "header",
        { class: "asset-head" },
        h("h4", { class: "mono" }, short),
        short === asset.role ? null : h("span", { class: `role role-${asset.role}` }, asset.role),
        badge(asset.state, "asset"),
      ),
      player(asset, track),
      h(
        "dl",
        { class: "facts" },
        fact(
          "Size",
          asset.bytes === null
            ? "—"
            : h("span", { title: exactBytes(asset.bytes) }, formatBytes(asset.bytes)),
        ),
        fact("SHA-256", asset.sha256 ? h("code", { class: "hash", title: asset.sha256 }, asset.sha256) : "—"),
        fact("Attempts", String(asset.attempts)),
        fact(
          "Source",
          MADE.has(asset.role) ? "made by stemvault" : h("span", { class: "mono" }, hostOf(asset.sourceUrl)),
        ),
        asset.via ? fact("Via", asset.via) : null,
        asset.contentType ? fact("Type", asset.contentType) : null,
        asset.error ? fact("Error", h("span", { class: "bad" }, asset.error), "error") : null,
      ),
      asset.url && download
        ? h(
            "p",
            { class: "asset-actions" },
            h(
              "a",
              { class: "button quiet", href: asset.url, download },
              `Download ${formatBytes(asset.bytes)}`,
            ),
          )
        : null,
    );
  }

  /**
   * @param {Asset} asset
   * @param {Track | null} track
   */
  function player(asset, track) {
    if (asset.state !== "stored" || !asset.url) return null;
    const name = track?.title ? `${track.title} – ${asset.role}` : `${asset.name} (${asset.role})`;
    const object = asset.key ?? asset.name;
    const onerror = (/** @type {Event} */ event) => {
      // A tab left open longer than a signed link lives: switch to the newest link once.
      const media = /** @type {HTMLMediaElement | HTMLImageElement} */ (event.currentTarget);
      const fresh = latestUrl.get(asset.name);
      if (fresh && media.getAttribute("src") !== fresh) media.setAttribute("src", fresh);
    };
    const type = asset.contentType ?? "";
    if (MADE.has(asset.role)) return null;
    if (
      asset.role === "cover" ||
      asset.role === "image" ||
      (asset.role === "file" && type.startsWith("image/"))
    ) {
      const alt =
        asset.role === "cover"
          ? `Cover of ${track?.title || asset.name}`
          : asset.role === "image"
            ? `Cover image ${asset.name}`
            : `Image ${asset.name}`;
      return h(
        "div",
        { class: "player cover", "data-object": object },
        h("img", { src: asset.url, alt, loading: "lazy", onerror }),
      );
    }
    if (asset.role === "file" && !type.startsWith("audio/") && !type.startsWith("video/")) return null;
    if (asset.role === "video" || type.startsWith("video/")) {
      return h(
        "div",
        { class: "player", "data-object": object },
        h("video", {
          src: asset.url,
          controls: true,
          preload: "metadata",
          playsinline: true,
          "aria-label": name,
          onerror,
        }),
      );
    }
    return h(
      "div",
      { class: "player", "data-object": object },
      h("audio", { src: asset.url, controls: true, preload: "metadata", "aria-label": name, onerror }),
    );
  }

  /** @param {TaskEvent[] | undefined} events */
  function drawEvents(events) {
    if (!Array.isArray(events)) {
      fill(
        eventsBody,
        h(
          "p",
          { class: "muted" },
          "This Worker does not report outbound events (EVENTS_URL is off or not supported).",
        ),
      );
      return;
    }
    if (events.length === 0) {
      fill(eventsBody, h("p", { class: "muted" }, "No events yet: one is sent when the task settles."));
      return;
    }
    fill(
      eventsBody,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "events" },
          h("caption", { class: "visually-hidden" }, "Outbound events"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Event", "State", "Attempts", "Last answer", "Created", "Delivered", ""].map((text) =>
                h("th", { scope: "col" }, text),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            events.map((event) =>
              h(
                "tr",
                {},
                h(
                  "th",
                  { scope: "row", "data-label": "Event" },
                  h("span", {}, event.type),
                  h("br", {}),
                  h("code", { class: "hash" }, event.id),
                ),
                h("td", { "data-label": "State" }, badge(event.state, "event")),
                h("td", { "data-label": "Attempts" }, String(event.attempts)),
                h(
                  "td",
                  { "data-label": "Last answer" },
                  event.lastStatus !== null ? h("code", {}, String(event.lastStatus)) : null,
                  event.lastError ? h("span", { class: "bad" }, ` ${event.lastError}`) : null,
                  event.lastStatus === null && !event.lastError ? "—" : null,
                ),
                h("td", { "data-label": "Created" }, timeAgo(event.createdAt)),
                h("td", { "data-label": "Delivered" }, timeAgo(event.deliveredAt)),
                h(
                  "td",
                  { "data-label": "" },
                  h(
                    "button",
                    {
                      type: "button",
                      class: "quiet",
                      "aria-label": `Redeliver event ${event.id}`,
                      onclick: (/** @type {Event} */ click) =>
                        redeliver(event, /** @type {HTMLButtonElement} */ (click.currentTarget)),
                    },
                    "Redeliver",
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  /**
   * @param {string} text
   * @param {"ok" | "bad"} [tone]
   */
  function say(text, tone = "ok") {
    actionStatus.className = `action-status ${tone}`;
    setText(actionStatus, text);
    announce(text);
  }

  /** @param {unknown} error */
  function failed(error) {
    if (error instanceof ApiError && error.status === 401) return context.unauthorized();
    say(error instanceof Error ? error.message : String(error), "bad");
  }

  async function retry() {
    retryButton.disabled = true;
    try {
      const unread = status?.unrecognizedCallbacks?.length ?? 0;
      const answer = await retryTask(taskId);
      const count = typeof answer?.requeued === "number" ? answer.requeued : null;
      // `reparsed`: how many kept callbacks this version now recognises (and applied).
      const reparsed = typeof answer?.reparsed === "number" ? answer.reparsed : null;
      const plural = (/** @type {number} */ n) => (n === 1 ? "" : "s");
      const reread =
        unread === 0
          ? ""
          : reparsed === null
            ? ` Read ${unread} unrecognised callback${plural(unread)} again.`
            : reparsed > 0
              ? ` ${reparsed} unrecognised callback${plural(reparsed)} now recognised.`
              : " This version does not recognise the kept callbacks either.";
      say((count === null ? "Retry requested." : `Re-queued ${count} file${plural(count)}.`) + reread);
      await load();
    } catch (error) {
      failed(error);
      retryButton.disabled = false;
    }
  }

  /**
   * @param {TaskEvent} event
   * @param {HTMLButtonElement} button
   */
  async function redeliver(event, button) {
    button.disabled = true;
    try {
      await redeliverEvent(taskId, event.id);
      say(`Event ${event.id} is being redelivered.`);
      await load();
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  }

  function confirmDelete() {
    dialog.open(status);
  }

  function deleteDialog() {
    const body = h("p", {});
    const problem = h("p", { class: "bad", role: "alert" });
    const cancel = h("button", { type: "button", class: "quiet", onclick: () => element_.close() }, "Cancel");
    const confirm = h("button", { type: "submit", class: "danger" }, "Delete task");
    const element_ = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "delete-heading" },
      h(
        "form",
        {
          method: "dialog",
          onsubmit: async (/** @type {SubmitEvent} */ event) => {
            event.preventDefault();
            confirm.disabled = true;
            setText(problem, "");
            try {
              const answer = await deleteTask(taskId);
              element_.close();
              gone = true;
              const removed =
                typeof answer?.deleted === "number" ? ` (${answer.deleted} objects removed)` : "";
              context.flash(`Deleted task ${taskId}${removed}.`);
              context.navigate(context.listHash());
            } catch (error) {
              if (error instanceof ApiError && error.status === 401) {
                element_.close();
                return context.unauthorized();
              }
              setText(problem, error instanceof Error ? error.message : String(error));
            } finally {
              confirm.disabled = false;
            }
          },
        },
        h("h2", { id: "delete-heading" }, "Delete this task?"),
        body,
        problem,
        h("div", { class: "dialog-actions" }, cancel, confirm),
      ),
    );
    return {
      element: element_,
      /** @param {TaskStatus | null} current */
      open(current) {
        const files = current?.archive.stored ?? 0;
        fill(
          body,
          "Task ",
          h("strong", { class: "mono" }, taskId),
          ` and its archive — ${files} stored file${files === 1 ? "" : "s"}`,
          current ? ` (${formatBytes(current.archive.bytes)})` : "",
          ", its record and its stored callbacks — are removed for good. Later callbacks for it are ignored.",
        );
        setText(problem, "");
        element_.showModal();
        cancel.focus();
      },
    };
  }

  return {
    element,
    /** @param {boolean} focus */
    show(focus) {
      if (focus) heading.focus({ preventScroll: true });
      return load();
    },
    refresh: () => (inFlight || gone ? undefined : load()),
    dispose: () => {
      inFlight?.abort();
      gone = true;
    },
  };
}
