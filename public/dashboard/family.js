// @ts-check
// The parts of a task view that only some kinds have: the lyrics texts, the MIDI summary with its
// files, and the callbacks stemvault kept without understanding them. What a callback carried is
// only ever a text node (dom.js): a raw body full of markup is shown as that markup, never parsed.

import { fact, fill, h } from "./dom.js";
import { exactBytes, formatBytes, formatDuration, stamp, when } from "./format.js";
import { badge } from "./list.js";

/**
 * @typedef {{ title: string | null, text: string | null, status: string | null,
 *   error: string | null }} LyricsItem
 * @typedef {{ instruments: number, notes: number, durationSeconds: number }} MidiSummary
 * @typedef {{ receivedAt: string, route: string, body: string }} UnrecognizedCallback
 * @typedef {import("./task.js").Asset} Asset
 */

/**
 * The lyrics texts, one article each: title, status, the provider's error, and the text with its
 * line breaks (kept by `white-space: pre-wrap`, so the text stays one text node).
 * @param {HTMLElement} card
 * @param {HTMLElement} body
 * @param {LyricsItem[] | undefined} lyrics
 */
export function drawLyrics(card, body, lyrics) {
  card.hidden = !Array.isArray(lyrics);
  if (!Array.isArray(lyrics)) return;
  if (lyrics.length === 0) {
    fill(body, h("p", { class: "muted" }, "The provider sent no lyrics texts."));
    return;
  }
  fill(
    body,
    h(
      "div",
      { class: "lyrics-list" },
      lyrics.map((item, index) =>
        h(
          "article",
          { class: "lyrics", "aria-labelledby": `lyrics-title-${index}` },
          h(
            "header",
            { class: "lyrics-head" },
            h("h3", { id: `lyrics-title-${index}`, class: "lyrics-title" }, item.title || "Untitled"),
            item.status ? badge(item.status, "lyrics") : null,
          ),
          item.error ? h("p", { class: "bad lyrics-error" }, item.error) : null,
          item.text ? h("p", { class: "lyrics-text" }, item.text) : h("p", { class: "muted" }, "No text."),
        ),
      ),
    ),
  );
}

/**
 * The MIDI summary and the links to the files stemvault made from the notes: `notes.mid` (a
 * Standard MIDI File) and `notes.json` (the notes as the provider sent them).
 * @param {HTMLElement} card
 * @param {HTMLElement} body
 * @param {MidiSummary | null | undefined} midi
 * @param {Asset[]} assets
 * @param {string} taskId
 */
export function drawMidi(card, body, midi, assets, taskId) {
  card.hidden = !midi;
  if (!midi) return;
  const files = [
    ["midi", "notes.mid", "Standard MIDI File"],
    ["notes", "notes.json", "the notes as received"],
  ].map(([role, name, what]) => {
    const asset = assets.find((candidate) => candidate.role === role);
    if (asset?.state === "stored" && asset.url)
      return h(
        "li",
        {},
        h("a", { class: "button quiet", href: asset.url, download: `${taskId}-${name}` }, `Download ${name}`),
        h(
          "span",
          { class: "muted", title: exactBytes(asset.bytes ?? 0) },
          ` ${what}, ${formatBytes(asset.bytes)}`,
        ),
      );
    return h("li", { class: "muted" }, `${name}: ${asset ? asset.state : "not made yet"}`);
  });
  fill(
    body,
    h(
      "dl",
      { class: "facts inline-facts midi-facts" },
      fact("Instruments", String(midi.instruments)),
      fact("Notes", midi.notes.toLocaleString("en")),
      fact(
        "Duration",
        h("span", { title: `${midi.durationSeconds} s` }, formatDuration(midi.durationSeconds)),
      ),
    ),
    h("ul", { class: "midi-files" }, files),
  );
}

/**
 * The callbacks stemvault recorded but did not recognise, newest last, each with its raw body
 * (pretty-printed when it parses as JSON).
 * @param {HTMLElement} card
 * @param {HTMLElement} body
 * @param {UnrecognizedCallback[] | undefined} callbacks
 */
export function drawUnrecognized(card, body, callbacks) {
  card.hidden = !Array.isArray(callbacks) || callbacks.length === 0;
  if (!Array.isArray(callbacks) || callbacks.length === 0) return;
  fill(
    body,
    h(
      "p",
      { class: "muted" },
      `stemvault did not recognise the shape of ${callbacks.length === 1 ? "this callback" : `these ${callbacks.length} callbacks`} and kept ${callbacks.length === 1 ? "it" : "them"} as received; media links in ${callbacks.length === 1 ? "it" : "them"} were archived as files. The Retry button reads ${callbacks.length === 1 ? "it" : "them"} again with this version of stemvault.`,
    ),
    callbacks.map((callback) =>
      h(
        "article",
        { class: "raw-callback" },
        h(
          "header",
          { class: "raw-head" },
          h(
            "time",
            { datetime: callback.receivedAt, title: when(callback.receivedAt) },
            stamp(callback.receivedAt),
          ),
          h("code", {}, `POST ${callback.route}`),
          h("span", { class: "muted" }, formatBytes(new TextEncoder().encode(callback.body).length)),
        ),
        h(
          "pre",
          {
            class: "raw-json",
            tabindex: "0",
            "aria-label": `Raw body received ${when(callback.receivedAt)}`,
          },
          prettyJson(callback.body),
        ),
      ),
    ),
  );
}

/**
 * A raw body as it is easiest to read: JSON re-indented, anything else unchanged.
 * @param {string} raw
 */
export function prettyJson(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}
