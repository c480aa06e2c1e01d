// The office's view in the console: "my work" (#/work) and the dashboard (#/dashboard?from=…).
// Self-contained: it renders into its own two sections; main.js only routes to it. Every figure
// and every chart mark links to the case list behind it (#/cases?figure=…, served by
// GET /api/stats/cases and shown by the console's ordinary case list).

import { MESSAGES, lang, t } from "../i18n.js";
import { barChart, lineChart } from "./charts.js";

const ZH = {
  "console.nav.work": "我的工作",
  "console.nav.cases": "案件",
  "console.nav.dashboard": "统计",
  "dash.heading": "统计",
  "dash.from": "开始日期",
  "dash.to": "结束日期",
  "dash.category": "类别",
  "dash.mediator": "调解员",
  "dash.all": "全部",
  "dash.apply": "查询",
  "dash.month": "本月",
  "dash.lastMonth": "上月",
  "dash.year": "今年",
  "dash.loading": "正在统计…",
  "dash.failed": "统计失败：{message}",
  "dash.scope.office": "{office}：全部案件",
  "dash.scope.mediator": "{office}：调解员 {name} 的案件",
  "dash.period": "{start} 至 {end}（同比：{pstart} 至 {pend}）",
  "dash.yoy": "同比 {change}",
  "dash.yoy.none": "上年同期无数据",
  "dash.chart.months": "每月收到与办结（件）",
  "dash.chart.categories": "各类别收到与调解成功（件）",
  "dash.chart.success": "每月调解成功率",
  "dash.chart.money": "每月挽回经济损失（元）",
  "dash.legend.received": "收到",
  "dash.legend.concluded": "办结",
  "dash.legend.settled": "调解成功",
  "dash.export": "导出",
  "dash.export.csv": "CSV",
  "dash.export.xlsx": "Excel",
  "dash.export.pdf": "PDF 摘要",
  "dash.definition": "调解成功率 = 调解成功 ÷ 办结（撤回计入办结）；按期办结按工作日历（含节假日、调休）计。",
  "work.heading": "我的工作",
  "work.loading": "正在读取…",
  "work.failed": "读取失败：{message}",
  "work.today": "今天的调解",
  "work.upcoming": "之后的调解",
  "work.waiting": "当事人尚未进入的场次",
  "work.acceptance": "待决定是否受理",
  "work.deadline": "临近或超过期限",
  "work.agreements": "已签署、尚未履行的协议",
  "work.none": "无",
  "work.missing": "未进入：{roles}",
  "work.left": "剩 {n} 个工作日（{due}）",
  "work.overdue": "已超期（{due}）",
  "work.perform": "履行期限 {due}（{n} 天）",
  "work.perform.none": "未定履行期限",
  "work.role.consumer": "消费者",
  "work.role.business": "商家",
};

const EN = {
  "console.nav.work": "My work",
  "console.nav.cases": "Cases",
  "console.nav.dashboard": "Figures",
  "dash.heading": "Figures",
  "dash.from": "From",
  "dash.to": "To",
  "dash.category": "Category",
  "dash.mediator": "Mediator",
  "dash.all": "All",
  "dash.apply": "Show",
  "dash.month": "This month",
  "dash.lastMonth": "Last month",
  "dash.year": "This year",
  "dash.loading": "Counting…",
  "dash.failed": "Could not count: {message}",
  "dash.scope.office": "{office}: every case",
  "dash.scope.mediator": "{office}: cases of {name}",
  "dash.period": "{start} to {end} (year on year: {pstart} to {pend})",
  "dash.yoy": "YoY {change}",
  "dash.yoy.none": "nothing a year earlier",
  "dash.chart.months": "Received and concluded per month",
  "dash.chart.categories": "Received and settled per category",
  "dash.chart.success": "Success rate per month",
  "dash.chart.money": "Money recovered per month (CNY)",
  "dash.legend.received": "Received",
  "dash.legend.concluded": "Concluded",
  "dash.legend.settled": "Settled",
  "dash.export": "Export",
  "dash.export.csv": "CSV",
  "dash.export.xlsx": "Excel",
  "dash.export.pdf": "PDF summary",
  "dash.definition":
    "Success rate = settled ÷ concluded (withdrawn cases count as concluded); on time counts working days (holidays and make-up days included).",
  "work.heading": "My work",
  "work.loading": "Loading…",
  "work.failed": "Could not load: {message}",
  "work.today": "Sittings today",
  "work.upcoming": "Upcoming sittings",
  "work.waiting": "Sittings the parties have not joined yet",
  "work.acceptance": "Waiting for an acceptance decision",
  "work.deadline": "Near or past a deadline",
  "work.agreements": "Agreements signed, not yet performed",
  "work.none": "None",
  "work.missing": "Not joined: {roles}",
  "work.left": "{n} working days left ({due})",
  "work.overdue": "Overdue ({due})",
  "work.perform": "Perform by {due} ({n} days)",
  "work.perform.none": "No performance date",
  "work.role.consumer": "consumer",
  "work.role.business": "business",
};

const FIGURE_EN = {
  received: "Complaints received",
  accepted: "Accepted",
  not_accepted: "Not accepted",
  concluded: "Concluded",
  on_time: "Concluded on time",
  on_time_rate: "On-time rate",
  settled: "Settled",
  not_settled: "Not settled",
  withdrawn: "Withdrawn",
  success_rate: "Success rate (settled ÷ concluded)",
  money_recovered: "Money recovered (CNY)",
  money_median: "Median recovered per settled case",
  days_median: "Median days to conclusion",
  sittings: "Remote sittings",
  sitting_minutes_median: "Median sitting length (min)",
  consumer_count: "Consumer ratings",
  consumer_mean: "Consumer satisfaction (1–5)",
  consumer_share: "Consumers satisfied (≥ 4)",
  business_count: "Business ratings",
  business_mean: "Business satisfaction (1–5)",
  business_share: "Businesses satisfied (≥ 4)",
};

Object.assign(MESSAGES["zh-CN"], ZH);
Object.assign(MESSAGES.en, EN);

const view = {
  dashboard: null,
  work: null,
  /** What the dashboard shows: the last answer, or why not. */
  stats: null,
  error: null,
  loading: false,
  query: null,
  seq: 0,
};

function el(name, attrs = {}, children = []) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "testid") node.dataset.testid = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of [].concat(children)) if (child) node.append(child);
  return node;
}

const iso = (d) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

function defaultQuery() {
  const now = new Date();
  return { from: iso(new Date(now.getFullYear(), now.getMonth(), 1)), to: iso(now), category: "", mediator: "" };
}

export function parseDashboardQuery(search) {
  const params = new URLSearchParams(search);
  const q = defaultQuery();
  for (const key of Object.keys(q)) if (params.get(key)) q[key] = params.get(key);
  return q;
}

function queryString(q, extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...q, ...extra })) if (value) params.set(key, value);
  return params.toString();
}

const figureHash = (q, figure, extra = {}) => `#/cases?${queryString(q, { figure, ...extra })}`;

// ---- formatting ------------------------------------------------------------------------------

function formatValue(row, value) {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  if (row.rate) return `${(n * 100).toFixed(1)}%`;
  if (row.key.startsWith("money")) return `¥${n.toLocaleString(lang(), { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (row.key.endsWith("_mean")) return n.toFixed(2);
  if (row.key.endsWith("median")) return n.toFixed(1);
  return n.toLocaleString(lang());
}

function formatChange(row) {
  if (row.change === null || row.previous === null) return t("dash.yoy.none");
  const c = Number(row.change);
  const sign = c > 0 ? "+" : "";
  if (row.rate) return t("dash.yoy", { change: `${sign}${(c * 100).toFixed(1)} pp` });
  const ratio = row.change_ratio === null ? "" : ` (${sign}${(row.change_ratio * 100).toFixed(1)}%)`;
  const shown = row.key.startsWith("money") ? c.toFixed(2) : Number.isInteger(c) ? String(c) : c.toFixed(1);
  return t("dash.yoy", { change: `${sign}${shown}${ratio}` });
}

const figureLabel = (row) => (lang() === "en" ? (FIGURE_EN[row.key] ?? row.label) : row.label);

// ---- the dashboard -------------------------------------------------------------------------

async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  } catch {
    throw Object.assign(new Error("network"), { code: "network" });
  }
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  throw Object.assign(new Error(data?.message || `HTTP ${response.status}`), {
    code: data?.code ?? `http_${response.status}`,
    status: response.status,
  });
}

function controls(q, stats, office) {
  const form = el("form", { class: "dash-controls", testid: "dashboard-form", novalidate: true });
  const field = (label, input) => el("label", { class: "field" }, [el("span", { class: "field-label", text: t(label) }), input]);
  const from = el("input", { class: "text-input", type: "date", name: "from", value: q.from, testid: "dash-from" });
  const to = el("input", { class: "text-input", type: "date", name: "to", value: q.to, testid: "dash-to" });
  const category = el("select", { class: "select", name: "category", testid: "dash-category" }, [
    el("option", { value: "", text: t("dash.all") }),
    ...(office?.categories ?? []).map((c) => el("option", { value: c, text: c, selected: c === q.category })),
  ]);
  const mediators = stats?.mediators ?? [];
  const mediator = el("select", { class: "select", name: "mediator", testid: "dash-mediator" }, [
    ...(mediators.length > 1 ? [el("option", { value: "", text: t("dash.all") })] : []),
    ...mediators.map((m) => el("option", { value: String(m.id), text: m.display_name, selected: String(m.id) === q.mediator })),
  ]);
  const quick = (key, range) => {
    const b = el("button", { type: "button", class: "btn btn-quiet", text: t(key), testid: `dash-quick-${key.split(".")[1]}` });
    b.addEventListener("click", () => go({ ...q, ...range() }));
    return b;
  };
  const now = new Date();
  form.append(
    el("div", { class: "field-row" }, [field("dash.from", from), field("dash.to", to)]),
    el("div", { class: "field-row" }, [field("dash.category", category), mediators.length > 1 ? field("dash.mediator", mediator) : null]),
    el("div", { class: "actions" }, [
      quick("dash.month", () => ({ from: iso(new Date(now.getFullYear(), now.getMonth(), 1)), to: iso(now) })),
      quick("dash.lastMonth", () => ({
        from: iso(new Date(now.getFullYear(), now.getMonth() - 1, 1)),
        to: iso(new Date(now.getFullYear(), now.getMonth(), 0)),
      })),
      quick("dash.year", () => ({ from: `${now.getFullYear()}-01-01`, to: iso(now) })),
      el("button", { type: "submit", class: "btn btn-primary", text: t("dash.apply"), testid: "dash-apply" }),
    ]),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go({ from: from.value, to: to.value, category: category.value, mediator: mediators.length > 1 ? mediator.value : q.mediator });
  });
  return form;
}

function go(q) {
  location.hash = `#/dashboard?${queryString(q)}`;
}

function chartBox(testid, title, svg, legend = []) {
  return el("figure", { class: "chart", testid }, [
    el("figcaption", { class: "chart-title", text: title }),
    svg,
    legend.length
      ? el("p", { class: "chart-legend" }, legend.map(([cls, label]) => el("span", { class: `key ${cls}`, text: label })))
      : null,
  ]);
}

function charts(q, stats) {
  const months = stats.months;
  const labels = months.map((m) => m.month.slice(2));
  const monthHash = (m, figure) => figureHash({ ...q, from: m.start, to: m.end }, figure);
  const categories = stats.categories.filter((c) => c.received || c.concluded);
  return el("div", { class: "chart-grid", testid: "dashboard-charts" }, [
    chartBox(
      "chart-months",
      t("dash.chart.months"),
      barChart({
        title: t("dash.chart.months"),
        labels,
        series: [
          { name: t("dash.legend.received"), cls: "s1", values: months.map((m) => m.received), hrefs: months.map((m) => monthHash(m, "received")) },
          { name: t("dash.legend.concluded"), cls: "s2", values: months.map((m) => m.concluded), hrefs: months.map((m) => monthHash(m, "concluded")) },
        ],
      }),
      [["s1", t("dash.legend.received")], ["s2", t("dash.legend.concluded")]],
    ),
    chartBox(
      "chart-categories",
      t("dash.chart.categories"),
      barChart({
        title: t("dash.chart.categories"),
        labels: categories.map((c) => c.category),
        series: [
          { name: t("dash.legend.received"), cls: "s1", values: categories.map((c) => c.received), hrefs: categories.map((c) => figureHash({ ...q, category: c.category }, "received")) },
          { name: t("dash.legend.settled"), cls: "s3", values: categories.map((c) => c.settled), hrefs: categories.map((c) => figureHash({ ...q, category: c.category }, "settled")) },
        ],
      }),
      [["s1", t("dash.legend.received")], ["s3", t("dash.legend.settled")]],
    ),
    chartBox(
      "chart-success",
      t("dash.chart.success"),
      lineChart({
        title: t("dash.chart.success"),
        labels,
        values: months.map((m) => (m.success_rate === null ? null : m.success_rate * 100)),
        hrefs: months.map((m) => monthHash(m, "settled")),
        format: (v) => `${Math.round(v)}%`,
        max: 100,
        cls: "s3",
      }),
    ),
    chartBox(
      "chart-money",
      t("dash.chart.money"),
      barChart({
        title: t("dash.chart.money"),
        labels,
        series: [{ name: t("dash.chart.money"), cls: "s4", values: months.map((m) => Number(m.money_recovered)), hrefs: months.map((m) => monthHash(m, "money")) }],
        format: (v) => (v >= 10000 ? `${(v / 10000).toFixed(v >= 100000 ? 0 : 1)}万` : String(Math.round(v))),
      }),
    ),
  ]);
}

function figureCards(q, stats) {
  return el(
    "div",
    { class: "figure-grid", testid: "dashboard-figures" },
    stats.rows.map((row) =>
      el("a", { class: "figure-card", href: figureHash(q, row.figure), testid: `figure-${row.key}`, "data-figure": row.figure }, [
        el("span", { class: "figure-label", text: figureLabel(row) }),
        el("strong", { class: "figure-value", testid: `figure-value-${row.key}`, text: formatValue(row, row.current) }),
        el("span", { class: `figure-change ${Number(row.change) > 0 ? "up" : Number(row.change) < 0 ? "down" : ""}`, text: formatChange(row) }),
      ]),
    ),
  );
}

function renderDashboard(office) {
  const root = view.dashboard;
  if (!root) return;
  const q = view.query ?? defaultQuery();
  const stats = view.stats;
  const body = [el("h1", { class: "page-title", text: t("dash.heading") }), controls(q, stats, office)];
  if (view.loading) body.push(el("p", { class: "muted center", testid: "dashboard-loading", text: t("dash.loading") }));
  if (view.error) {
    body.push(el("div", { class: "card card-warn", role: "alert", testid: "dashboard-error", "data-code": view.error.code }, [
      el("p", { class: "message-title", text: t("dash.failed", { message: view.error.message }) }),
    ]));
  }
  if (stats && !view.error) {
    const scope = stats.mediator && stats.scope === "mediator"
      ? t("dash.scope.mediator", { office: stats.office_name, name: stats.mediator.display_name })
      : t("dash.scope.office", { office: stats.office_name });
    body.push(
      el("p", { class: "dash-scope", testid: "dashboard-scope" }, [
        el("strong", { text: scope + (stats.category ? ` · ${stats.category}` : "") }),
        el("br"),
        el("span", {
          text: t("dash.period", { start: stats.period.start, end: stats.period.end, pstart: stats.previous_period.start, pend: stats.previous_period.end }),
        }),
      ]),
      figureCards(q, stats),
      el("p", { class: "muted dash-definition", testid: "dashboard-definition", text: t("dash.definition") }),
      charts(q, stats),
      el("div", { class: "actions dash-exports" }, [
        el("span", { class: "field-label", text: t("dash.export") }),
        ...[["csv", "/api/stats/export.csv"], ["xlsx", "/api/stats/export.xlsx"], ["pdf", "/api/stats/summary.pdf"]].map(([kind, path]) =>
          el("a", { class: "btn btn-secondary", href: `${path}?${queryString(q)}`, download: true, testid: `export-${kind}`, text: t(`dash.export.${kind}`) }),
        ),
      ]),
    );
  }
  root.replaceChildren(...body);
}

async function loadDashboard(q, office) {
  const seq = ++view.seq;
  view.query = q;
  view.loading = true;
  view.error = null;
  renderDashboard(office);
  try {
    const stats = await getJson(`/api/stats?${queryString(q)}`);
    if (seq !== view.seq) return;
    view.stats = stats;
  } catch (err) {
    if (seq !== view.seq) return;
    view.error = { code: err.code, message: err.message };
  }
  view.loading = false;
  renderDashboard(office);
}

// ---- my work -------------------------------------------------------------------------------

function section(testid, titleKey, items, render) {
  return el("section", { class: "card stack work-section", testid }, [
    el("h2", { class: "card-title", text: `${t(titleKey)} (${items.length})` }),
    items.length
      ? el("ul", { class: "work-list" }, items.map((item) => el("li", { class: "work-item" }, render(item))))
      : el("p", { class: "muted", text: t("work.none") }),
  ]);
}

const caseLink = (number, title) => el("a", { href: `#/case/${encodeURIComponent(number)}`, text: `${number} ${title}` });

function when(at) {
  return at ? new Date(at).toLocaleString(lang(), { dateStyle: "medium", timeStyle: "short" }) : "";
}

function renderWork(work, error) {
  const root = view.work;
  if (!root) return;
  const body = [el("h1", { class: "page-title", text: t("work.heading") })];
  if (error) {
    body.push(el("div", { class: "card card-warn", role: "alert", testid: "work-error" }, [el("p", { text: t("work.failed", { message: error.message }) })]));
  } else if (!work) {
    body.push(el("p", { class: "muted center", text: t("work.loading") }));
  } else {
    const sitting = (s) => [
      caseLink(s.case_number, s.case_title),
      el("span", { class: "muted", text: ` ${when(s.scheduled_at)}` }),
      s.missing.length
        ? el("span", { class: "hint-warn", text: ` ${t("work.missing", { roles: s.missing.map((r) => t(`work.role.${r}`)).join("、") })}` })
        : null,
    ];
    const deadline = (c) => [
      caseLink(c.number, c.title),
      el("span", {
        class: c.deadline.flag === "ok" ? "muted" : "hint-warn",
        text: ` ${c.deadline.flag === "overdue" ? t("work.overdue", { due: c.deadline.due }) : t("work.left", { n: c.deadline.working_days_left, due: c.deadline.due })}`,
      }),
    ];
    body.push(
      el("div", { class: "work-grid", testid: "work-page" }, [
        section("work-today", "work.today", work.sittings_today, sitting),
        section("work-upcoming", "work.upcoming", work.sittings_upcoming, sitting),
        section("work-waiting", "work.waiting", work.waiting_for_parties, sitting),
        section("work-acceptance", "work.acceptance", work.awaiting_acceptance, deadline),
        section("work-deadline", "work.deadline", work.near_deadline, deadline),
        section("work-agreements", "work.agreements", work.unperformed_agreements, (a) => [
          caseLink(a.case_number, a.case_title),
          el("span", { class: a.days_left !== null && a.days_left < 0 ? "hint-warn" : "muted", text: ` ¥${a.amount ?? "—"} · ${a.performance_due_on ? t("work.perform", { due: a.performance_due_on, n: a.days_left }) : t("work.perform.none")}` }),
        ]),
      ]),
    );
  }
  root.replaceChildren(...body);
}

async function loadWork() {
  renderWork(null, null);
  try {
    renderWork(await getJson("/api/my-work"), null);
  } catch (err) {
    renderWork(null, { code: err.code, message: err.message });
  }
}

// ---- entry points (main.js) ------------------------------------------------------------------

/** Show #/dashboard?… or #/work; `office` is GET /api/office's answer (categories), or null. */
export function showOfficeView(name, search, office) {
  view.dashboard = document.querySelector('section[data-view="dashboard"]');
  view.work = document.querySelector('section[data-view="work"]');
  if (name === "dashboard") loadDashboard(parseDashboardQuery(search), office);
  else loadWork();
}

/** A read-only snapshot for tests. */
Object.defineProperty(window, "__dashboard", {
  get: () => ({
    loading: view.loading,
    error: view.error?.code ?? null,
    figures: view.stats ? Object.fromEntries(view.stats.rows.map((r) => [r.key, r.current])) : null,
    marks: Object.fromEntries(
      [...document.querySelectorAll("[data-testid^='chart-']")].map((c) => [c.dataset.testid, c.querySelectorAll(".mark").length]),
    ),
  }),
});
