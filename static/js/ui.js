// Small DOM helpers for the room's views: keyed lists and live timers.

import { t } from "./i18n.js";

/** The role's word on screen: 调解员 / 消费者 / 商家. */
export function roleLabel(role) {
  return role ? t(`role.${role}`) : "";
}

export const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** `document.createElement` with properties, attributes (`attrs`), dataset and children. */
export function el(tag, { attrs = {}, data = {}, children = [], ...props } = {}) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  Object.assign(node.dataset, data);
  node.append(...children);
  return node;
}

/** Set text only when it changed (keeps screen readers and selections calm). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Render `items` into `container` keeping one element per key: existing elements are updated in
 * place (so a focused button stays focused through the many re-renders a room causes), new ones
 * are made with `create(item)`, gone ones removed, and the order follows `items`.
 * `update(element, item)` fills an element.
 */
export function keyedList(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of container.children) existing.set(child.dataset.key, child);
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let node = existing.get(key);
    if (node) existing.delete(key);
    else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    const wanted = previous ? previous.nextSibling : container.firstChild;
    if (node !== wanted) container.insertBefore(node, wanted);
    previous = node;
  }
  for (const node of existing.values()) node.remove();
}

/** `m:ss` (or `h:mm:ss`) since `ms` (ms since the epoch); never negative. */
export function elapsed(ms, now = Date.now()) {
  const total = Math.max(0, Math.floor((now - ms) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * Make `node` a live timer from `since` (ms): its text is `t(key, {time})` (or the bare time),
 * refreshed once a second by `tickTimers`. `since` null clears it.
 */
export function setTimer(node, since, key = "") {
  if (since == null) {
    delete node.dataset.since;
    setText(node, "");
    return;
  }
  node.dataset.since = String(since);
  node.dataset.timerKey = key;
  tickTimer(node);
}

function tickTimer(node) {
  const time = elapsed(Number(node.dataset.since));
  setText(node, node.dataset.timerKey ? t(node.dataset.timerKey, { time }) : time);
}

export function tickTimers() {
  for (const node of document.querySelectorAll("[data-since]")) tickTimer(node);
}

/** A readable file size: `1.2 MB`, `340 KB`. */
export function fileSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** `HH:MM` of a time in ms, in the viewer's time zone. */
export function clock(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
