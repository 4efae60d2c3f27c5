// @ts-check
// The only way the dashboard builds DOM. Text always becomes text nodes (never parsed as HTML),
// links and media sources must be same-origin paths, and handlers must be functions. The page's
// Content-Security-Policy (no inline script, Trusted Types with no policy) backs this up: an
// `innerHTML = "..."` anywhere would throw instead of running what a callback carried.

/** @typedef {string | number | Node | null | undefined | false} Child */
/** @typedef {Record<string, unknown>} Props */

const URL_ATTRIBUTES = new Set(["href", "src", "poster", "action", "formaction"]);

/**
 * A same-origin path ("/media/...", "#/tasks/...") or throws: nothing the API returns can point
 * the page at another origin or at a `javascript:` URL.
 * @param {string} value
 */
export function localUrl(value) {
  if (/^(#|\/(?![/\\]))/.test(value)) return value;
  throw new Error(`refusing a non-local URL: ${value.slice(0, 40)}`);
}

/**
 * Creates an element. `props`: `class`, `dataset`, `on<event>` (functions), DOM properties for
 * non-string values (`disabled`, `value`, `max`...), attributes otherwise.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = String(value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`${name} must be a function`);
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (URL_ATTRIBUTES.has(name)) element.setAttribute(name, localUrl(String(value)));
    else if (typeof value === "string") element.setAttribute(name, value);
    else if (value === true) element.setAttribute(name, "");
    else Reflect.set(element, name, value);
  }
  append(element, children);
  return element;
}

/**
 * @param {Element} parent
 * @param {(Child | Child[])[]} children
 */
function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces an element's children (text stays text).
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function fill(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * Sets an element's text only when it changed, so a refresh leaves untouched nodes alone.
 * @param {Element} element
 * @param {string} text
 */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * Keeps `parent`'s children in step with `items` without rebuilding them: an item whose
 * signature did not change keeps its node (and its focus, scroll position, playing media);
 * one that changed is patched by `update` (or rebuilt when `update` returns a new node).
 * @template T
 * @param {Element} parent
 * @param {T[]} items
 * @param {{
 *   key: (item: T) => string,
 *   signature: (item: T) => string,
 *   create: (item: T) => Element,
 *   update?: (node: Element, item: T) => Element | undefined,
 * }} spec
 */
export function syncList(parent, items, spec) {
  /** @type {Map<string, Element>} */
  const existing = new Map();
  for (const node of [...parent.children]) {
    if (node instanceof HTMLElement && node.dataset.key !== undefined) existing.set(node.dataset.key, node);
  }
  /** @type {Element | null} */
  let cursor = parent.firstElementChild;
  for (const item of items) {
    const key = spec.key(item);
    const signature = spec.signature(item);
    let node = existing.get(key);
    existing.delete(key);
    if (!node) node = keyed(spec.create(item), key, signature);
    else if (/** @type {HTMLElement} */ (node).dataset.signature !== signature) {
      const patched = spec.update ? spec.update(node, item) : spec.create(item);
      if (patched && patched !== node) {
        node.replaceWith(patched);
        if (cursor === node) cursor = patched;
        node = patched;
      }
      keyed(node, key, signature);
    }
    if (node !== cursor) parent.insertBefore(node, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const stale of existing.values()) stale.remove();
}

/**
 * @param {Element} node
 * @param {string} key
 * @param {string} signature
 */
function keyed(node, key, signature) {
  const element = /** @type {HTMLElement} */ (node);
  element.dataset.key = key;
  element.dataset.signature = signature;
  return element;
}

/**
 * Says something to screen readers (the page's polite live region).
 * @param {string} message
 */
export function announce(message) {
  const region = document.getElementById("announce");
  if (!region) return;
  region.textContent = "";
  // A separate task, so the same message said twice is still announced.
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/**
 * One term and its value of a `<dl class="facts">`.
 * @param {string} term
 * @param {string | Node} value
 * @param {string} [tone]
 */
export function fact(term, value, tone = "") {
  return h("div", { class: `fact ${tone}` }, h("dt", {}, term), h("dd", {}, value));
}
