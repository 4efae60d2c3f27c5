// @ts-check
// The dashboard's entry: the token prompt, the hash router (#/ and #/tasks/<id>), and the
// refresh loop that keeps the shown view current.

import { checkToken, forgetToken, NetworkError, storedToken, storeToken } from "./api.js";
import { announce, fill, h, setText } from "./dom.js";
import { clockTime } from "./format.js";
import { listHash, listView } from "./list.js";
import { taskView } from "./task.js";

/**
 * What a view may ask of the page around it.
 * @typedef {{
 *   navigate: (hash: string) => void,
 *   replace: (hash: string) => void,
 *   listHash: () => string,
 *   unauthorized: () => void,
 *   live: (ok: boolean) => void,
 *   flash: (message: string) => void,
 * }} ViewContext
 * @typedef {{ element: HTMLElement, refresh: () => unknown, dispose: () => void }} View
 */

const REFRESH_MS = 4000;

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const liveText = /** @type {HTMLElement} */ (document.getElementById("live"));
const forgetButton = /** @type {HTMLButtonElement} */ (document.getElementById("forget-token"));

/** @type {View | null} */
let current = null;
/** @type {ReturnType<typeof listView> | null} */
let list = null;
let listScroll = 0;
let lastListHash = "#/";
let paused = false;
/** @type {string | null} */
let flashMessage = null;

const pauseButton = h(
  "button",
  {
    type: "button",
    class: "quiet",
    "aria-pressed": "false",
    title: "Pause automatic updates",
    onclick: togglePause,
  },
  "Pause",
);
liveText.after(pauseButton);
pauseButton.hidden = true;

/** @type {ViewContext} */
const context = {
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  replace: (hash) => {
    history.replaceState(null, "", hash);
    lastListHash = hash;
  },
  listHash: () => lastListHash,
  unauthorized: () => {
    forgetToken();
    showGate("The API token was rejected. Enter it again.");
  },
  live: (ok) => {
    liveText.hidden = false;
    liveText.className = `live ${ok ? (paused ? "paused" : "ok") : "offline"}`;
    setText(
      liveText,
      ok ? `${paused ? "Paused" : "Live"} · updated ${clockTime(new Date())}` : "Offline · retrying",
    );
  },
  flash: (message) => {
    flashMessage = message;
  },
};

function togglePause() {
  paused = !paused;
  pauseButton.setAttribute("aria-pressed", String(paused));
  setText(pauseButton, paused ? "Resume" : "Pause");
  pauseButton.title = paused ? "Resume automatic updates" : "Pause automatic updates";
  liveText.classList.toggle("paused", paused);
  liveText.classList.toggle("ok", !paused);
  announce(paused ? "Updates paused" : "Updates resumed");
  if (!paused) current?.refresh();
}

/** @returns {{ view: "list", params: Record<string, string> } | { view: "task", taskId: string } | null} */
function parseHash() {
  const hash = location.hash || "#/";
  const task = /^#\/tasks\/([A-Za-z0-9_-]{1,128})$/.exec(hash);
  if (task?.[1]) return { view: "task", taskId: task[1] };
  if (hash === "#/" || hash === "#" || hash.startsWith("#/?")) {
    const query = new URLSearchParams(hash.slice(hash.indexOf("?") + 1 || hash.length));
    /** @type {Record<string, string>} */
    const params = {};
    for (const name of ["q", "kind", "state", "archive", "cursor"]) params[name] = query.get(name) ?? "";
    return { view: "list", params };
  }
  return null;
}

/** @param {HTMLElement} element */
function mount(element) {
  const flash = flashMessage
    ? h(
        "div",
        { class: "flash", role: "status" },
        h("span", {}, flashMessage),
        h(
          "button",
          { type: "button", class: "quiet", onclick: () => flash?.remove(), "aria-label": "Dismiss" },
          "×",
        ),
      )
    : null;
  if (flashMessage) announce(flashMessage);
  flashMessage = null;
  fill(main, flash, element);
}

function route() {
  const target = parseHash();
  if (!target) return;
  if (!storedToken()) return showGate();
  forgetButton.hidden = false;
  pauseButton.hidden = false;

  if (current && current === list) listScroll = window.scrollY;
  if (current && current !== list) current.dispose();

  if (target.view === "list") {
    lastListHash = location.hash || "#/";
    const fresh = !list;
    list ??= listView(context);
    const returning = current !== list;
    current = list;
    if (returning) mount(list.element);
    document.title = "Tasks · stemvault";
    list.show(target.params, returning);
    if (returning && !fresh) {
      window.scrollTo(0, listScroll);
      list.refresh();
    }
    return;
  }
  const view = taskView(context, target.taskId);
  current = view;
  mount(view.element);
  window.scrollTo(0, 0);
  view.show(true);
}

/** @param {string} [problem] */
function showGate(problem) {
  current?.dispose();
  current = null;
  list?.dispose();
  list = null;
  forgetButton.hidden = true;
  pauseButton.hidden = true;
  liveText.hidden = true;
  document.title = "stemvault";

  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const error = h("p", { class: "bad", id: "token-error", role: "alert" }, problem ?? "");
  const submit = h("button", { type: "submit" }, "Open dashboard");
  const form = h(
    "form",
    {
      class: "card gate",
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        submit.disabled = true;
        setText(error, "");
        try {
          if (await checkToken(token)) {
            storeToken(token);
            route();
            return;
          }
          setText(error, "That token was rejected (401). Check the Worker's API_TOKEN.");
        } catch (failure) {
          setText(
            error,
            failure instanceof NetworkError ? "The Worker could not be reached." : String(failure),
          );
        } finally {
          submit.disabled = false;
        }
        input.select();
        input.focus();
      },
    },
    h("h1", {}, "Open the archive"),
    h(
      "p",
      { id: "token-help" },
      "Enter this Worker's API token (API_TOKEN). It is kept in this browser tab only and sent as a bearer header — never stored in a cookie.",
    ),
    h("label", { for: "token" }, "API token"),
    input,
    h(
      "p",
      { class: "hint" },
      "Running ",
      h("code", {}, "npm run dev"),
      "? Its token is ",
      h("code", {}, "dev-api-token"),
      ".",
    ),
    error,
    submit,
  );
  fill(main, h("section", { class: "view gate-view" }, form));
  input.focus();
}

forgetButton.addEventListener("click", () => {
  forgetToken();
  showGate();
  announce("Token forgotten");
});

function tick() {
  if (paused || document.visibilityState !== "visible") return;
  current?.refresh();
}

window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", tick);
setInterval(tick, REFRESH_MS);
if (!location.hash) history.replaceState(null, "", listHash({}));
route();
