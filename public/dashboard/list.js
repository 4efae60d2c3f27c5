// @ts-check
// The task list: filters, search by task-id prefix, paging, refreshed in place.

import { ApiError, listTasks } from "./api.js";
import { fill, h, setText, syncList } from "./dom.js";
import { ago, exactBytes, formatBytes, label, when } from "./format.js";

/** @typedef {import("./api.js").TaskSummary} TaskSummary */
/** @typedef {import("./app.js").ViewContext} ViewContext */

export const PAGE_SIZE = 50;
const TASK_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** @type {Record<string, [string, string][]>} */
const FILTERS = {
  kind: [
    ["", "All kinds"],
    ["music", "Music"],
    ["separation", "Separation"],
    ["video", "Video"],
    ["wav", "WAV"],
    ["cover", "Cover images"],
    ["lyrics", "Lyrics"],
    ["midi", "MIDI"],
    ["unknown", "Unrecognised"],
  ],
  state: [
    ["", "Any state"],
    ["awaiting_callback", "Awaiting callback"],
    ["in_progress", "In progress"],
    ["succeeded", "Succeeded"],
    ["failed", "Failed"],
  ],
  archive: [
    ["", "Any archive"],
    ["none", "Nothing to archive"],
    ["archiving", "Archiving"],
    ["archived", "Archived"],
    ["failed", "Failed"],
  ],
};
/** @type {Record<string, string>} */
const FILTER_LABELS = { kind: "Kind", state: "State", archive: "Archive" };

/**
 * The list's query as it appears in the location hash (`#/?kind=music&q=abc&cursor=...`).
 * @param {Record<string, string>} params
 */
export function listHash(params) {
  const query = new URLSearchParams();
  for (const name of ["q", "kind", "state", "archive", "cursor"]) {
    const value = params[name];
    if (value) query.set(name, value);
  }
  const text = query.toString();
  return text ? `#/?${text}` : "#/";
}

/**
 * A badge: the state in words, coloured by a class named after it.
 * @param {string | null | undefined} state
 * @param {string} [prefix]
 */
export const badge = (state, prefix = "state") =>
  h("span", { class: `badge ${prefix}-${state ?? "none"}` }, label(state));

/**
 * A `<time>` that the refresh keeps relative ("2 min ago"), with the exact time as a tooltip.
 * @param {string | null | undefined} iso
 */
export const timeAgo = (iso) =>
  iso ? h("time", { datetime: iso, title: when(iso), dataset: { ago: iso } }, ago(iso)) : h("span", {}, "—");

/**
 * Updates every relative time under `root`.
 * @param {ParentNode} root
 */
export function refreshTimes(root) {
  const now = Date.now();
  for (const element of root.querySelectorAll("time[data-ago]")) {
    setText(element, ago(/** @type {HTMLElement} */ (element).dataset.ago, now));
  }
}

/**
 * Files stored of total, as a bar and words.
 * @param {import("./api.js").Archive} archive
 */
export function archiveSummary(archive) {
  if (!archive || archive.total === 0) return h("span", { class: "muted" }, "no files");
  const failed = archive.failed ?? 0;
  return h(
    "span",
    { class: "archive" },
    h("progress", {
      max: archive.total,
      value: archive.stored,
      "aria-label": `${archive.stored} of ${archive.total} files stored`,
    }),
    h(
      "span",
      {},
      `${archive.stored}/${archive.total} · `,
      h("span", { title: exactBytes(archive.bytes) }, formatBytes(archive.bytes)),
      failed > 0 ? h("span", { class: "bad" }, ` · ${failed} failed`) : null,
    ),
  );
}

/**
 * @param {ViewContext} context
 */
export function listView(context) {
  /** @type {Record<string, string>} */
  let params = {};
  /** @type {AbortController | null} */
  let inFlight = null;
  let loadedOnce = false;

  const heading = h("h1", { tabindex: "-1" }, "Tasks");
  const summary = h("p", { class: "lede", "aria-live": "polite" }, "Loading tasks…");

  /** @param {string} name */
  const select = (name) => {
    const id = `filter-${name}`;
    const control = h(
      "select",
      { id, name, onchange: () => applyFilters(true) },
      FILTERS[name]?.map(([value, text]) => h("option", { value }, text)),
    );
    return h("div", { class: "field" }, h("label", { for: id }, FILTER_LABELS[name]), control);
  };
  const search = h("input", {
    id: "filter-q",
    name: "q",
    type: "search",
    placeholder: "task id prefix",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    maxlength: "128",
    oninput: () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => applyFilters(false), 250);
    },
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let searchTimer;
  const filters = h(
    "form",
    {
      class: "filters",
      role: "search",
      "aria-label": "Filter tasks",
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        applyFilters(false);
      },
    },
    h("div", { class: "field grow" }, h("label", { for: "filter-q" }, "Search"), search),
    select("kind"),
    select("state"),
    select("archive"),
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        onclick: () => {
          filters.reset();
          applyFilters(true);
        },
      },
      "Clear",
    ),
  );

  const notice = h("div", { class: "notice", role: "alert", hidden: true });
  const rows = h("tbody", {});
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "tasks" },
      h("caption", { class: "visually-hidden" }, "Tasks, most recently updated first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Task", "Kind", "State", "Archive", "Updated"].map((text) => h("th", { scope: "col" }, text)),
        ),
      ),
      rows,
    ),
  );
  const empty = h("p", { class: "empty", hidden: true });
  const newest = h("a", { class: "button quiet", href: "#/" }, "← Newest");
  const older = h("a", { class: "button quiet", href: "#/" }, "Older →");
  const pager = h("nav", { class: "pager", "aria-label": "Pages", hidden: true }, newest, older);

  const openInput = h("input", {
    id: "open-task-id",
    name: "taskId",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    maxlength: "128",
    pattern: "[A-Za-z0-9_\\-]{1,128}",
    title: "1–128 characters of A–Z, a–z, 0–9, _ or -",
  });
  const openForm = h(
    "form",
    {
      class: "open-task",
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        const taskId = openInput.value.trim();
        if (TASK_ID.test(taskId)) context.navigate(`#/tasks/${taskId}`);
      },
    },
    h("label", { for: "open-task-id" }, "Open a task by its id"),
    h("div", { class: "inline" }, openInput, h("button", { type: "submit" }, "Open")),
  );

  const element = h(
    "section",
    { class: "view list-view", "aria-labelledby": "list-heading" },
    h("div", { class: "view-head" }, heading, summary),
    filters,
    notice,
    table,
    empty,
    pager,
    openForm,
  );
  heading.id = "list-heading";

  /** @param {boolean} immediate */
  function applyFilters(immediate) {
    clearTimeout(searchTimer);
    const next = {
      q: search.value.trim(),
      kind: controlValue("kind"),
      state: controlValue("state"),
      archive: controlValue("archive"),
    };
    context.replace(listHash(next));
    show(next, immediate);
  }

  /** @param {string} name */
  function controlValue(name) {
    const control = filters.elements.namedItem(name);
    return control instanceof HTMLSelectElement ? control.value : "";
  }

  /**
   * @param {Record<string, string>} next
   * @param {boolean} [focus]
   */
  function show(next, focus = false) {
    const changed = JSON.stringify(next) !== JSON.stringify(params);
    params = next;
    if (document.activeElement !== search && search.value !== (params.q ?? "")) search.value = params.q ?? "";
    for (const name of ["kind", "state", "archive"]) {
      const control = filters.elements.namedItem(name);
      if (control instanceof HTMLSelectElement && control.value !== (params[name] ?? ""))
        control.value = params[name] ?? "";
    }
    if (focus) heading.focus({ preventScroll: true });
    if (changed || !loadedOnce) load();
  }

  async function load() {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    try {
      const page = await listTasks({ ...params, limit: String(PAGE_SIZE) }, controller.signal);
      if (controller.signal.aborted) return;
      loadedOnce = true;
      render(page);
      context.live(true);
    } catch (error) {
      if (controller.signal.aborted) return;
      handleError(error);
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  /** @param {unknown} error */
  function handleError(error) {
    if (error instanceof ApiError && error.status === 401) return context.unauthorized();
    if (error instanceof ApiError && error.status === 404) {
      // A Worker without the list route: the task view still works.
      loadedOnce = true;
      table.hidden = true;
      pager.hidden = true;
      setText(summary, "This Worker does not list tasks.");
      notice.hidden = false;
      fill(
        notice,
        h("strong", {}, "No task list. "),
        "GET /tasks answered 404, so this Worker cannot list its tasks yet. Open a task by its id below.",
      );
      return context.live(true);
    }
    if (error instanceof ApiError) {
      notice.hidden = false;
      fill(notice, h("strong", {}, "The list could not be loaded. "), error.message);
      return context.live(true);
    }
    // Network trouble: keep what is shown, say so in the header, try again on the next tick.
    context.live(false);
  }

  /** @param {import("./api.js").TaskPage} page */
  function render(page) {
    notice.hidden = true;
    table.hidden = page.tasks.length === 0;
    syncList(rows, page.tasks, {
      key: (task) => task.taskId,
      signature: (task) => JSON.stringify({ ...task, updatedAt: task.updatedAt }),
      create: row,
      update: (node, task) => {
        const hadFocus = node.contains(document.activeElement);
        const fresh = row(task);
        if (hadFocus) queueMicrotask(() => fresh.querySelector("a")?.focus());
        return fresh;
      },
    });
    refreshTimes(rows);

    const filtered = Boolean(params.q || params.kind || params.state || params.archive);
    const paged = Boolean(params.cursor);
    const count = page.tasks.length;
    setText(
      summary,
      count === 0
        ? "No tasks to show."
        : `${count} task${count === 1 ? "" : "s"}${paged ? " on this page" : ""}${filtered ? " matching the filters" : ""}, most recently updated first.`,
    );
    empty.hidden = count > 0;
    if (count === 0) {
      fill(
        empty,
        filtered || paged
          ? "No task matches these filters."
          : "No tasks yet. Give a provider this Worker's /callbacks?token=… URL as its callBackUrl, and every task it reports shows up here.",
      );
    }
    pager.hidden = !paged && !page.nextCursor;
    newest.hidden = !paged;
    newest.setAttribute("href", listHash({ ...params, cursor: "" }));
    older.hidden = !page.nextCursor;
    if (page.nextCursor) older.setAttribute("href", listHash({ ...params, cursor: page.nextCursor }));
  }

  /** @param {TaskSummary} task */
  function row(task) {
    return h(
      "tr",
      {},
      h(
        "th",
        { scope: "row", "data-label": "Task" },
        h("a", { class: "mono task-link", href: `#/tasks/${encodeURIComponent(task.taskId)}` }, task.taskId),
      ),
      h("td", { "data-label": "Kind" }, h("span", { class: `kind kind-${task.kind}` }, task.kind)),
      h(
        "td",
        { "data-label": "State" },
        badge(task.state),
        task.stage ? h("span", { class: "stage" }, task.stage) : null,
      ),
      h("td", { "data-label": "Archive" }, archiveSummary(task.archive)),
      h("td", { "data-label": "Updated" }, timeAgo(task.updatedAt)),
    );
  }

  return {
    element,
    show,
    /** Re-reads the current page in place (the auto-refresh). */
    refresh: () => (inFlight ? undefined : load()),
    dispose: () => {
      inFlight?.abort();
      clearTimeout(searchTimer);
    },
  };
}
