// What the console knows about cases: statuses and their legal next steps, categories, and how
// amounts, dates and the server's validation messages are read and shown.

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

/** The legal next steps, as cases/repository.py's _TRANSITIONS (the API doesn't list them). */
export const NEXT_STATUSES = {
  received: ["accepted", "not_accepted", "withdrawn"],
  accepted: ["in_mediation", "withdrawn"],
  in_mediation: ["settled", "not_settled", "withdrawn"],
  settled: [],
  not_settled: [],
  not_accepted: [],
  withdrawn: [],
};

/** Statuses after which a case is over: no new mediation is opened. */
export const CLOSED = new Set(["settled", "not_settled", "not_accepted", "withdrawn"]);

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

/** A server time: the database gives naive UTC ("2026-11-23T21:28:19"), the API sometimes "Z". */
export function parseTime(value) {
  if (!value) return null;
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const time = new Date(text);
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
