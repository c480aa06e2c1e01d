// What the console knows about cases: statuses (where a case may go next is the server's word),
// categories, and how amounts, dates and the server's validation messages are read and shown.

import { lang } from "../i18n.js";

export const STATUSES = [
  "received",
  "accepted",
  "in_mediation",
  "settled",
  "not_settled",
  "not_accepted",
  "withdrawn",
];

/**
 * The statuses a case may move to now, as the server says (CaseOut.next_statuses), in the order
 * of STATUSES (the server sorts them by name): a step forward before a step that ends the case.
 */
export function nextStatuses(c) {
  const rank = (status) => {
    const i = STATUSES.indexOf(status);
    return i === -1 ? STATUSES.length : i;
  };
  return [...(c?.next_statuses ?? [])].sort((a, b) => rank(a) - rank(b));
}

/** A case the server lets go nowhere any more is over: no edits, no new mediation. */
export function isConcluded(c) {
  return nextStatuses(c).length === 0;
}

/** Statuses that end a case: the buttons leading there are the quieter kind. */
export const ENDINGS = new Set(["settled", "not_settled", "not_accepted", "withdrawn"]);

/**
 * The default categories (server/office.py DEFAULT_CATEGORIES) → message keys. An office's own
 * list comes from GET /api/office; a name not in here is shown as the office wrote it.
 */
export const CATEGORIES = {
  家用电器: "appliances",
  预付卡: "prepaid",
  网络购物: "online",
  餐饮: "catering",
  美容美发: "beauty",
  汽车: "cars",
  房屋装修: "renovation",
  教育培训: "education",
  其他: "other",
};

export const DEADLINE_FLAGS = ["ok", "due_soon", "overdue"];

export const VALID_HOURS = [24, 72, 168];
export const DEFAULT_VALID_HOURS = 72;

const FULL_WIDTH = /[０-９．－]/g;

/** What a person typed as an amount, as the API reads it: "３，２９９．００元" → "3299.00". */
export function normalizeAmount(text) {
  return text
    .replace(FULL_WIDTH, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s,，¥￥元]/g, "");
}

/** "3299.00" → "¥3,299.00" without going through a float. */
export function formatMoney(value) {
  if (value === null || value === undefined || value === "") return "";
  const [whole, fraction = ""] = String(value).split(".");
  const negative = whole.startsWith("-");
  const digits = negative ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${grouped}.${(fraction + "00").slice(0, 2)}`;
}

/** Two amounts as the API reads them, compared exactly: "3299" and "3299.00" are the same. */
export function sameAmount(a, b) {
  const canonical = (value) => {
    const text = String(value ?? "");
    const match = text.match(/^(\d+)(?:\.(\d*))?$/);
    if (!match) return text;
    const whole = match[1].replace(/^0+(?=\d)/, "");
    const fraction = (match[2] ?? "").replace(/0+$/, "");
    return fraction ? `${whole}.${fraction}` : whole;
  };
  return canonical(a) === canonical(b);
}

/** Whether an invitation still lets its holder in, as far as its own dates tell. */
export function invitationState(inv, now = Date.now()) {
  if (inv.revoked_at) return "revoked";
  const expires = parseTime(inv.expires_at);
  if (expires && expires.getTime() <= now) return "expired";
  return "valid";
}

/** A server time: the API gives it with its zone ("…Z" or "…+00:00"); shown in local time. */
export function parseTime(value) {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time;
}

export function formatDateTime(value) {
  const time = parseTime(value);
  if (!time) return "";
  return new Intl.DateTimeFormat(lang(), {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(time);
}

export function formatTime(value) {
  const time = parseTime(value);
  if (!time) return "";
  const today = new Date();
  const sameDay = time.toDateString() === today.toDateString();
  return new Intl.DateTimeFormat(lang(), {
    ...(sameDay ? {} : { month: "2-digit", day: "2-digit" }),
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  }).format(time);
}

/** A calendar date ("2026-12-02"), shown in the page's language without a time zone shift. */
export function formatDate(value) {
  if (!value) return "";
  const [y, m, d] = value.split("-").map(Number);
  if (!y || !m || !d) return value;
  return new Intl.DateTimeFormat(lang(), {
    year: "numeric",
    month: "long",
    day: "numeric",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** Today in the browser's time zone, as an <input type="date"> value. */
export function todayISO() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/**
 * The fields a validation message names: "title: String should …; amount_in_dispute: …" →
 * [{field: "title", text: "String should …"}, …] (server/errors.py `describe`).
 */
export function fieldProblems(message) {
  const problems = [];
  for (const part of (message ?? "").split("; ")) {
    const match = part.match(/^([a-z_][a-z0-9_.]*): (.+)$/);
    if (match) problems.push({ field: match[1].split(".")[0], text: match[2] });
  }
  return problems;
}
