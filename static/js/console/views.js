// Small render functions: state → DOM. No state changes here; forms keep their own values.

import { hasMessage, lang, t } from "../i18n.js";
import {
  CATEGORIES,
  DEADLINE_FLAGS,
  DEFAULT_VALID_HOURS,
  ENDINGS,
  STATUSES,
  VALID_HOURS,
  fieldProblems,
  formatDate,
  formatDateTime,
  formatMoney,
  formatTime,
  invitationState,
  isConcluded,
  nextStatuses,
} from "./domain.js";
import { bundleUrl, terminationUrl, transcriptPageUrl } from "./api.js";
import { qrSvg } from "./qr.js";
import { caseHash, listHash } from "./routes.js";

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** Elements rendered into, found once. */
export const dom = {
  views: document.querySelectorAll("[data-view]"),
  userLine: $("user-line"),
  officeLine: $("office-line"),
  langToggle: $("lang-toggle"),
  logoutButton: $("logout-button"),
  toast: $("toast"),

  loginForm: $("login-form"),
  loginError: $("login-error"),
  loginSubmit: $("login-submit"),

  searchForm: $("search-form"),
  searchInput: $("search-input"),
  filterStatus: $("filter-status"),
  filterCategory: $("filter-category"),
  filterDeadline: $("filter-deadline"),
  listTotal: $("list-total"),
  clearFilters: $("clear-filters"),
  listError: $("list-error"),
  listErrorText: $("list-error-text"),
  listRetry: $("list-retry"),
  listLoading: $("list-loading"),
  listEmpty: $("list-empty"),
  caseList: $("case-list"),
  pager: $("pager"),
  pagePrev: $("page-prev"),
  pageNext: $("page-next"),
  pageInfo: $("page-info"),

  backLinks: [$("create-back"), $("case-back")],
  createForm: $("create-form"),
  createCategory: $("create-category"),
  createRules: $("create-rules"),
  createReceivedOn: $("create-received-on"),
  createError: $("create-error"),
  createSubmit: $("create-submit"),

  caseLoading: $("case-loading"),
  caseError: $("case-error"),
  caseErrorText: $("case-error-text"),
  caseRetry: $("case-retry"),
  casePage: $("case-page"),
  caseNumber: $("case-number"),
  caseStatus: $("case-status"),
  caseTitle: $("case-title"),
  caseDeadline: $("case-deadline"),
  caseDetails: $("case-details"),
  editButton: $("edit-button"),
  editForm: $("edit-form"),
  editCategory: $("edit-category"),
  editError: $("edit-error"),
  editSubmit: $("edit-submit"),
  editCancel: $("edit-cancel"),
  statusCurrent: $("status-current"),
  statusFinal: $("status-final"),
  statusActions: $("status-actions"),
  statusConfirmPanel: $("status-confirm-panel"),
  statusQuestion: $("status-question"),
  statusRecoveredField: $("status-recovered-field"),
  statusRecovered: $("status-amount-recovered"),
  statusReason: $("status-reason"),
  statusConfirm: $("status-confirm"),
  statusCancel: $("status-cancel"),
  statusError: $("status-error"),
  revealButton: $("reveal-button"),
  revealNote: $("reveal-note"),
  revealError: $("reveal-error"),
  parties: $("parties"),
  partyForms: { consumer: $("party-form-consumer"), business: $("party-form-business") },
  partyErrors: { consumer: $("party-error-consumer"), business: $("party-error-business") },
  partySubmits: { consumer: $("consumer-submit"), business: $("business-submit") },
  inviteHours: $("invite-hours"),
  inviteButton: $("invite-button"),
  inviteBlocked: $("invite-blocked"),
  inviteError: $("invite-error"),
  revokeError: $("revoke-error"),
  invitations: $("invitations"),
  invitationList: $("invitation-list"),
  invitationListError: $("invitation-list-error"),
  sittingError: $("sitting-error"),
  recordRefresh: $("record-refresh"),
  auditStatus: $("audit-status"),
  recordError: $("record-error"),
  sittings: $("sittings"),
  transcript: $("transcript"),
  noteForm: $("note-form"),
  noteInput: $("note-input"),
  noteError: $("note-error"),
  noteSubmit: $("note-submit"),
  summaryForm: $("summary-form"),
  summaryInput: $("summary-input"),
  summarySaved: $("summary-saved"),
  summaryError: $("summary-error"),
  summarySubmit: $("summary-submit"),
  transcriptView: $("transcript-view"),
  transcriptPdf: $("transcript-pdf"),
  transcriptPdfError: $("transcript-pdf-error"),
  recordingsRefresh: $("recordings-refresh"),
  recordingsError: $("recordings-error"),
  recordings: $("recordings"),
  recordingPlayerBox: $("recording-player-box"),
  recordingPlayer: $("recording-player"),
  recordingPlayerCaption: $("recording-player-caption"),
  recordingPlayerError: $("recording-player-error"),
  recordingDownload: $("recording-download"),
  evidenceRefresh: $("evidence-refresh"),
  evidenceError: $("evidence-error"),
  evidence: $("evidence"),
  evidenceViewerBox: $("evidence-viewer-box"),
  evidenceViewer: $("evidence-viewer"),
  evidenceViewerCaption: $("evidence-viewer-caption"),
  evidenceViewerError: $("evidence-viewer-error"),
  satisfactionError: $("satisfaction-error"),
  satisfactionAnswers: $("satisfaction-answers"),
  bundleDownload: $("bundle-download"),
  bundleDownloadRecordings: $("bundle-download-recordings"),
};

// ---- small helpers --------------------------------------------------------------------------

/** `el("p", {class: "x", testid: "y", text: "…"}, children)`: text only, never HTML. */
function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** Rebuild `container` only when what it shows changed (keeps focus, scroll and open state). */
function rebuild(container, signature, build) {
  const full = `${lang()}|${signature}`;
  if (container.dataset.signature === full) return;
  container.dataset.signature = full;
  build();
}

function fillSelect(select, options, value) {
  rebuild(select, JSON.stringify(options), () => {
    select.replaceChildren(...options.map(([v, label]) => el("option", { value: v, text: label })));
  });
  if (select.value !== value) select.value = value;
}

export function roleLabel(role) {
  return hasMessage(`role.${role}`) ? t(`role.${role}`) : role;
}

export function statusLabel(status) {
  return hasMessage(`console.status.${status}`) ? t(`console.status.${status}`) : status;
}

export function categoryLabel(category) {
  const key = CATEGORIES[category];
  return key ? t(`console.category.${key}`) : category;
}

function statusBadge(badge, status) {
  badge.textContent = statusLabel(status);
  badge.dataset.status = status;
}

/** The words for a failure: the most specific message there is for `code` in `context`. */
export function errorWords(code, context) {
  for (const key of [`console.err.${context}.${code}`, `console.err.${code}`]) {
    if (hasMessage(key)) return t(key);
  }
  return t("console.err.unknown", { code });
}

const PROBLEMS = [
  [/at least 1 character|Field required/, "console.problem.required"],
  [/at most (\d+) characters?/, "console.problem.too_long"],
  [/should match pattern/, "console.problem.pattern"],
  [/no more than 2 decimal places/, "console.problem.decimals"],
  [/no more than \d+ digits/, "console.problem.too_big"],
  [/valid decimal|valid number/, "console.problem.number"],
  [/greater than or equal to 0/, "console.problem.negative"],
  [/valid date/, "console.problem.date"],
  [/must be one of/, "console.problem.choose"],
  [/in the future/, "console.problem.future"],
  // cases/repository.py InvalidField (code invalid_field)
  [/must not be empty|cannot be cleared/, "console.problem.required"],
  [/more than two decimals/, "console.problem.decimals"],
  [/is too large/, "console.problem.too_big"],
  [/not a number/, "console.problem.number"],
  [/must be zero or more/, "console.problem.negative"],
];

/** The codes whose message names the fields at fault ("title: …; amount_in_dispute: …"). */
const FIELD_CODES = new Set(["invalid_payload", "invalid_field"]);

/** A validation problem of the server in the page's words (the original stays on screen). */
function problemWords(text) {
  for (const [pattern, key] of PROBLEMS) {
    const match = text.match(pattern);
    if (match) return t(key, { n: match[1] ?? "" });
  }
  return text;
}

function fieldLabel(form, field) {
  const label = form.querySelector(`[data-field="${field}"] .field-label`);
  return label ? label.textContent.replace(/\*$/, "").trim() : field;
}

/**
 * A form's failure: a summary by the submit button (with the server's message itself, which
 * names the field) and, on a 422, a line under each field it names.
 */
function renderFormError(box, form, error, context) {
  rebuild(box, JSON.stringify(error ?? null), () => {
    for (const old of form?.querySelectorAll(".field-problem") ?? []) old.remove();
    for (const bad of form?.querySelectorAll("[aria-invalid]") ?? []) {
      bad.removeAttribute("aria-invalid");
    }
    box.replaceChildren();
    box.hidden = !error;
    if (!error) return;
    box.dataset.code = error.code;
    const problems = FIELD_CODES.has(error.code) ? fieldProblems(error.message) : [];
    let summary;
    if (problems.length && form) {
      const labels = [...new Set(problems.map((p) => fieldLabel(form, p.field)))];
      summary = t("console.err.invalid_payload", { fields: labels.join(t("console.list.sep")) });
    } else {
      summary = errorWords(error.code, context);
    }
    box.append(
      el("p", { class: "form-error-text", testid: `${box.dataset.testid}-text`, text: summary }),
    );
    if (error.message && (FIELD_CODES.has(error.code) || error.code === "unknown")) {
      box.append(
        el("p", {
          class: "form-error-detail",
          testid: `${box.dataset.testid}-detail`,
          text: t("console.err.detail", { message: error.message }),
        }),
      );
    }
    for (const { field, text } of problems) {
      const wrapper = form?.querySelector(`[data-field="${field}"]`);
      if (!wrapper) continue;
      wrapper.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
      wrapper.append(
        el("p", {
          class: "field-error field-problem",
          testid: `field-error-${field}`,
          text: problemWords(text),
        }),
      );
    }
  });
}

/** "受理期限：剩 5 个工作日（2026年12月2日到期）" with its flag, or null once concluded. */
export function deadlineParts(deadline) {
  if (!deadline) return null;
  const what = t(`console.deadline.${deadline.what}`);
  const due = formatDate(deadline.due);
  const n = deadline.working_days_left;
  let text;
  if (deadline.flag === "overdue") text = t("console.deadline.over", { what, due, n: Math.abs(n) });
  else if (n <= 0) text = t("console.deadline.today", { what, due });
  else text = t("console.deadline.left", { what, due, n });
  return { flag: deadline.flag, label: t(`console.deadline.flag.${deadline.flag}`), text };
}

function deadlineNodes(deadline) {
  const parts = deadlineParts(deadline);
  if (!parts) return [el("span", { class: "muted", text: t("console.deadline.none") })];
  return [
    el("span", {
      class: "flag",
      "data-flag": parts.flag,
      testid: "deadline-flag",
      text: parts.label,
    }),
    el("span", { class: "deadline-text", text: parts.text }),
  ];
}

// ---- top bar, views, toast ------------------------------------------------------------------

function renderChrome(s) {
  document.body.dataset.view = s.view;
  const c = s.view === "case" ? s.case.data : null;
  document.title = c
    ? t("console.title.case", { number: c.number, title: c.title })
    : t("console.title");
  // Back to the list as it was left (filters, search, page).
  for (const link of dom.backLinks) link.setAttribute("href", listHash(s.list.query));
  for (const view of dom.views) view.hidden = view.dataset.view !== s.view;
  dom.userLine.textContent = s.user ? t("console.user", { name: s.user.display_name }) : "";
  dom.officeLine.textContent = s.user?.office_name ?? "";
  dom.logoutButton.hidden = !s.user;
  dom.toast.hidden = !s.toast;
  dom.toast.textContent = s.toast ? t(s.toast.key, s.toast.params) : "";
}

function renderLogin(s) {
  dom.loginError.hidden = !s.loginError;
  dom.loginError.dataset.code = s.loginError ?? "";
  dom.loginError.textContent = s.loginError ? errorWords(s.loginError, "login") : "";
  dom.loginSubmit.disabled = s.loginBusy;
  dom.loginSubmit.textContent = t(s.loginBusy ? "console.login.busy" : "console.login.submit");
}

// ---- the case list --------------------------------------------------------------------------

function categoryOptions(s, first) {
  const categories = s.office?.categories ?? Object.keys(CATEGORIES);
  return [["", first], ...categories.map((c) => [c, categoryLabel(c)])];
}

function caseRow(c) {
  const amount = c.amount_in_dispute
    ? t("console.list.amount", { amount: formatMoney(c.amount_in_dispute) })
    : "";
  return el("li", {}, [
    el(
      "a",
      {
        class: "case-row",
        href: caseHash(c.number),
        testid: "case-row",
        "data-number": c.number,
        "data-status": c.status,
        "data-flag": c.deadline?.flag ?? "",
      },
      [
        el("span", { class: "row-top" }, [
          el("span", { class: "case-no", text: c.number }),
          el("span", { class: "badge", "data-status": c.status, text: statusLabel(c.status) }),
        ]),
        el("span", { class: "row-title", text: c.title }),
        el("span", { class: "row-meta" }, [
          el("span", { text: categoryLabel(c.category) }),
          amount && el("span", { text: amount }),
          el("span", { text: t("console.list.received", { date: formatDate(c.received_on) }) }),
        ]),
        el("span", { class: "deadline" }, deadlineNodes(c.deadline)),
      ],
    ),
  ]);
}

function renderList(s) {
  const { query, cases, total, perPage, loading, loaded, error } = s.list;
  const all = t("console.list.filter.all");
  fillSelect(
    dom.filterStatus,
    [["", all], ...STATUSES.map((x) => [x, statusLabel(x)])],
    query.status,
  );
  fillSelect(dom.filterCategory, categoryOptions(s, all), query.category);
  fillSelect(
    dom.filterDeadline,
    [["", all], ...DEADLINE_FLAGS.map((f) => [f, t(`console.deadline.flag.${f}`)])],
    query.deadline,
  );
  if (document.activeElement !== dom.searchInput) dom.searchInput.value = query.q;

  const filtered = Boolean(query.status || query.category || query.deadline || query.q);
  dom.clearFilters.hidden = !filtered;
  // The deadline filter works on one page of results (see the closing note): no total then.
  dom.listTotal.textContent =
    loaded && !error && !query.deadline ? t("console.list.total", { total }) : "";

  dom.listError.hidden = !error;
  dom.listErrorText.textContent = error ? errorWords(error, "list") : "";
  dom.listLoading.hidden = !(loading && !loaded);
  dom.listEmpty.hidden = !(loaded && !loading && !error && cases.length === 0);
  dom.listEmpty.textContent = t(filtered ? "console.list.empty" : "console.list.empty.none");
  dom.caseList.setAttribute("aria-busy", String(loading));
  rebuild(dom.caseList, JSON.stringify(cases), () => {
    dom.caseList.replaceChildren(...cases.map(caseRow));
  });

  const pages = Math.max(1, Math.ceil(total / perPage));
  dom.pager.hidden = !loaded || error || query.deadline || pages <= 1;
  dom.pagePrev.disabled = loading || query.page <= 1;
  dom.pageNext.disabled = loading || query.page >= pages;
  dom.pageInfo.textContent = t("console.list.page", { page: query.page, pages });
}

// ---- a new case -----------------------------------------------------------------------------

function renderCreate(s) {
  fillSelect(
    dom.createCategory,
    categoryOptions(s, t("console.field.category.choose")),
    dom.createCategory.value,
  );
  dom.createRules.hidden = !s.office;
  dom.createRules.textContent = s.office
    ? t("console.create.rules", {
        accept: s.office.acceptance_days,
        mediate: s.office.mediation_days,
      })
    : "";
  renderFormError(dom.createError, dom.createForm, s.create.error, "create");
  dom.createSubmit.disabled = s.create.busy;
  dom.createSubmit.textContent = t(s.create.busy ? "console.create.busy" : "console.create.submit");
}

// ---- one case -------------------------------------------------------------------------------

function detailRows(c) {
  const notGiven = t("console.case.empty");
  const notYet = t("console.case.not_yet");
  const rows = [
    ["number", c.number],
    ["complaint_number", c.complaint_number || notGiven],
    ["category", categoryLabel(c.category)],
    ["claim", c.claim || notGiven],
    ["amount", c.amount_in_dispute ? formatMoney(c.amount_in_dispute) : notGiven],
    ["received_on", formatDate(c.received_on)],
    ["accepted_on", c.accepted_on ? formatDate(c.accepted_on) : notYet],
    ["concluded_on", c.concluded_on ? formatDate(c.concluded_on) : notYet],
  ];
  // What was recovered for the consumer: asked for on settling, so shown once settled.
  if (c.amount_recovered || c.status === "settled") {
    const recovered = c.amount_recovered ? formatMoney(c.amount_recovered) : notGiven;
    rows.splice(5, 0, ["recovered", recovered]);
  }
  return rows.flatMap(([key, value]) => [
    el("dt", { text: t(`console.case.${key}`) }),
    el("dd", { testid: `detail-${key}`, text: value }),
  ]);
}

function renderDetails(s, c) {
  const editing = s.case.editing;
  rebuild(dom.caseDetails, JSON.stringify(c), () => {
    dom.caseDetails.replaceChildren(...detailRows(c));
  });
  dom.caseDetails.hidden = editing;
  dom.editButton.hidden = editing || isConcluded(c);
  dom.editForm.hidden = !editing;
  const categories = categoryOptions(s, t("console.field.category.choose"));
  if (!categories.some(([value]) => value === c.category)) {
    categories.push([c.category, categoryLabel(c.category)]);
  }
  fillSelect(dom.editCategory, categories, dom.editCategory.value || c.category);
  const busy = Boolean(s.busy.edit);
  dom.editSubmit.disabled = busy;
  dom.editSubmit.textContent = t(busy ? "console.saving" : "console.edit.submit");
  renderFormError(dom.editError, dom.editForm, s.errors.edit, "edit");
}

function actionLabel(to) {
  return hasMessage(`console.action.${to}`) ? t(`console.action.${to}`) : statusLabel(to);
}

function renderStatus(s, c) {
  dom.statusCurrent.textContent = statusLabel(c.status);
  const next = nextStatuses(c);
  dom.statusFinal.hidden = next.length > 0;
  const pending = s.case.pendingStatus;
  const busy = Boolean(s.busy.status);
  rebuild(dom.statusActions, JSON.stringify([next, pending, busy]), () => {
    dom.statusActions.replaceChildren(
      ...next.map((to) =>
        el("button", {
          type: "button",
          class: `btn ${ENDINGS.has(to) ? "btn-secondary" : "btn-primary"}`,
          testid: `status-to-${to}`,
          "data-action": "choose-status",
          "data-to": to,
          "aria-pressed": String(pending === to),
          disabled: busy,
          text: actionLabel(to),
        }),
      ),
    );
  });
  dom.statusConfirmPanel.hidden = !pending;
  dom.statusQuestion.textContent = pending
    ? t("console.status.confirm", { status: statusLabel(pending) })
    : "";
  dom.statusRecoveredField.hidden = pending !== "settled";
  dom.statusConfirm.disabled = busy;
  dom.statusConfirm.textContent = t(busy ? "console.status.busy" : "console.status.confirm.button");
  renderFormError(dom.statusError, dom.statusConfirmPanel, s.errors.status, "status");
}

function partyCard(p, revealed) {
  const rows = [
    ["phone", p.phone],
    ["id_number", p.id_number],
    ["contact_person", p.contact_person],
    ["credit_code", p.credit_code],
  ].filter(([, value]) => value);
  const props = { class: "party", testid: `party-${p.role}`, "data-revealed": String(revealed) };
  return el("article", props, [
    el("p", { class: "party-head" }, [
      el("span", { class: "badge role-badge", text: roleLabel(p.role) }),
      el("strong", { testid: `party-${p.role}-name`, text: p.name }),
    ]),
    el(
      "dl",
      { class: "details" },
      rows.flatMap(([key, value]) => [
        el("dt", { text: t(`console.field.${key}`) }),
        el("dd", { testid: `party-${p.role}-${key.replace("_", "-")}`, text: value }),
      ]),
    ),
  ]);
}

function renderParties(s, c) {
  const byRole = Object.fromEntries(c.parties.map((p) => [p.role, p]));
  rebuild(dom.parties, JSON.stringify([c.parties, s.case.revealed]), () => {
    dom.parties.replaceChildren(
      ...["consumer", "business"].map((role) =>
        byRole[role]
          ? partyCard(byRole[role], s.case.revealed)
          : el("p", {
              class: "muted party-missing",
              testid: `party-${role}-missing`,
              text: t("console.parties.missing", { role: roleLabel(role) }),
            }),
      ),
    );
  });
  const anyone = c.parties.length > 0;
  dom.revealButton.hidden = !anyone;
  dom.revealButton.disabled = Boolean(s.busy.reveal);
  dom.revealButton.textContent = t(
    s.case.revealed ? "console.parties.hide" : "console.parties.reveal",
  );
  dom.revealButton.setAttribute("aria-pressed", String(s.case.revealed));
  dom.revealNote.hidden = !anyone;
  dom.revealNote.textContent = t(
    s.case.revealed ? "console.parties.revealed" : "console.parties.masked",
  );
  dom.revealNote.classList.toggle("hint-warn", s.case.revealed);
  renderFormError(dom.revealError, null, s.errors.reveal, "reveal");
  for (const role of ["consumer", "business"]) {
    const form = dom.partyForms[role];
    form.hidden = Boolean(byRole[role]);
    const busy = Boolean(s.busy[`party.${role}`]);
    dom.partySubmits[role].disabled = busy;
    dom.partySubmits[role].textContent = t(busy ? "console.saving" : `console.parties.add.${role}`);
    renderFormError(dom.partyErrors[role], form, s.errors[`party.${role}`], "party");
  }
}

/** The rooms whose sitting has ended: their links let no one in any more. */
function endedRooms(s) {
  return new Set((s.case.record?.sittings ?? []).filter((x) => x.closed_at).map((x) => x.room_id));
}

/** valid | expired | revoked, and "ended" for a link of a sitting this page knows has ended. */
function linkState(inv, roomEnded) {
  const byDates = invitationState(inv);
  return byDates === "valid" && roomEnded ? "ended" : byDates;
}

function stateWords(inv, state) {
  if (state === "revoked")
    return t("console.invite.revoked", { time: formatDateTime(inv.revoked_at) });
  if (state === "expired")
    return t("console.invite.expired", { time: formatDateTime(inv.expires_at) });
  if (state === "ended") return t("console.invite.ended");
  return t("console.invite.expires", { time: formatDateTime(inv.expires_at) });
}

/** The "withdraw" button of a valid invitation, or its confirmation once tapped. */
function revokeControls(inv, s, where) {
  const pending = s.case.pendingRevoke?.id === inv.id && s.case.pendingRevoke.where === where;
  const busy = Boolean(s.busy.revoke) && pending;
  const role = roleLabel(inv.role);
  if (!pending) {
    const button = el("button", {
      type: "button",
      class: "btn btn-secondary btn-danger",
      testid: "invite-revoke",
      "data-action": "revoke",
      "data-where": where,
      "data-id": inv.id,
      text: t("console.invite.revoke"),
    });
    return { button, panel: null };
  }
  const panel = el("div", { class: "confirm stack", testid: "revoke-confirm-panel" }, [
    el("p", { class: "confirm-question", text: t("console.invite.revoke.ask", { role }) }),
    el("div", { class: "actions" }, [
      el("button", {
        type: "button",
        class: "btn btn-primary btn-danger-solid",
        testid: "invite-revoke-confirm",
        "data-action": "revoke-confirm",
        "data-id": inv.id,
        disabled: busy,
        text: t(busy ? "console.saving" : "console.invite.revoke.confirm"),
      }),
      el("button", {
        type: "button",
        class: "btn btn-secondary",
        testid: "invite-revoke-cancel",
        "data-action": "revoke-cancel",
        text: t("console.cancel"),
      }),
    ]),
  ]);
  return { button: null, panel };
}

/** One link issued from this tab: the link itself, copy, QR, withdraw, while it works. */
function invitationCard(inv, s, current, roomEnded) {
  const state = linkState(inv, roomEnded);
  const usable = state === "valid" && Boolean(inv.link);
  const copied = s.copied?.id === inv.id ? s.copied : null;
  const role = roleLabel(inv.role);
  const actions = [];
  if (usable) {
    if (inv.role === "mediator") {
      actions.push(
        el("a", {
          class: "btn btn-primary",
          href: inv.link,
          target: "_blank",
          rel: "noopener",
          testid: "enter-room",
          text: t("console.invite.enter"),
        }),
      );
    }
    actions.push(
      el("button", {
        type: "button",
        class: "btn btn-secondary",
        testid: "invite-copy",
        "data-action": "copy",
        "data-id": inv.id,
        text: t(copied?.ok ? "console.invite.copied" : "console.invite.copy"),
      }),
    );
  }
  const revoke =
    state === "valid" ? revokeControls(inv, s, "batch") : { button: null, panel: null };
  if (revoke.button) actions.push(revoke.button);
  return el(
    "article",
    {
      class: "invite",
      testid: current ? `invitation-${inv.role}` : "invitation-old",
      "data-role": inv.role,
      "data-invitation-id": inv.id,
      "data-state": state,
      "data-revoked": String(state === "revoked"),
    },
    [
      el("p", { class: "party-head" }, [
        el("span", { class: "badge role-badge", text: role }),
        el("strong", { text: inv.name }),
      ]),
      el("p", {
        class: state === "valid" ? "muted" : "revoked",
        testid: "invite-state",
        text: stateWords(inv, state),
      }),
      usable
        ? el("input", {
            class: "text-input link-input",
            readonly: true,
            value: inv.link,
            testid: "invite-link",
            "aria-label": t("console.invite.link.label", { role }),
          })
        : null,
      copied && !copied.ok
        ? el("p", {
            class: "field-error",
            testid: "copy-failed",
            text: t("console.invite.copy_failed"),
          })
        : null,
      actions.length ? el("div", { class: "actions" }, actions) : null,
      revoke.panel,
      usable ? qrFigure(inv.link, role) : null,
    ],
  );
}

function qrFigure(link, role) {
  const figure = el("figure", { class: "qr", testid: "invite-qr" }, []);
  const holder = el("div", { class: "qr-code" });
  const svg = qrSvg(link, t("console.invite.qr.label", { role }));
  if (svg) holder.innerHTML = svg; // generated by qrcode-generator from the link: no page data
  figure.append(holder, el("figcaption", { text: t("console.invite.qr", { role }) }));
  return figure;
}

/**
 * The invitations of ended sittings that this page can tell: those issued from this tab (the
 * server's list does not say which sitting an invitation belongs to).
 */
function endedInvitations(s) {
  const ended = endedRooms(s);
  return new Set(
    s.case.batches
      .filter((b) => ended.has(b.room_id))
      .flatMap((b) => b.invitations.map((i) => i.id)),
  );
}

/** One invitation as the server lists it: whom it is for, whether it works; no link. */
function invitationRow(inv, s, state) {
  const revoke = state === "valid" ? revokeControls(inv, s, "list") : { button: null, panel: null };
  return el(
    "article",
    {
      class: "invite invite-row",
      testid: "invitation-row",
      "data-role": inv.role,
      "data-invitation-id": inv.id,
      "data-state": state,
    },
    [
      el("p", { class: "party-head" }, [
        el("span", { class: "badge role-badge", text: roleLabel(inv.role) }),
        el("strong", { text: inv.name }),
        el("span", {
          class: "badge state-badge",
          "data-state": state,
          testid: "invitation-row-state",
          text: t(`console.invite.state.${state}`),
        }),
      ]),
      el("p", { class: "muted", testid: "invitation-row-time", text: stateWords(inv, state) }),
      revoke.button ? el("div", { class: "actions" }, [revoke.button]) : null,
      revoke.panel,
    ],
  );
}

function renderInvitationList(s) {
  const list = s.case.invitations;
  renderFormError(dom.invitationListError, null, s.errors.invitations, "invitations");
  const ended = endedInvitations(s);
  const states = (list ?? []).map((inv) => linkState(inv, ended.has(inv.id)));
  const signature = JSON.stringify([list, states, s.case.pendingRevoke, s.busy.revoke]);
  rebuild(dom.invitationList, signature, () => {
    const wasOpen = dom.invitationList.querySelector("details")?.open ?? false;
    if (list === null) {
      dom.invitationList.replaceChildren(
        el("p", { class: "muted", text: t("console.invite.list.loading") }),
      );
      return;
    }
    if (list.length === 0) {
      dom.invitationList.replaceChildren(
        el("p", {
          class: "muted",
          testid: "invitation-list-empty",
          text: t("console.invite.list.none"),
        }),
      );
      return;
    }
    const valid = list.filter((_, i) => states[i] === "valid");
    const inactive = states.filter((state) => state !== "valid");
    const parts = [];
    if (valid.length) {
      parts.push(
        el(
          "div",
          { class: "invite-grid" },
          valid.map((inv) => invitationRow(inv, s, "valid")),
        ),
      );
    } else {
      parts.push(el("p", { class: "muted", text: t("console.invite.list.none_valid") }));
    }
    parts.push(el("p", { class: "muted", text: t("console.invite.list.ended_note") }));
    if (inactive.length) {
      parts.push(
        el("details", { class: "older", testid: "invitation-list-inactive", open: wasOpen }, [
          el("summary", { text: t("console.invite.list.inactive", { n: inactive.length }) }),
          el(
            "div",
            { class: "invite-grid" },
            list.flatMap((inv, i) =>
              states[i] === "valid" ? [] : [invitationRow(inv, s, states[i])],
            ),
          ),
        ]),
      );
    }
    dom.invitationList.replaceChildren(...parts);
  });
}

function renderInvitations(s, c) {
  const byRole = new Set(c.parties.map((p) => p.role));
  const missing = !byRole.has("consumer") || !byRole.has("business");
  const closed = isConcluded(c);
  const busy = Boolean(s.busy.invite);
  fillSelect(
    dom.inviteHours,
    VALID_HOURS.map((h) => [
      String(h),
      h > 24 && h % 24 === 0
        ? t("console.invite.days", { n: h / 24 })
        : t("console.invite.hours", { n: h }),
    ]),
    dom.inviteHours.value || String(DEFAULT_VALID_HOURS),
  );
  dom.inviteBlocked.hidden = !(missing || closed);
  dom.inviteBlocked.textContent = closed
    ? t("console.invite.closed")
    : missing
      ? t("console.invite.needs_parties")
      : "";
  dom.inviteButton.disabled = busy || missing || closed;
  let inviteWords =
    (s.case.record?.sittings.length ?? 0) ? "console.invite.again" : "console.invite.open";
  if (busy) inviteWords = "console.invite.busy";
  dom.inviteButton.textContent = t(inviteWords);
  renderFormError(dom.inviteError, null, s.errors.invite, "invite");
  renderFormError(dom.revokeError, null, s.errors.revoke, "revoke");

  const ended = endedRooms(s);
  const [current, ...older] = s.case.batches;
  const states = s.case.batches.map((b) => b.invitations.map((inv) => invitationState(inv)));
  const signature = JSON.stringify([
    s.case.batches,
    states,
    [...ended],
    s.case.pendingRevoke,
    s.busy.revoke,
    s.copied,
  ]);
  rebuild(dom.invitations, signature, () => {
    const wasOpen = dom.invitations.querySelector("details")?.open ?? false;
    const parts = [];
    if (current) {
      const roomEnded = ended.has(current.room_id);
      parts.push(
        el("div", { class: "batch", testid: "invitations-current", "data-room": current.room_id }, [
          el("h3", {
            class: "form-title",
            text: t("console.invite.current", { room: current.room_id }),
          }),
          el("p", {
            class: roomEnded ? "hint-warn" : "muted",
            testid: "invite-not-kept",
            text: t(roomEnded ? "console.invite.room_ended" : "console.invite.not_kept"),
          }),
          el(
            "div",
            { class: "invite-grid" },
            current.invitations.map((inv) => invitationCard(inv, s, true, roomEnded)),
          ),
        ]),
      );
    }
    if (older.length) {
      parts.push(
        el("details", { class: "older", testid: "invitations-older", open: wasOpen }, [
          el("summary", { text: t("console.invite.older", { n: older.length }) }),
          ...older.map((batch) =>
            el("div", { class: "batch", "data-room": batch.room_id }, [
              el("h3", {
                class: "form-title",
                text: t("console.invite.room", { room: batch.room_id }),
              }),
              el(
                "div",
                { class: "invite-grid" },
                batch.invitations.map((inv) =>
                  invitationCard(inv, s, false, ended.has(batch.room_id)),
                ),
              ),
            ]),
          ),
        ]),
      );
    }
    dom.invitations.replaceChildren(...parts);
  });
  renderInvitationList(s);
}

function sittingItem(sitting, i, s) {
  const open = !sitting.closed_at;
  const start = formatDateTime(sitting.opened_at);
  const when = open
    ? t("console.record.sitting.open", { start })
    : t("console.record.sitting.closed", { start, end: formatDateTime(sitting.closed_at) });
  const pending = open && s.case.pendingClose === sitting.id;
  const busy = pending && Boolean(s.busy.sitting);
  const props = {
    testid: "sitting",
    "data-room": sitting.room_id,
    "data-sitting-id": String(sitting.id),
    "data-open": String(open),
  };
  return el("li", props, [
    el("p", { class: "party-head" }, [
      el("strong", { text: t("console.record.sitting", { n: i + 1, room: sitting.room_id }) }),
      el("span", {
        class: "badge state-badge",
        "data-state": open ? "open" : "closed",
        testid: "sitting-state",
        text: t(open ? "console.sitting.state.open" : "console.sitting.state.closed"),
      }),
    ]),
    el("span", { testid: "sitting-times", text: when }),
    ...sittingOutcome(sitting, s),
    open && !pending
      ? el("div", { class: "actions" }, [
          el("button", {
            type: "button",
            class: "btn btn-secondary btn-danger",
            testid: "sitting-close",
            "data-action": "close-sitting",
            "data-id": String(sitting.id),
            text: t("console.sitting.close"),
          }),
        ])
      : null,
    pending
      ? el("div", { class: "confirm stack", testid: "sitting-close-panel" }, [
          el("p", { class: "confirm-question", text: t("console.sitting.close.ask") }),
          el("div", { class: "actions" }, [
            el("button", {
              type: "button",
              class: "btn btn-primary btn-danger-solid",
              testid: "sitting-close-confirm",
              "data-action": "close-confirm",
              "data-id": String(sitting.id),
              disabled: busy,
              text: t(busy ? "console.saving" : "console.sitting.close.confirm"),
            }),
            el("button", {
              type: "button",
              class: "btn btn-secondary",
              testid: "sitting-close-cancel",
              "data-action": "close-cancel",
              text: t("console.cancel"),
            }),
          ]),
        ])
      : null,
  ]);
}

/** How a sitting ended: the outcome, the reason (or note), the next date, the notice. */
function sittingOutcome(sitting, s) {
  if (!sitting.outcome) return [];
  const terminated = sitting.outcome === "not_settled";
  return [
    el("span", {
      testid: "sitting-outcome",
      "data-outcome": sitting.outcome,
      text: t("console.sitting.outcome", { outcome: t(`console.outcome.${sitting.outcome}`) }),
    }),
    sitting.outcome_reason
      ? el("span", {
          testid: "sitting-reason",
          text: t(terminated ? "console.sitting.reason" : "console.sitting.note", {
            text: sitting.outcome_reason,
          }),
        })
      : null,
    sitting.next_sitting_at
      ? el("span", {
          testid: "sitting-next",
          text: t("console.sitting.next", { at: formatDateTime(sitting.next_sitting_at) }),
        })
      : null,
    terminated
      ? el("a", {
          class: "btn btn-secondary",
          testid: "sitting-notice",
          href: terminationUrl(s.case.number, sitting.id),
          download: true,
          text: t("console.sitting.notice"),
        })
      : null,
  ];
}

/** The parties' satisfaction answers, and the bundle's two download links. */
function renderSatisfaction(s) {
  const answers = s.case.satisfaction;
  rebuild(dom.satisfactionAnswers, JSON.stringify(answers), () => {
    const items = (answers ?? []).map((a) =>
      el("li", { testid: `satisfaction-${a.role}`, "data-rating": String(a.rating) }, [
        el("strong", {
          text: t("console.satisfaction.answer", {
            role: roleLabel(a.role),
            n: a.rating,
            label: t(`satisfaction.label.${a.rating}`),
          }),
        }),
        el("span", { class: "muted", text: ` · ${formatDateTime(a.at)}` }),
        a.comment ? el("p", { class: "pre", testid: "satisfaction-comment", text: a.comment }) : null,
      ]),
    );
    dom.satisfactionAnswers.replaceChildren(
      ...(items.length
        ? items
        : [el("li", { class: "muted", text: t("console.satisfaction.none") })]),
    );
  });
  renderFormError(dom.satisfactionError, null, s.errors.satisfaction, "satisfaction");
  dom.bundleDownload.href = bundleUrl(s.case.number);
  dom.bundleDownloadRecordings.href = bundleUrl(s.case.number, true);
}

function renderSittings(s) {
  const sittings = s.case.record?.sittings ?? [];
  const signature = JSON.stringify([sittings, s.case.pendingClose, s.busy.sitting]);
  rebuild(dom.sittings, signature, () => {
    dom.sittings.replaceChildren(
      ...(sittings.length
        ? sittings.map((sitting, i) => sittingItem(sitting, i, s))
        : [el("li", { class: "muted", text: t("console.record.sittings.none") })]),
    );
  });
  renderFormError(dom.sittingError, null, s.errors.sitting, "sitting");
}

function entryItem(entry) {
  const by = t("console.record.entry.by", {
    author: entry.author,
    role: roleLabel(entry.author_role),
  });
  return el("li", { testid: "transcript-entry", "data-kind": entry.kind }, [
    el("span", { class: "entry-meta" }, [
      el("time", { datetime: entry.at, text: formatTime(entry.at) }),
      el("span", { text: by }),
    ]),
    el("span", { class: "entry-text", testid: "transcript-text", text: entry.text }),
  ]);
}

function renderRecord(s) {
  const record = s.case.record;
  dom.recordRefresh.disabled = Boolean(s.busy.record);
  renderFormError(dom.recordError, null, s.errors.record, "record");
  if (!record) {
    dom.auditStatus.hidden = true;
    dom.transcript.replaceChildren();
    return;
  }
  dom.auditStatus.hidden = false;
  dom.auditStatus.dataset.intact = String(record.audit_intact);
  dom.auditStatus.textContent =
    t(record.audit_intact ? "console.record.audit.ok" : "console.record.audit.bad") +
    t("console.record.audit.count", { n: record.audit_events });

  rebuild(dom.transcript, JSON.stringify(record.transcript), () => {
    dom.transcript.replaceChildren(
      ...(record.transcript.length
        ? record.transcript.map(entryItem)
        : [el("li", { class: "muted", text: t("console.record.transcript.none") })]),
    );
  });
  const busy = Boolean(s.busy.note);
  dom.noteSubmit.disabled = busy;
  dom.noteSubmit.textContent = t(busy ? "console.saving" : "console.record.note.submit");
  renderFormError(dom.noteError, dom.noteForm, s.errors.note, "note");
}

// ---- the transcript document -----------------------------------------------------------------

/** The current summary: the record's newest entry of kind "summary", or null. */
export function currentSummary(record) {
  const summaries = (record?.transcript ?? []).filter((e) => e.kind === "summary");
  return summaries.at(-1) ?? null;
}

function renderTranscriptDoc(s, c) {
  const summary = currentSummary(s.case.record);
  // The box shows the saved summary when the case opens or a new one is saved; what the
  // mediator is typing stays through refreshes and a change of language.
  const shown = `${c.number}|${summary?.seq ?? ""}`;
  if (s.case.record && dom.summaryInput.dataset.shown !== shown) {
    dom.summaryInput.dataset.shown = shown;
    dom.summaryInput.value = summary?.text ?? "";
  }
  dom.summarySaved.textContent = summary
    ? t("console.doc.summary.saved", { time: formatDateTime(summary.at), author: summary.author })
    : t("console.doc.summary.none");
  const saving = Boolean(s.busy.summary);
  dom.summarySubmit.disabled = saving || !s.case.record;
  dom.summarySubmit.textContent = t(saving ? "console.saving" : "console.doc.summary.submit");
  renderFormError(dom.summaryError, dom.summaryForm, s.errors.summary, "summary");

  dom.transcriptView.setAttribute("href", transcriptPageUrl(c.number));
  const making = Boolean(s.busy.pdf);
  dom.transcriptPdf.disabled = making;
  dom.transcriptPdf.setAttribute("aria-busy", String(making));
  dom.transcriptPdf.textContent = t(making ? "console.doc.pdf.busy" : "console.doc.pdf");
  renderFormError(dom.transcriptPdfError, null, s.errors.pdf, "pdf");
}

// ---- recordings ------------------------------------------------------------------------------

/** `m:ss` (or `h:mm:ss`) of a duration in seconds. */
function clockOf(seconds) {
  const total = Math.max(0, Math.round(seconds ?? 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function sizeOf(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function recordingWho(r) {
  const role = r.role ? roleLabel(r.role) : r.participant_id;
  return r.name ? `${role} ${r.name}` : role;
}

function recordingItem(r, s) {
  const sittings = s.case.record?.sittings ?? [];
  const n = sittings.findIndex((x) => x.id === r.sitting_id) + 1;
  const who = recordingWho(r);
  const start = formatTime(r.started_at);
  const playing = s.case.playing === r.id;
  const audioOnly = !/vp8|vp9|h264|av1/i.test(r.codecs ?? "");
  const facts = [
    el("span", { testid: "recording-when", text: t("console.recordings.start", { time: start }) }),
    el("span", {
      testid: "recording-duration",
      text: t("console.recordings.duration", { time: clockOf(r.duration) }),
    }),
    el("span", { testid: "recording-size", text: sizeOf(r.size) }),
    r.sha256
      ? el("span", {
          testid: "recording-hash",
          title: r.sha256,
          text: t("console.recordings.hash", { hash: r.sha256.slice(0, 12) }),
        })
      : null,
  ];
  return el(
    "li",
    {
      testid: "recording",
      "data-recording-id": String(r.id),
      "data-participant": r.participant_id,
      "data-playing": String(playing),
    },
    [
      el("p", { class: "party-head" }, [
        el("strong", { testid: "recording-who", text: who }),
        el("span", {
          class: "badge",
          text: n ? t("console.recordings.sitting", { n }) : String(r.sitting_id),
        }),
        audioOnly ? el("span", { class: "badge", text: t("console.recordings.audio_only") }) : null,
        r.sealed_after_crash
          ? el("span", {
              class: "badge state-badge",
              "data-state": "revoked",
              testid: "recording-sealed",
              title: t("console.recordings.sealed.title"),
              text: t("console.recordings.sealed"),
            })
          : null,
      ]),
      el("span", { class: "entry-meta" }, facts),
      // The retention job deleted the file: the row and its hash stay, there is nothing to play.
      r.deleted_at
        ? el("p", {
            class: "muted",
            testid: "recording-deleted",
            title: formatTime(r.deleted_at),
            text: t("console.recordings.deleted"),
          })
        : el("div", { class: "actions" }, [
            el("button", {
              type: "button",
              class: playing ? "btn btn-primary" : "btn btn-secondary",
              testid: "recording-play",
              "data-action": "play-recording",
              "data-id": String(r.id),
              "aria-pressed": String(playing),
              "aria-label": t("console.recordings.play.label", { who, time: start }),
              text: t(playing ? "console.recordings.playing" : "console.recordings.play"),
            }),
          ]),
    ],
  );
}

function renderPlayer(s) {
  const video = dom.recordingPlayer;
  const r =
    (s.case.recordings ?? []).find((x) => x.id === s.case.playing && !x.deleted_at) ?? null;
  dom.recordingPlayerBox.hidden = !r;
  if (!r) {
    if (video.hasAttribute("src")) {
      video.removeAttribute("src");
      delete video.dataset.id;
      video.load(); // drop the old file's data
    }
    return;
  }
  if (video.dataset.id !== String(r.id)) {
    video.dataset.id = String(r.id);
    video.src = r.url;
  }
  dom.recordingPlayerCaption.textContent = t("console.recordings.caption", {
    who: recordingWho(r),
    time: formatDateTime(r.started_at),
    duration: clockOf(r.duration),
  });
  dom.recordingPlayerError.hidden = !s.case.playerFailed;
  dom.recordingPlayerError.textContent = s.case.playerFailed
    ? t("console.recordings.player_error", { type: r.content_type })
    : "";
  dom.recordingDownload.setAttribute("href", r.url);
}

function renderRecordings(s) {
  const list = s.case.recordings;
  dom.recordingsRefresh.disabled = Boolean(s.busy.recordings);
  renderFormError(dom.recordingsError, null, s.errors.recordings, "recordings");
  const signature = JSON.stringify([list, s.case.playing, s.case.record?.sittings]);
  rebuild(dom.recordings, signature, () => {
    const note = (key) => [el("li", { class: "muted", text: t(key) })];
    let items;
    if (list === null) items = note("console.recordings.loading");
    else if (!list.length) items = note("console.recordings.none");
    else items = list.map((r) => recordingItem(r, s));
    dom.recordings.replaceChildren(...items);
  });
  renderPlayer(s);
}

// ---- evidence --------------------------------------------------------------------------------

function evidenceWho(e) {
  const role = e.role ? roleLabel(e.role) : "";
  return [role, e.submitted_by].filter(Boolean).join(" ");
}

/** How the viewer shows a file: a picture, a PDF page, or (HEIC, unknown) a download link. */
function evidenceKind(e) {
  if (e.content_type === "image/heic") return "heic";
  if (e.content_type === "application/pdf") return "pdf";
  if (e.content_type.startsWith("image/")) return "image";
  return "other";
}

function evidenceItem(e, s) {
  const viewing = s.case.viewing?.id === e.id;
  const facts = [
    el("span", {
      testid: "evidence-when",
      title: formatDateTime(e.at),
      text: t("console.evidence.at", { time: formatDateTime(e.at) }),
    }),
    el("span", { testid: "evidence-size", text: sizeOf(e.size) }),
    e.sha256
      ? el("span", {
          testid: "evidence-hash",
          title: e.sha256,
          text: t("console.evidence.hash", { hash: e.sha256.slice(0, 12) }),
        })
      : null,
  ];
  return el(
    "li",
    {
      testid: "evidence-item",
      "data-evidence-id": String(e.id),
      "data-content-type": e.content_type,
      "data-viewing": String(viewing),
    },
    [
      el("p", { class: "party-head" }, [
        el("strong", { class: "evidence-name", testid: "evidence-name", text: e.filename }),
      ]),
      el("span", {
        class: "muted",
        testid: "evidence-who",
        text: t("console.evidence.by", { who: evidenceWho(e) }),
      }),
      el("span", { class: "entry-meta" }, facts),
      el("div", { class: "actions" }, [
        el("button", {
          type: "button",
          class: viewing ? "btn btn-primary" : "btn btn-secondary",
          testid: "evidence-view",
          "data-action": "view-evidence",
          "data-id": String(e.id),
          "aria-pressed": String(viewing),
          "aria-label": t("console.evidence.view.label", { name: e.filename }),
          text: t(viewing ? "console.evidence.viewing" : "console.evidence.view"),
        }),
      ]),
    ],
  );
}

function viewerContent(e, v) {
  if (v.status === "loading") {
    const text = t("console.evidence.viewer.loading");
    return [el("p", { class: "muted", testid: "evidence-viewer-loading", text })];
  }
  if (v.status !== "ready") return [];
  const kind = evidenceKind(e);
  if (kind === "image") {
    return [
      el("img", {
        class: "evidence-image",
        testid: "evidence-image",
        src: v.blobUrl,
        alt: e.filename,
      }),
    ];
  }
  if (kind === "pdf") {
    return [
      el("iframe", {
        class: "evidence-pdf",
        testid: "evidence-pdf",
        src: v.blobUrl,
        title: e.filename,
      }),
    ];
  }
  return [
    kind === "heic"
      ? el("p", { class: "hint-warn", testid: "evidence-heic", text: t("console.evidence.heic") })
      : null,
    el("a", {
      class: "btn btn-secondary",
      testid: "evidence-download",
      href: v.blobUrl,
      download: e.filename,
      text: t("console.evidence.download", { name: e.filename }),
    }),
  ];
}

function renderEvidenceViewer(s) {
  const v = s.case.viewing;
  const e = v ? ((s.case.evidence ?? []).find((x) => x.id === v.id) ?? null) : null;
  dom.evidenceViewerBox.hidden = !e;
  const signature = JSON.stringify(e && [e.id, e.content_type, e.filename, v.status, v.blobUrl]);
  rebuild(dom.evidenceViewer, signature, () => {
    dom.evidenceViewer.replaceChildren(...(e ? viewerContent(e, v) : []));
  });
  if (!e) return;
  dom.evidenceViewer.dataset.status = v.status;
  dom.evidenceViewerCaption.textContent = t("console.evidence.caption", {
    name: e.filename,
    who: evidenceWho(e),
    time: formatDateTime(e.at),
  });
  const failed = v.status === "failed";
  dom.evidenceViewerError.hidden = !failed;
  dom.evidenceViewerError.textContent = failed ? errorWords(v.code, "evidence") : "";
}

function renderEvidence(s) {
  const list = s.case.evidence;
  dom.evidenceRefresh.disabled = Boolean(s.busy.evidence);
  renderFormError(dom.evidenceError, null, s.errors.evidence, "evidence");
  const signature = JSON.stringify([list, s.case.viewing?.id ?? null]);
  rebuild(dom.evidence, signature, () => {
    const note = (key) => [el("li", { class: "muted", text: t(key) })];
    let items;
    if (list === null) items = note("console.evidence.loading");
    else if (!list.length) items = note("console.evidence.none");
    else items = list.map((e) => evidenceItem(e, s));
    dom.evidence.replaceChildren(...items);
  });
  renderEvidenceViewer(s);
}

function renderCase(s) {
  const { data: c, loading, error } = s.case;
  dom.caseLoading.hidden = !(loading && !c);
  dom.caseError.hidden = !error;
  dom.caseErrorText.textContent = error ? errorWords(error, "case") : "";
  dom.casePage.hidden = !c || Boolean(error);
  if (!c) return;
  dom.caseNumber.textContent = c.number;
  statusBadge(dom.caseStatus, c.status);
  dom.caseTitle.textContent = c.title;
  dom.caseDeadline.replaceChildren(...deadlineNodes(c.deadline));
  renderDetails(s, c);
  renderStatus(s, c);
  renderParties(s, c);
  renderSittings(s);
  renderInvitations(s, c);
  renderRecord(s);
  renderTranscriptDoc(s, c);
  renderRecordings(s);
  renderEvidence(s);
  renderSatisfaction(s);
}

export function render(s) {
  renderChrome(s);
  if (s.view === "login") renderLogin(s);
  if (s.view === "list") renderList(s);
  if (s.view === "create") renderCreate(s);
  if (s.view === "case") renderCase(s);
}
