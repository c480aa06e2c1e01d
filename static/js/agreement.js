// The settlement agreement (调解协议书) in the room: the mediator's drafting form (saved as the
// mediator types, version by version), the draft on the parties' pages (what changed is marked),
// review and signature on a canvas, the mediator's seal, and each party's PDF copy.
//
// The agreement itself is room state (`state.agreement`, from the server's `agreement` fact);
// what is only this page's (the form being typed, the pad, a command on its way) lives here.

import { onLangChange, t, translateStatic } from "./i18n.js";
import { isMediator, state } from "./state.js";
import { $, clock, el, setText } from "./ui.js";

export const REMEDIES = ["refund", "compensation", "return", "repair", "replace"];
const ROLES = ["consumer", "business", "mediator"];
/** How long the form waits after the last keystroke before it saves a version. */
const SAVE_DELAY_MS = 700;
/** The same rules as the server (cases/agreement.py): yuan with at most two decimals. */
const AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;
const CREDIT_CODE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;
/** A drawing shorter than this (CSS pixels of stroke) is a tap, not a signature. */
const MIN_STROKE_PX = 40;

/** The form's fields: key in the terms, kind, length limit, required (as the server checks). */
const FIELDS = [
  { key: "consumer.name", kind: "text", max: 120, required: true, group: "consumer" },
  { key: "consumer.id_number", kind: "text", max: 32, group: "consumer" },
  { key: "consumer.phone", kind: "tel", max: 32, group: "consumer" },
  { key: "consumer.address", kind: "text", max: 200, group: "consumer" },
  { key: "business.name", kind: "text", max: 120, required: true, group: "business" },
  { key: "business.credit_code", kind: "text", max: 32, group: "business" },
  { key: "business.contact_person", kind: "text", max: 64, group: "business" },
  { key: "business.address", kind: "text", max: 200, group: "business" },
  { key: "facts", kind: "textarea", max: 5000, required: true },
  { key: "remedy", kind: "remedy", required: true },
  { key: "amount", kind: "amount", required: true },
  { key: "method", kind: "method", max: 200, required: true },
  { key: "due_on", kind: "date", required: true },
  { key: "breach", kind: "textarea", max: 2000, required: true },
  { key: "other", kind: "textarea", max: 5000 },
];

const testid = (key) => key.replace(/[._]/g, "-");

/** What only this page knows. */
const ui = {
  built: false,
  form: {
    agreementId: null,
    /** The version the form's content is based on (an edit is sent with it). */
    baseVersion: 0,
    /** Typed since the last save was sent. */
    dirty: false,
    sending: false,
    queued: false,
    /** field → message key (wrong values); `missing`: required fields still empty. */
    errors: {},
    missing: [],
    /** The last refusal or event worth saying beside the form: {key, params}. */
    notice: null,
  },
  sign: {
    /** The signer opened "review and sign" on this text (its SHA-256); null: not reviewing. */
    reviewedSha: null,
    sending: false,
    error: null,
    notice: null,
  },
  pad: { ink: 0 },
  pdf: { busy: false, error: null },
  abandonConfirm: false,
  /** What the person has seen of the agreement (the banner and the badge say when not). */
  seenKey: "",
  textKey: "",
};

let deps = { signaling: () => null, openPanel: () => {} };
let saveTimer = null;
const dom = {};

// ---- validation: the server's rules, said before sending ----------------------------------

function localToday() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function tomorrow() {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function get(terms, key) {
  const [head, tail] = key.split(".");
  const value = tail ? terms?.[head]?.[tail] : terms?.[head];
  return value ?? "";
}

/**
 * Check terms as the server will: `{errors: {field: messageKey}, missing: [field]}`. Empty
 * required fields are `missing` (the draft is not finished), wrong values are `errors`.
 */
export function checkTerms(terms, today = localToday()) {
  const errors = {};
  const missing = [];
  for (const f of FIELDS) {
    const value = get(terms, f.key);
    if (f.kind === "remedy") {
      if (!Array.isArray(value) || value.length === 0) missing.push(f.key);
      continue;
    }
    const text = String(value).trim();
    if (!text) {
      if (f.required) missing.push(f.key);
      continue;
    }
    if (f.max && [...text].length > f.max) errors[f.key] = "agreement.error.too_long";
    if (f.kind !== "textarea" && /[\r\n]/.test(text)) errors[f.key] = "agreement.error.one_line";
  }
  const amount = String(get(terms, "amount")).trim().replace(/[,，]/g, "");
  if (amount) {
    if (amount.startsWith("-")) errors.amount = "agreement.error.amount.negative";
    else if (!AMOUNT.test(amount)) errors.amount = "agreement.error.amount.format";
  }
  const credit = String(get(terms, "business.credit_code")).trim().toUpperCase();
  if (credit && !CREDIT_CODE.test(credit)) {
    errors["business.credit_code"] = "agreement.error.credit_code";
  }
  const due = String(get(terms, "due_on")).trim();
  if (due) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(due)) errors.due_on = "agreement.error.due_on.format";
    else if (due <= today) errors.due_on = "agreement.error.due_on.past";
  }
  return { errors, missing };
}

// ---- the text: lines, and which are new in this version ------------------------------------

/** Indexes of `after`'s lines that are not in `before` (a longest common subsequence). */
export function changedLines(before, after) {
  if (before == null) return new Set();
  const a = before.split("\n");
  const b = after.split("\n");
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const changed = new Set();
  let i = 0;
  let j = 0;
  while (j < m) {
    if (i < n && a[i] === b[j]) {
      i += 1;
      j += 1;
    } else if (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
      i += 1;
    } else {
      if (b[j].trim()) changed.add(j);
      j += 1;
    }
  }
  return changed;
}

function renderText(view, previous) {
  const key = `${view.id}:${view.version}:${previous === null ? "" : previous.length}`;
  if (ui.textKey === key) return;
  ui.textKey = key;
  const changed = changedLines(previous, view.text);
  const lines = view.text.replace(/\n$/, "").split("\n");
  dom.text.replaceChildren(
    ...lines.map((line, index) => {
      let node;
      // The template's "# title" and "## section" lines.
      if (line.startsWith("# ")) {
        node = el("p", { className: "ag-title", textContent: line.slice(2) });
      } else if (line.startsWith("## ")) {
        node = el("p", { className: "ag-heading", textContent: line.slice(3) });
      } else if (!line.trim()) {
        node = el("p", { className: "ag-gap" });
      } else {
        node = el("p", { className: "ag-line", textContent: line });
      }
      if (changed.has(index)) {
        node.dataset.changed = "true";
        node.append(el("span", { className: "sr-only", textContent: t("agreement.changed.mark") }));
      }
      return node;
    }),
  );
  dom.text.dataset.changed = String(changed.size);
}

// ---- building the panel ------------------------------------------------------------------

function labelled(tag, key, attrs = {}) {
  return el(tag, { attrs: { "data-i18n": key, ...attrs } });
}

function buildField(f) {
  const id = `ag-${testid(f.key)}`;
  const wrap = el("div", { className: "ag-field" });
  wrap.dataset.field = f.key;
  const error = el("p", { className: "field-error", attrs: { id: `${id}-error` }, hidden: true });
  error.dataset.testid = `agreement-error-${testid(f.key)}`;
  if (f.kind === "remedy") {
    const set = el("fieldset", { className: "ag-remedy" });
    set.append(labelled("legend", "agreement.field.remedy", { class: "field-label" }));
    for (const remedy of REMEDIES) {
      const box = el("input", { type: "checkbox", value: remedy });
      box.dataset.testid = `agreement-remedy-${remedy}`;
      box.dataset.remedy = remedy;
      const label = el("label", { className: "ag-check", children: [box] });
      label.append(labelled("span", `agreement.remedy.${remedy}`));
      set.append(label);
    }
    set.setAttribute("aria-describedby", `${id}-error`);
    wrap.append(set, error);
    return wrap;
  }
  const label = labelled("label", `agreement.field.${f.key}`, { for: id, class: "field-label" });
  let input;
  if (f.kind === "textarea") {
    input = el("textarea", { className: "text-input", rows: f.key === "facts" ? 4 : 3 });
  } else {
    input = el("input", { className: "text-input" });
    input.type = f.kind === "date" ? "date" : f.kind === "tel" ? "tel" : "text";
    if (f.kind === "amount") {
      input.inputMode = "decimal";
      input.autocomplete = "off";
    }
    if (f.kind === "method") input.setAttribute("list", "ag-methods");
  }
  input.id = id;
  input.dataset.testid = `agreement-${testid(f.key)}`;
  input.dataset.key = f.key;
  if (f.max) input.maxLength = f.max;
  input.setAttribute("aria-describedby", `${id}-error`);
  if (f.required) input.setAttribute("aria-required", "true");
  if (f.kind === "amount") {
    const yuan = el("span", { textContent: "¥", attrs: { "aria-hidden": "true" } });
    const box = el("div", { className: "ag-amount", children: [yuan, input] });
    wrap.append(label, box, error);
  } else {
    wrap.append(label, input, error);
  }
  return wrap;
}

function build(root) {
  const status = el("p", { className: "ag-status", attrs: { "aria-live": "off" } });
  status.dataset.testid = "agreement-status";
  const caucusNote = el("p", { className: "ag-note", hidden: true });
  caucusNote.dataset.testid = "agreement-caucus-note";
  const empty = el("p", { className: "empty" });
  empty.dataset.testid = "agreement-empty";
  const start = labelled("button", "agreement.start", {
    type: "button",
    class: "btn btn-primary ag-wide",
  });
  start.dataset.testid = "agreement-start";
  const startError = el("p", { className: "field-error", attrs: { role: "alert" }, hidden: true });
  startError.dataset.testid = "agreement-start-error";

  // The mediator's form.
  const form = el("form", { className: "ag-form", attrs: { novalidate: "" } });
  form.dataset.testid = "agreement-form";
  const consumer = el("fieldset", { className: "ag-group" });
  consumer.append(labelled("legend", "agreement.group.consumer", { class: "ag-legend" }));
  const business = el("fieldset", { className: "ag-group" });
  business.append(labelled("legend", "agreement.group.business", { class: "ag-legend" }));
  const terms = el("fieldset", { className: "ag-group" });
  terms.append(labelled("legend", "agreement.group.terms", { class: "ag-legend" }));
  for (const f of FIELDS) {
    const node = buildField(f);
    if (f.group === "consumer") consumer.append(node);
    else if (f.group === "business") business.append(node);
    else terms.append(node);
  }
  const methods = el("datalist", { id: "ag-methods" });
  for (const key of ["wechat", "alipay", "bank", "original", "cash"]) {
    const option = el("option");
    option.dataset.method = key;
    methods.append(option);
  }
  const saveState = el("p", { className: "ag-save", attrs: { role: "status" } });
  saveState.dataset.testid = "agreement-save-state";
  form.append(consumer, business, terms, methods, saveState);

  // The text, as everyone sees it.
  const doc = el("section", { className: "ag-doc", attrs: { "aria-labelledby": "ag-doc-title" } });
  const docHead = el("div", { className: "ag-doc-head" });
  const docTitle = labelled("h2", "agreement.text.title", {
    class: "section-title",
    id: "ag-doc-title",
  });
  const version = el("span", { className: "ag-version" });
  version.dataset.testid = "agreement-version";
  docHead.append(docTitle, version);
  const changedNote = el("p", { className: "ag-changed-note", hidden: true });
  changedNote.dataset.testid = "agreement-changed-note";
  const text = el("div", {
    className: "ag-text",
    attrs: { tabindex: "0", "aria-labelledby": "ag-doc-title" },
  });
  text.dataset.testid = "agreement-text";
  const hash = el("p", { className: "ag-hash" });
  hash.dataset.testid = "agreement-hash";
  doc.append(docHead, changedNote, text, hash);

  // Who has signed.
  const sigs = el("section", {
    className: "ag-sigs",
    attrs: { "aria-labelledby": "ag-sigs-title" },
  });
  sigs.append(
    labelled("h2", "agreement.signatures.title", { class: "section-title", id: "ag-sigs-title" }),
  );
  const sigList = el("ul", { className: "ag-sig-list" });
  sigList.dataset.testid = "agreement-signatures";
  for (const role of ROLES) {
    const li = el("li", {
      className: "ag-sig",
      children: [
        el("span", { className: "role-badge" }),
        el("span", { className: "ag-sig-state" }),
      ],
    });
    li.dataset.testid = `agreement-sig-${role}`;
    li.dataset.role = role;
    sigList.append(li);
  }
  sigs.append(sigList);

  // Review and sign (a party), or sign and seal (the mediator).
  const sign = el("section", {
    className: "ag-sign",
    attrs: { "aria-labelledby": "ag-sign-title" },
  });
  sign.dataset.testid = "agreement-sign";
  const signTitle = el("h2", { className: "section-title", id: "ag-sign-title" });
  const signPrompt = el("p", { className: "ag-prompt" });
  signPrompt.dataset.testid = "agreement-sign-prompt";
  const review = el("button", { type: "button", className: "btn btn-primary ag-wide" });
  review.dataset.testid = "agreement-review";
  const signForm = el("div", { className: "ag-sign-form", hidden: true });
  signForm.dataset.testid = "agreement-sign-form";
  const confirmText = el("p", { className: "ag-confirm" });
  confirmText.dataset.testid = "agreement-sign-confirm";
  const nameLabel = labelled("label", "agreement.sign.name", {
    for: "ag-sign-name",
    class: "field-label",
  });
  const name = el("input", {
    id: "ag-sign-name",
    className: "text-input",
    maxLength: 40,
    autocomplete: "name",
  });
  name.dataset.testid = "agreement-sign-name";
  const padLabel = labelled("p", "agreement.sign.pad", {
    id: "ag-pad-label",
    class: "field-label",
  });
  const canvas = el("canvas", {
    className: "ag-pad",
    attrs: { role: "img", "aria-labelledby": "ag-pad-label" },
  });
  canvas.dataset.testid = "agreement-canvas";
  const secondary = { type: "button", class: "btn btn-secondary" };
  const clear = labelled("button", "agreement.sign.clear", secondary);
  clear.dataset.testid = "agreement-canvas-clear";
  const cancel = labelled("button", "dialog.cancel", secondary);
  cancel.dataset.testid = "agreement-sign-cancel";
  const submit = el("button", { type: "button", className: "btn btn-primary" });
  submit.dataset.testid = "agreement-sign-submit";
  const signError = el("p", { className: "field-error", attrs: { role: "alert" }, hidden: true });
  signError.dataset.testid = "agreement-sign-error";
  signForm.append(
    confirmText,
    nameLabel,
    name,
    padLabel,
    canvas,
    el("div", { className: "button-row", children: [clear, cancel] }),
    submit,
    signError,
  );
  sign.append(signTitle, signPrompt, review, signForm);

  // Sealed: the party's copy.
  const done = el("section", {
    className: "ag-done",
    hidden: true,
    attrs: { "aria-labelledby": "ag-done-title" },
  });
  done.dataset.testid = "agreement-done";
  const doneTitle = el("h2", { className: "section-title", id: "ag-done-title" });
  doneTitle.dataset.testid = "agreement-done-title";
  const doneText = el("p", { className: "ag-done-text" });
  doneText.dataset.testid = "agreement-done-text";
  const download = labelled("button", "agreement.pdf.download", {
    type: "button",
    class: "btn btn-primary ag-wide",
  });
  download.dataset.testid = "agreement-download";
  const pdfState = el("p", { className: "ag-pdf-state", attrs: { role: "status" } });
  pdfState.dataset.testid = "agreement-pdf-state";
  done.append(doneTitle, doneText, download, pdfState);

  const abandon = el("button", { type: "button", className: "btn btn-small btn-stop-quiet" });
  abandon.dataset.testid = "agreement-abandon";
  const abandonCancel = labelled("button", "dialog.cancel", {
    type: "button",
    class: "btn btn-small",
  });
  abandonCancel.dataset.testid = "agreement-abandon-cancel";
  const abandonRow = el("div", { className: "ag-abandon", children: [abandon, abandonCancel] });

  // Read, then sign: the text above the signing; a sealed agreement's copy comes first.
  root.append(status, caucusNote, empty, start, startError, done, form, doc, sigs, sign);
  root.append(abandonRow);
  Object.assign(dom, {
    root,
    status,
    caucusNote,
    empty,
    start,
    startError,
    form,
    saveState,
    methods,
    doc,
    version,
    changedNote,
    text,
    hash,
    sigs,
    sigList,
    sign,
    signTitle,
    signPrompt,
    review,
    signForm,
    confirmText,
    name,
    canvas,
    clear,
    cancel,
    submit,
    signError,
    done,
    doneTitle,
    doneText,
    download,
    pdfState,
    abandon,
    abandonCancel,
    abandonRow,
    banner: $("agreement-banner"),
    bannerText: $("agreement-banner-text"),
    bannerOpen: $("agreement-banner-open"),
    tab: $("tab-agreement"),
    tabBadge: $("tab-agreement-badge"),
    open: $("open-agreement"),
    openBadge: $("open-agreement-badge"),
  });
  translateStatic(root);
}

// ---- the form: read, fill, save ----------------------------------------------------------

function input(key) {
  return dom.form.querySelector(`[data-key="${key}"]`);
}

function readForm() {
  const terms = { consumer: {}, business: {} };
  for (const f of FIELDS) {
    if (f.kind === "remedy") {
      terms.remedy = REMEDIES.filter(
        (r) => dom.form.querySelector(`[data-remedy="${r}"]`).checked,
      );
      continue;
    }
    let value = input(f.key).value.trim();
    if (f.kind === "amount") value = value.replace(/[,，]/g, "");
    if (f.kind === "date") value = input(f.key).value;
    const [head, tail] = f.key.split(".");
    if (tail) terms[head][tail] = value;
    else terms[head] = value;
  }
  return terms;
}

function fillForm(view) {
  const terms = view.terms ?? {};
  for (const f of FIELDS) {
    if (f.kind === "remedy") {
      const chosen = new Set(terms.remedy ?? []);
      for (const r of REMEDIES) {
        dom.form.querySelector(`[data-remedy="${r}"]`).checked = chosen.has(r);
      }
      continue;
    }
    input(f.key).value = String(get(terms, f.key));
  }
  ui.form.agreementId = view.id;
  ui.form.baseVersion = view.version;
  ui.form.dirty = false;
  const { errors, missing } = checkTerms(readForm());
  ui.form.errors = errors;
  ui.form.missing = missing;
}

function formEdited() {
  ui.form.dirty = true;
  ui.form.notice = null;
  const { errors, missing } = checkTerms(readForm());
  ui.form.errors = errors;
  ui.form.missing = missing;
  clearTimeout(saveTimer);
  if (Object.keys(errors).length === 0 && missing.length === 0) {
    saveTimer = setTimeout(save, SAVE_DELAY_MS);
  }
  rerender();
}

/** Send the form as the next version; one at a time, the latest edits after the current one. */
function save() {
  const sig = deps.signaling();
  const view = state.agreement.view;
  if (!sig || !view || view.status !== "draft") return;
  if (ui.form.sending) {
    ui.form.queued = true;
    return;
  }
  const terms = readForm();
  const { errors, missing } = checkTerms(terms);
  if (Object.keys(errors).length || missing.length) return;
  ui.form.sending = true;
  ui.form.dirty = false;
  rerender();
  sig
    .agreementUpdate(terms, ui.form.baseVersion)
    .then((ack) => {
      ui.form.baseVersion = ack.agreement?.version ?? ui.form.baseVersion;
      ui.form.notice = null;
    })
    .catch((err) => {
      const code = err.code ?? "network";
      if (code === "stale_version") {
        // Someone else saved meanwhile: the latest comes (came) as a fact; the form takes it.
        ui.form.baseVersion = -1;
        ui.form.dirty = false;
        ui.form.queued = false;
        ui.form.notice = { key: "agreement.form.reloaded" };
      } else if (code === "invalid_terms" && err.body?.field) {
        ui.form.dirty = true;
        ui.form.errors = { ...ui.form.errors, [err.body.field]: "agreement.error.server" };
      } else {
        ui.form.dirty = true;
        ui.form.notice = { key: refusalKey(code), params: { code } };
      }
    })
    .finally(() => {
      ui.form.sending = false;
      if (ui.form.queued) {
        ui.form.queued = false;
        save();
      }
      rerender();
    });
}

const KNOWN_REFUSALS = new Set([
  "agreement_sealed",
  "no_draft",
  "agreement_not_found",
  "text_changed",
  "already_signed",
  "parties_must_sign_first",
  "invalid_signature",
  "invalid_name",
  "invalid_terms",
  "not_admitted",
  "forbidden",
  "not_connected",
  "ack_timeout",
]);

function refusalKey(code) {
  return KNOWN_REFUSALS.has(code) ? `agreement.refused.${code}` : "agreement.refused.other";
}

// ---- the signature pad -------------------------------------------------------------------

function clearPad() {
  const ctx = dom.canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, dom.canvas.width, dom.canvas.height);
  ui.pad.ink = 0;
}

function sizePad() {
  const box = dom.canvas.getBoundingClientRect();
  if (!box.width || !box.height) return;
  const scale = Math.min(2, window.devicePixelRatio || 1);
  const width = Math.round(box.width * scale);
  const height = Math.round(box.height * scale);
  if (dom.canvas.width === width && dom.canvas.height === height) return;
  dom.canvas.width = width;
  dom.canvas.height = height;
  clearPad();
}

/** Finger, pen or mouse: pointer events, one pointer at a time, the page does not scroll. */
function bindPad() {
  const canvas = dom.canvas;
  let stroke = null;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * canvas.width) / box.width,
      y: ((event.clientY - box.top) * canvas.height) / box.height,
      cssX: event.clientX,
      cssY: event.clientY,
    };
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (stroke) return;
    event.preventDefault();
    sizePad();
    try {
      canvas.setPointerCapture(event.pointerId);
    } catch {
      // A synthetic or already released pointer: drawing works without the capture.
    }
    stroke = { id: event.pointerId, last: at(event) };
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#111111";
    ctx.beginPath();
    const radius = (1.5 * canvas.width) / canvas.getBoundingClientRect().width;
    ctx.arc(stroke.last.x, stroke.last.y, radius, 0, Math.PI * 2);
    ctx.fill();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!stroke || event.pointerId !== stroke.id) return;
    event.preventDefault();
    const point = at(event);
    const ctx = canvas.getContext("2d");
    const scale = canvas.width / canvas.getBoundingClientRect().width;
    ctx.strokeStyle = "#111111";
    ctx.lineWidth = 3 * scale;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(stroke.last.x, stroke.last.y);
    ctx.lineTo(point.x, point.y);
    ctx.stroke();
    ui.pad.ink += Math.hypot(point.cssX - stroke.last.cssX, point.cssY - stroke.last.cssY);
    stroke.last = point;
  });
  const end = (event) => {
    if (!stroke || event.pointerId !== stroke.id) return;
    stroke = null;
    if (ui.sign.error === "agreement.sign.empty" && ui.pad.ink >= MIN_STROKE_PX) {
      ui.sign.error = null;
      rerender();
    }
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  new ResizeObserver(() => sizePad()).observe(canvas);
}

// ---- signing -----------------------------------------------------------------------------

function openReview() {
  const view = state.agreement.view;
  if (!view) return;
  ui.sign.reviewedSha = view.text_sha256;
  ui.sign.error = null;
  ui.sign.notice = null;
  if (!dom.name.value.trim()) dom.name.value = state.self?.name ?? "";
  rerender();
  requestAnimationFrame(() => {
    sizePad();
    clearPad();
    dom.signForm.scrollIntoView({ block: "nearest" });
    dom.name.focus();
  });
}

function closeReview() {
  ui.sign.reviewedSha = null;
  ui.sign.error = null;
  rerender();
}

function submitSignature() {
  const sig = deps.signaling();
  const view = state.agreement.view;
  if (!sig || !view || ui.sign.sending) return;
  const name = dom.name.value.trim();
  if (!name) {
    ui.sign.error = "agreement.sign.no_name";
    rerender();
    dom.name.focus();
    return;
  }
  if (ui.pad.ink < MIN_STROKE_PX) {
    ui.sign.error = "agreement.sign.empty";
    rerender();
    return;
  }
  if (ui.sign.reviewedSha !== view.text_sha256) {
    // Changed while the signer read it: they read the new text first.
    ui.sign.reviewedSha = null;
    ui.sign.notice = "agreement.sign.changed";
    rerender();
    return;
  }
  ui.sign.sending = true;
  ui.sign.error = null;
  rerender();
  sig
    .agreementSign({
      textSha256: ui.sign.reviewedSha,
      name,
      image: dom.canvas.toDataURL("image/png"),
    })
    .then(() => {
      ui.sign.reviewedSha = null;
      clearPad();
    })
    .catch((err) => {
      const code = err.code ?? "network";
      if (code === "text_changed") {
        ui.sign.reviewedSha = null;
        ui.sign.notice = "agreement.sign.changed";
      } else {
        ui.sign.error = refusalKey(code);
      }
    })
    .finally(() => {
      ui.sign.sending = false;
      rerender();
    });
}

// ---- the PDF -----------------------------------------------------------------------------

async function downloadPdf() {
  const url = state.agreement.pdfUrl;
  if (!url || ui.pdf.busy) return;
  ui.pdf.busy = true;
  ui.pdf.error = null;
  rerender();
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.code ?? `http_${response.status}`);
    }
    const blob = await response.blob();
    const href = URL.createObjectURL(new Blob([blob], { type: "application/pdf" }));
    const number = state.room?.case_number ?? "";
    const link = el("a", { href, download: t("agreement.pdf.filename", { number }) });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
  } catch (err) {
    ui.pdf.error = err.message === "Failed to fetch" ? "network" : err.message;
  } finally {
    ui.pdf.busy = false;
    rerender();
  }
}

// ---- the mediator's other commands -------------------------------------------------------

function startDraft() {
  const sig = deps.signaling();
  if (!sig) return;
  dom.startError.hidden = true;
  sig
    .agreementStart()
    .then((ack) => {
      if (ack.agreement) fillForm(ack.agreement);
      rerender();
      requestAnimationFrame(() => input("facts")?.focus());
    })
    .catch((err) => {
      const code = err.code ?? "network";
      dom.startError.hidden = false;
      setText(dom.startError, t(refusalKey(code), { code }));
    });
}

function abandonDraft() {
  if (!ui.abandonConfirm) {
    ui.abandonConfirm = true;
    rerender();
    return;
  }
  ui.abandonConfirm = false;
  deps
    .signaling()
    ?.agreementAbandon("")
    .catch((err) => {
      ui.form.notice = { key: refusalKey(err.code), params: { code: err.code } };
      rerender();
    });
  rerender();
}

// ---- rendering ---------------------------------------------------------------------------

function signatureOf(view, role) {
  return (view?.signatures ?? []).find((s) => s.role === role) ?? null;
}

function voidedOf(view, role) {
  const mine = (view?.voided ?? []).filter((s) => s.role === role);
  return mine.length ? mine[mine.length - 1] : null;
}

function time(iso) {
  const ms = Date.parse(iso ?? "");
  return Number.isFinite(ms) ? clock(ms) : "";
}

function renderSignatures(view) {
  for (const li of dom.sigList.children) {
    const role = li.dataset.role;
    const [badge, words] = li.children;
    setText(badge, t(`role.${role}`));
    const signed = signatureOf(view, role);
    const voided = !signed && voidedOf(view, role);
    const state_ = signed ? "signed" : voided ? "voided" : "pending";
    li.dataset.state = state_;
    let text;
    if (signed) {
      text = t("agreement.sig.signed", { name: signed.name, time: time(signed.signed_at) });
    }
    else if (voided) text = t("agreement.sig.voided");
    else text = t(role === "mediator" ? "agreement.sig.pending.mediator" : "agreement.sig.pending");
    setText(words, text);
  }
}

function statusWords(view, mediator) {
  if (!view) return t(mediator ? "agreement.status.none.mediator" : "agreement.status.none");
  if (view.status === "sealed") return t("agreement.status.sealed", { version: view.version });
  if (view.status === "abandoned") return t("agreement.status.abandoned");
  return t("agreement.status.draft", { version: view.version });
}

function renderForm(s, view) {
  const draft = view?.status === "draft";
  dom.form.hidden = !draft;
  if (!draft) return;
  const foreign = ui.form.agreementId !== view.id;
  const moved = view.version !== ui.form.baseVersion && !ui.form.dirty && !ui.form.sending;
  if (foreign || moved) fillForm(view);
  dom.form.querySelector('[data-key="due_on"]').min = tomorrow();
  for (const f of FIELDS) {
    const wrap = dom.form.querySelector(`[data-field="${f.key}"]`);
    const error = wrap.querySelector(".field-error");
    const key = ui.form.errors[f.key];
    error.hidden = !key;
    setText(error, key ? t(key, { field: t(`agreement.field.${f.key}`) }) : "");
    const control = f.kind === "remedy" ? wrap.querySelector("fieldset") : input(f.key);
    control.setAttribute("aria-invalid", String(Boolean(key)));
  }
  for (const option of dom.methods.children) {
    option.value = t(`agreement.method.${option.dataset.method}`);
  }
  let words;
  let stateName;
  if (ui.form.notice) {
    words = t(ui.form.notice.key, ui.form.notice.params ?? {});
    stateName = "notice";
  } else if (ui.form.sending) {
    words = t("agreement.form.saving");
    stateName = "saving";
  } else if (Object.keys(ui.form.errors).length) {
    words = t("agreement.form.invalid");
    stateName = "invalid";
  } else if (ui.form.missing.length) {
    const names = ui.form.missing.map((k) => t(`agreement.field.${k}`)).join("、");
    words = t("agreement.form.missing", { names });
    stateName = "missing";
  } else if (ui.form.dirty) {
    words = t("agreement.form.unsaved");
    stateName = "unsaved";
  } else {
    words = t("agreement.form.saved", { version: view.version });
    stateName = "saved";
  }
  setText(dom.saveState, words);
  dom.saveState.dataset.state = stateName;
}

function renderSign(s, view, mediator) {
  const role = s.self?.role;
  const draft = view?.status === "draft";
  const mine = signatureOf(view, role);
  const partiesSigned = ["consumer", "business"].every((r) => signatureOf(view, r));
  // Dates are the server's to judge here (its "today"); the rest says whether it is finished.
  const check = draft ? checkTerms(view.terms ?? {}, "") : null;
  const complete = draft && Object.keys(check.errors).length === 0 && check.missing.length === 0;
  const canSign = draft && !mine && complete && (!mediator || partiesSigned);
  const show = draft && (canSign || Boolean(mine) || !mediator);
  dom.sign.hidden = !show;
  if (!show) {
    ui.sign.reviewedSha = null;
    return;
  }
  if (ui.sign.reviewedSha && ui.sign.reviewedSha !== view.text_sha256) {
    // The text changed while the signer was reading or drawing: they read it again first.
    ui.sign.reviewedSha = null;
    ui.sign.notice = "agreement.sign.changed";
    clearPad();
  }
  const reviewing = canSign && Boolean(ui.sign.reviewedSha);
  setText(dom.signTitle, t(mediator ? "agreement.seal.title" : "agreement.sign.title"));
  let prompt;
  let tone = "info";
  if (mine) {
    prompt = t("agreement.sign.done", { version: view.version });
    tone = "ok";
  } else if (!complete) {
    prompt = t("agreement.sign.incomplete");
  } else if (ui.sign.notice) {
    prompt = t(ui.sign.notice);
    tone = "warn";
  } else if (!mediator && voidedOf(view, role)) {
    prompt = t("agreement.sign.voided");
    tone = "warn";
  } else {
    prompt = t(mediator ? "agreement.seal.prompt" : "agreement.sign.prompt");
  }
  setText(dom.signPrompt, prompt);
  dom.signPrompt.dataset.tone = tone;
  dom.signPrompt.setAttribute("role", tone === "warn" ? "alert" : "status");
  dom.review.hidden = !canSign || reviewing;
  setText(dom.review, t(mediator ? "agreement.seal.review" : "agreement.sign.review"));
  dom.signForm.hidden = !reviewing;
  if (reviewing) {
    const sha = view.text_sha256.slice(0, 12);
    setText(dom.confirmText, t("agreement.sign.confirm", { version: view.version, sha }));
    let label = mediator ? "agreement.seal.submit" : "agreement.sign.submit";
    if (ui.sign.sending) label = "agreement.sign.sending";
    setText(dom.submit, t(label));
    dom.submit.disabled = ui.sign.sending;
  }
  dom.signError.hidden = !ui.sign.error;
  setText(dom.signError, ui.sign.error ? t(ui.sign.error, { code: "" }) : "");
}

function renderDone(s, view) {
  const sealed = view?.status === "sealed";
  dom.done.hidden = !sealed;
  if (!sealed) return;
  const role = s.self?.role;
  const signed = signatureOf(view, role);
  setText(dom.doneTitle, t(signed ? "agreement.done.signed" : "agreement.done.sealed"));
  setText(
    dom.doneText,
    t("agreement.done.text", { code: view.verification_code ?? "", time: time(view.sealed_at) }),
  );
  const url = s.agreement.pdfUrl;
  dom.download.hidden = !url;
  dom.download.disabled = ui.pdf.busy;
  let words = "";
  if (!url) words = t("agreement.pdf.making");
  else if (ui.pdf.busy) words = t("agreement.pdf.downloading");
  else if (ui.pdf.error) words = t("agreement.pdf.failed", { code: ui.pdf.error });
  setText(dom.pdfState, words);
  dom.pdfState.hidden = !words;
}

function seenKeyOf(s) {
  const v = s.agreement.view;
  if (!v) return "";
  const signed = (v.signatures ?? []).length;
  return `${v.id}:${v.version}:${v.status}:${signed}:${Boolean(s.agreement.pdfUrl)}`;
}

function renderEntry(s, view, mediator) {
  const visible = s.view === "room" && s.panel === "agreement" && (s.wide || s.drawerOpen);
  const key = seenKeyOf(s);
  if (visible || !key) ui.seenKey = key;
  const unseen = Boolean(key) && key !== ui.seenKey;
  const available = mediator || Boolean(view);
  dom.tab.hidden = !available;
  dom.open.hidden = !available;
  dom.tabBadge.hidden = !unseen;
  dom.openBadge.hidden = !unseen;
  setText(dom.tabBadge, "!");
  setText(dom.openBadge, "!");
  dom.open.setAttribute("aria-label", t(unseen ? "agreement.open.unseen" : "side.agreement"));
  dom.open.setAttribute("aria-expanded", String(s.drawerOpen && s.panel === "agreement"));
  const banner = unseen && !visible && s.view === "room" && view && view.status !== "abandoned";
  dom.banner.hidden = !banner;
  if (banner) {
    const role = s.self?.role;
    let words;
    const voided = !mediator && voidedOf(view, role) && !signatureOf(view, role);
    if (view.status === "sealed") {
      words = t(s.agreement.pdfUrl ? "agreement.banner.pdf" : "agreement.banner.sealed");
    } else if (voided) {
      words = t("agreement.banner.voided");
    } else {
      words = t("agreement.banner.updated", { version: view.version });
    }
    setText(dom.bannerText, words);
  }
}

/** Render the agreement panel, its tab, its button and its banner from the room state. */
export function renderAgreement(s) {
  if (!ui.built) return;
  const view = s.agreement.view;
  const mediator = isMediator(s);
  dom.root.dataset.role = mediator ? "mediator" : "party";
  dom.root.dataset.status = view?.status ?? "none";
  renderEntry(s, view, mediator);
  setText(dom.status, statusWords(view, mediator));
  const caucus = s.room?.caucus;
  dom.caucusNote.hidden = !(mediator && caucus && view?.status === "draft");
  if (!dom.caucusNote.hidden) setText(dom.caucusNote, t("agreement.caucus.mediator"));
  dom.empty.hidden = Boolean(view) || mediator;
  setText(dom.empty, t("agreement.empty"));
  dom.start.hidden = !mediator || (view && view.status !== "abandoned");
  if (dom.start.hidden) dom.startError.hidden = true;

  renderForm(s, mediator ? view : null);
  if (!mediator) dom.form.hidden = true;

  const shown = view && view.status !== "abandoned";
  dom.doc.hidden = !shown;
  dom.sigs.hidden = !shown;
  if (shown) {
    renderText(view, s.agreement.previousText);
    setText(dom.version, t("agreement.text.version", { version: view.version }));
    const changed = Number(dom.text.dataset.changed ?? 0);
    dom.changedNote.hidden = !changed || mediator;
    setText(dom.changedNote, t("agreement.text.changed", { n: changed }));
    setText(dom.hash, t("agreement.text.hash", { sha: view.text_sha256.slice(0, 16) }));
    renderSignatures(view);
  }
  renderSign(s, view, mediator);
  renderDone(s, view);

  dom.abandonRow.hidden = !(mediator && view?.status === "draft");
  setText(dom.abandon, t(ui.abandonConfirm ? "agreement.abandon.confirm" : "agreement.abandon"));
  dom.abandonCancel.hidden = !ui.abandonConfirm;
}

function rerender() {
  renderAgreement(state);
}

/** What a browser test reads (through `window.__room`). */
export function agreementSnapshot() {
  const view = state.agreement.view;
  return {
    view,
    pdfUrl: state.agreement.pdfUrl,
    changedLines: ui.built ? Number(dom.text.dataset.changed ?? 0) : 0,
    form: {
      baseVersion: ui.form.baseVersion,
      dirty: ui.form.dirty,
      sending: ui.form.sending,
      errors: { ...ui.form.errors },
      missing: [...ui.form.missing],
      notice: ui.form.notice?.key ?? null,
    },
    sign: {
      reviewing: Boolean(ui.sign.reviewedSha),
      reviewedSha: ui.sign.reviewedSha,
      sending: ui.sign.sending,
      error: ui.sign.error,
      notice: ui.sign.notice,
      ink: Math.round(ui.pad.ink),
    },
    pdf: { busy: ui.pdf.busy, error: ui.pdf.error },
  };
}

/**
 * Build the panel and bind its controls. `signaling()` gives the current Socket.IO wrapper;
 * `openPanel(name)` shows a side panel (a drawer on phones).
 */
export function initAgreement({ signaling, openPanel }) {
  deps = { signaling, openPanel };
  build($("agreement-root"));
  ui.built = true;
  dom.start.addEventListener("click", startDraft);
  dom.form.addEventListener("input", formEdited);
  dom.form.addEventListener("change", formEdited);
  dom.form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(saveTimer);
    save();
  });
  dom.review.addEventListener("click", openReview);
  dom.cancel.addEventListener("click", closeReview);
  dom.clear.addEventListener("click", () => {
    clearPad();
    rerender();
  });
  dom.submit.addEventListener("click", submitSignature);
  dom.download.addEventListener("click", downloadPdf);
  dom.abandon.addEventListener("click", abandonDraft);
  dom.abandonCancel.addEventListener("click", () => {
    ui.abandonConfirm = false;
    rerender();
  });
  dom.bannerOpen.addEventListener("click", () => deps.openPanel("agreement"));
  dom.open.addEventListener("click", () => deps.openPanel("agreement"));
  bindPad();
  onLangChange(() => {
    ui.textKey = "";
    rerender();
  });
}
