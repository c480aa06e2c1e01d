// Wiring: the address (#/cases, #/new, #/case/<number>) and the controls call the API; the
// answers become events; the views render the state.

import { lang, onLangChange, toggleLang, translateStatic } from "../i18n.js";
import { ApiError, api } from "./api.js";
import { DEFAULT_VALID_HOURS, normalizeAmount, sameAmount, todayISO } from "./domain.js";
import { EMPTY_QUERY, caseHash, listHash, parseRoute } from "./routes.js";
import { createPlayback } from "./playback.js";
import { showOfficeView } from "./dashboard.js";
import { dispatch, state, subscribe } from "./state.js";
import { dom, render, roleLabel, statusLabel } from "./views.js";

const TOAST_MS = 4000;
const COPIED_MS = 2500;
const EXPIRY_CHECK_MS = 60_000;
/** The list asks for this many cases while the deadline filter is on (see listQuery). */
const DEADLINE_PAGE = 100;
/** Invitation links issued from this tab, per case: they are shown once by the server only. */
const LINKS_KEY = "mediation-room.console.invitations.";

let toastTimer = null;
let copiedTimer = null;
/** Each load gets a number; an answer to an older load is dropped (fast taps, back/forward). */
let loadSeq = 0;
/** Likewise for the record and the invitations, which several actions refresh. */
let recordSeq = 0;
let invitationsSeq = 0;
let recordingsSeq = 0;
let evidenceSeq = 0;
/** Each "view" of an evidence file gets a number; a slower earlier fetch is dropped. */
let viewSeq = 0;
/** The blob URL the evidence viewer shows: revoked as soon as the state lets go of it. */
let evidenceBlobUrl = null;

let shown = "";
subscribe(() => {
  render(state);
  // A new page (view or case) starts at its top, as a new address would.
  const now = `${state.view}|${state.view === "case" ? state.case.number : ""}`;
  if (now !== shown) {
    shown = now;
    window.scrollTo(0, 0);
  }
});
// The playback files panel follows the case on show: its recordings and its sittings.
const playback = createPlayback(document.querySelector('[data-testid="playback"]'));
let playbackShown = null;
subscribe(() => {
  const onCase = state.view === "case" && state.case.recordings && state.case.record;
  const recordings = onCase ? state.case.recordings : null;
  const sittings = onCase ? (state.case.record.sittings ?? []) : null;
  const key = onCase ? [state.case.number, recordings, sittings] : null;
  const same =
    key && playbackShown && key.every((part, i) => part === playbackShown[i]);
  if (same || (!key && !playbackShown)) return;
  playbackShown = key;
  if (key) playback.show(state.case.number, recordings, sittings);
  else playback.show(null);
});
subscribe(() => {
  const now = state.case.viewing?.blobUrl ?? null;
  if (evidenceBlobUrl && evidenceBlobUrl !== now) URL.revokeObjectURL(evidenceBlobUrl);
  evidenceBlobUrl = now;
});

// ---- failures -------------------------------------------------------------------------------

function codeOf(err) {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  console.error(err);
  return { code: "unknown", message: String(err?.message ?? err) };
}

/** A logged-out answer anywhere sends the page to the login view; true when it did. */
function loggedOutBy(err) {
  if (err instanceof ApiError && err.code === "not_logged_in") {
    dispatch("loggedOut", { reason: "not_logged_in" });
    return true;
  }
  return false;
}

/** Run one case-page action: busy while it runs, its failure shown by its own control. */
async function action(name, run) {
  if (state.busy[name]) return;
  dispatch("actionStarted", { action: name });
  try {
    await run();
    dispatch("actionDone", { action: name });
  } catch (err) {
    if (loggedOutBy(err)) return;
    dispatch("actionFailed", { action: name, ...codeOf(err) });
  }
}

function toast(key, params = {}) {
  dispatch("toastShown", { key, params });
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => dispatch("toastHidden"), TOAST_MS);
}

// ---- the address ----------------------------------------------------------------------------

/** Go to `hash`; the same address again reloads it (hashchange would not fire). */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (!state.user) return;
  const target = parseRoute(location.hash);
  if (target.name === "create") openCreate();
  else if (target.name === "case") openCase(target.number);
  else if (target.name === "dashboard" || target.name === "work") {
    dispatch("pageShown", { view: target.name });
    showOfficeView(target.name, target.search, state.office);
  } else loadList(target.query);
}

// ---- session --------------------------------------------------------------------------------

/** The office's categories and deadlines; without them the console uses the defaults. */
async function loadOffice() {
  try {
    dispatch("officeLoaded", { office: await api.office() });
  } catch (err) {
    if (!loggedOutBy(err)) console.warn("office rules:", err);
  }
}

/** The login's answer lacks the office's name: GET /api/me has it. */
async function loadUser() {
  try {
    dispatch("userLoaded", { user: await api.me() });
  } catch (err) {
    if (!loggedOutBy(err)) console.warn("me:", err);
  }
}

async function checkSession() {
  try {
    dispatch("loggedIn", { user: await api.me() });
    loadOffice();
    route();
  } catch (err) {
    const { code } = codeOf(err);
    dispatch("loggedOut", { reason: code === "not_logged_in" ? null : code });
  }
}

async function login(event) {
  event.preventDefault();
  const username = dom.loginForm.elements.username.value.trim();
  const password = dom.loginForm.elements.password.value;
  if (!username || !password) {
    dispatch("loginFailed", { code: "required" });
    return;
  }
  dispatch("loginStarted");
  try {
    const user = await api.login(username, password);
    dom.loginForm.elements.password.value = "";
    dispatch("loggedIn", { user });
    loadOffice();
    if (!user.office_name) loadUser();
    route();
  } catch (err) {
    dispatch("loginFailed", codeOf(err));
    dom.loginForm.elements.password.select();
  }
}

async function logout() {
  try {
    await api.logout();
  } catch {
    // The cookie may be gone already; the page forgets the session either way.
  }
  forgetAllLinks();
  dispatch("loggedOut");
}

// ---- the list -------------------------------------------------------------------------------

function listQuery(query) {
  // The API filters by deadline after paging: ask for one large page so the filter sees them.
  const perPage = query.deadline ? DEADLINE_PAGE : state.list.perPage;
  return {
    page: query.deadline ? 1 : query.page,
    per_page: perPage,
    status: query.status,
    category: query.category,
    q: query.q.trim(),
    deadline: query.deadline,
  };
}

async function loadList(query) {
  const seq = ++loadSeq;
  dispatch("listRequested", { query });
  try {
    // A dashboard figure's cases (#/cases?figure=…) come from the figure's own query.
    const answer = query.figure
      ? await api.figureCases({
          figure: query.figure,
          from: query.from,
          to: query.to,
          category: query.category,
          mediator: query.mediator,
          page: query.page,
          per_page: state.list.perPage,
        })
      : await api.listCases(listQuery(query));
    if (seq !== loadSeq) return;
    const perPage = query.deadline ? state.list.perPage : answer.per_page;
    dispatch("listLoaded", { cases: answer.cases, total: answer.total, perPage });
  } catch (err) {
    if (seq !== loadSeq || loggedOutBy(err)) return;
    dispatch("listFailed", codeOf(err));
  }
}

function changeQuery(changes) {
  go(listHash({ ...state.list.query, page: 1, ...changes }));
}

// ---- a new case -----------------------------------------------------------------------------

function openCreate() {
  dispatch("createOpened");
  const today = todayISO();
  dom.createReceivedOn.max = today;
  if (!dom.createReceivedOn.value) dom.createReceivedOn.value = today;
}

async function createCase(event) {
  event.preventDefault();
  if (state.create.busy) return;
  const f = dom.createForm.elements;
  const body = {
    title: f.title.value.trim(),
    category: f.category.value,
    claim: f.claim.value.trim(),
  };
  const amount = normalizeAmount(f.amount_in_dispute.value);
  if (amount) body.amount_in_dispute = amount;
  const complaint = f.complaint_number.value.trim();
  if (complaint) body.complaint_number = complaint;
  if (f.received_on.value) body.received_on = f.received_on.value;
  dispatch("createStarted");
  try {
    const created = await api.createCase(body);
    dispatch("createDone");
    dom.createForm.reset();
    toast("console.create.done", { number: created.number });
    go(caseHash(created.number));
  } catch (err) {
    if (loggedOutBy(err)) return;
    dispatch("createFailed", codeOf(err));
  }
}

// ---- one case -------------------------------------------------------------------------------

function loadLinks(number) {
  try {
    return JSON.parse(sessionStorage.getItem(LINKS_KEY + number) ?? "[]");
  } catch {
    return [];
  }
}

function saveLinks() {
  try {
    sessionStorage.setItem(LINKS_KEY + state.case.number, JSON.stringify(state.case.batches));
  } catch {
    // No storage: the links stay on this page until it is left.
  }
}

function forgetAllLinks() {
  try {
    for (const key of Object.keys(sessionStorage)) {
      if (key.startsWith(LINKS_KEY)) sessionStorage.removeItem(key);
    }
  } catch {
    // Nothing was stored.
  }
}

async function openCase(number) {
  const seq = ++loadSeq;
  dispatch("caseOpened", { number, batches: loadLinks(number) });
  refreshInvitations(); // on its own: a failure there leaves the rest of the case shown
  refreshRecordings(); // likewise
  refreshEvidence(); // likewise
  refreshSatisfaction(); // likewise
  try {
    const [data, record] = await Promise.all([api.getCase(number), api.getRecord(number)]);
    if (seq !== loadSeq) return;
    dispatch("caseLoaded", { data, record });
  } catch (err) {
    if (seq !== loadSeq || loggedOutBy(err)) return;
    dispatch("caseFailed", codeOf(err));
  }
}

/** The case's invitations as the server has them (who, until when, withdrawn or not). */
async function refreshInvitations() {
  const number = state.case.number;
  const seq = ++invitationsSeq;
  try {
    const answer = await api.listInvitations(number);
    if (seq !== invitationsSeq || state.case.number !== number) return;
    dispatch("invitationsLoaded", { invitations: answer.invitations });
  } catch (err) {
    if (seq !== invitationsSeq || loggedOutBy(err)) return;
    dispatch("actionFailed", { action: "invitations", ...codeOf(err) });
  }
}

/** The case's recorded segments (their files play from the list's URLs). */
async function refreshRecordings() {
  const number = state.case.number;
  const seq = ++recordingsSeq;
  dispatch("actionStarted", { action: "recordings" });
  try {
    const answer = await api.listRecordings(number);
    if (seq !== recordingsSeq || state.case.number !== number) return;
    dispatch("recordingsLoaded", { recordings: answer.recordings });
    dispatch("actionDone", { action: "recordings" });
  } catch (err) {
    if (seq !== recordingsSeq || loggedOutBy(err)) return;
    dispatch("actionFailed", { action: "recordings", ...codeOf(err) });
  }
}

/** The parties' satisfaction answers (满意度), given on their links after a sitting. */
async function refreshSatisfaction() {
  const number = state.case.number;
  try {
    const answer = await api.caseSatisfaction(number);
    if (state.case.number !== number) return;
    dispatch("satisfactionLoaded", { answers: answer.answers });
  } catch (err) {
    if (loggedOutBy(err)) return;
    dispatch("actionFailed", { action: "satisfaction", ...codeOf(err) });
  }
}

/** The case's evidence files (each is fetched into a blob URL to be viewed). */
async function refreshEvidence() {
  const number = state.case.number;
  const seq = ++evidenceSeq;
  dispatch("actionStarted", { action: "evidence" });
  try {
    const answer = await api.listEvidence(number);
    if (seq !== evidenceSeq || state.case.number !== number) return;
    dispatch("evidenceLoaded", { evidence: answer.evidence });
    dispatch("actionDone", { action: "evidence" });
  } catch (err) {
    if (seq !== evidenceSeq || loggedOutBy(err)) return;
    dispatch("actionFailed", { action: "evidence", ...codeOf(err) });
  }
}

/**
 * One file into the viewer: fetched with the session cookie and shown from a blob URL (the
 * file's own address serves a PDF sandboxed, and would leave the console).
 */
async function viewEvidence(id) {
  const item = (state.case.evidence ?? []).find((e) => e.id === id);
  if (!item) return;
  const seq = ++viewSeq;
  dispatch("evidenceChosen", { id });
  try {
    const blob = await api.evidenceFile(item.url);
    if (seq !== viewSeq || state.case.viewing?.id !== id) return;
    dispatch("evidenceFetched", { id, blobUrl: URL.createObjectURL(blob) });
  } catch (err) {
    if (seq !== viewSeq || loggedOutBy(err)) return;
    dispatch("evidenceFetchFailed", { id, ...codeOf(err) });
  }
}

/** The record again; the newest request wins (a close, a note and a tap may overlap). */
async function refreshRecord() {
  const number = state.case.number;
  const seq = ++recordSeq;
  dispatch("actionStarted", { action: "record" });
  try {
    const record = await api.getRecord(number);
    if (seq !== recordSeq) return;
    if (state.case.number === number) dispatch("recordLoaded", { record });
    dispatch("actionDone", { action: "record" });
  } catch (err) {
    if (seq !== recordSeq || loggedOutBy(err)) return;
    dispatch("actionFailed", { action: "record", ...codeOf(err) });
  }
}

function toggleReveal() {
  const number = state.case.number;
  const reveal = !state.case.revealed;
  action("reveal", async () => {
    const data = await api.getCase(number, reveal);
    dispatch("caseUpdated", { data, revealed: reveal });
  });
}

function chooseStatus(to) {
  dom.statusReason.value = "";
  dom.statusRecovered.value = "";
  dispatch("statusChosen", { to });
  queueMicrotask(() => dom.statusConfirmPanel.scrollIntoView({ block: "nearest" }));
}

async function confirmStatus() {
  const number = state.case.number;
  const to = state.case.pendingStatus;
  if (!to) return;
  const recovered = to === "settled" ? normalizeAmount(dom.statusRecovered.value) : "";
  await action("status", async () => {
    try {
      const reason = dom.statusReason.value.trim();
      const data = await api.changeStatus(number, to, reason, recovered);
      dispatch("statusChanged", { data });
      toast("console.status.done", { status: statusLabel(to) });
    } catch (err) {
      // Someone else moved the case meanwhile: show it as it is now, with the reason why.
      if (err instanceof ApiError && err.code === "invalid_status_transition") {
        dispatch("statusChanged", { data: await api.getCase(number) });
      }
      throw err;
    }
  });
  refreshRecord();
}

// ---- correcting the case's description ------------------------------------------------------

function openEdit() {
  const c = state.case.data;
  if (!c) return;
  const f = dom.editForm.elements;
  f.title.value = c.title;
  f.category.value = c.category;
  f.claim.value = c.claim ?? "";
  f.amount_in_dispute.value = c.amount_in_dispute ?? "";
  f.complaint_number.value = c.complaint_number ?? "";
  dispatch("editOpened");
  queueMicrotask(() => f.title.focus());
}

function closeEdit() {
  dispatch("editClosed");
  queueMicrotask(() => dom.editButton.focus());
}

/** What the form changes of the case, as PATCH takes it: only the fields that differ. */
function editChanges(c) {
  const f = dom.editForm.elements;
  const changes = {};
  const title = f.title.value.trim();
  if (title !== c.title) changes.title = title;
  if (f.category.value !== c.category) changes.category = f.category.value;
  const claim = f.claim.value.trim();
  if (claim !== (c.claim ?? "")) changes.claim = claim;
  const amount = normalizeAmount(f.amount_in_dispute.value);
  if (!amount) {
    if (c.amount_in_dispute !== null) changes.amount_in_dispute = null;
  } else if (!sameAmount(amount, c.amount_in_dispute)) {
    changes.amount_in_dispute = amount;
  }
  const complaint = f.complaint_number.value.trim();
  if (complaint !== (c.complaint_number ?? "")) changes.complaint_number = complaint || null;
  return changes;
}

async function saveEdit(event) {
  event.preventDefault();
  const number = state.case.number;
  const c = state.case.data;
  if (!c) return;
  const changes = editChanges(c);
  if (Object.keys(changes).length === 0) {
    closeEdit();
    toast("console.edit.unchanged");
    return;
  }
  let saved = false;
  await action("edit", async () => {
    try {
      const data = await api.updateCase(number, changes);
      dispatch("caseEdited", { data });
      saved = true;
      toast("console.edit.done");
    } catch (err) {
      // Concluded meanwhile (in another tab, say): show the case as it is now, and why.
      if (err instanceof ApiError && err.code === "invalid_status_transition") {
        try {
          dispatch("caseUpdated", { data: await api.getCase(number) });
        } catch {
          // The message stands on its own.
        }
      }
      throw err;
    }
  });
  if (saved) refreshRecord();
}

async function addParty(event, role) {
  event.preventDefault();
  const form = dom.partyForms[role];
  const number = state.case.number;
  const body = { role, name: form.elements.name.value.trim() };
  for (const field of ["phone", "id_number", "credit_code", "contact_person"]) {
    const input = form.elements[field];
    if (!input) continue;
    let value = input.value.trim();
    if (field === "phone") value = value.replace(/\s+/g, " ");
    if (field === "id_number" || field === "credit_code") value = value.toUpperCase();
    if (value) body[field] = value;
  }
  await action(`party.${role}`, async () => {
    const data = await api.addParty(number, body);
    dispatch("caseUpdated", { data });
    form.reset();
    toast("console.parties.added", { role: roleLabel(role), name: body.name });
  });
  refreshRecord();
}

async function issueInvitations() {
  const number = state.case.number;
  const hours = Number.parseInt(dom.inviteHours.value, 10) || DEFAULT_VALID_HOURS;
  await action("invite", async () => {
    const answer = await api.issueInvitations(number, hours);
    if (state.case.number !== number) return;
    dispatch("invitationsIssued", {
      batch: { room_id: answer.room_id, invitations: answer.invitations },
    });
    saveLinks();
    toast("console.invite.issued");
  });
  refreshRecord();
  refreshInvitations();
}

async function revoke(id) {
  await action("revoke", async () => {
    const invitation = await api.revokeInvitation(id);
    dispatch("invitationRevoked", { invitation });
    saveLinks();
    toast("console.invite.revoked.done", { role: roleLabel(invitation.role) });
  });
  refreshInvitations();
}

// ---- sittings -------------------------------------------------------------------------------

function chooseClose(id) {
  dispatch("closeChosen", { id });
}

async function closeSitting(id) {
  const number = state.case.number;
  const n = (state.case.record?.sittings ?? []).findIndex((x) => x.id === id) + 1;
  await action("sitting", async () => {
    const sitting = await api.closeSitting(number, id);
    if (state.case.number !== number) return;
    dispatch("sittingClosed", { sitting });
    toast("console.sitting.closed.done", { n });
  });
  refreshRecord();
  refreshInvitations();
}

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (plain http, older browser, or refused): select and copy the old way.
  }
  if (!input) return false;
  input.focus();
  input.select();
  input.setSelectionRange(0, text.length);
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

async function copyLink(id, card) {
  const found = state.case.batches.flatMap((b) => b.invitations).find((inv) => inv.id === id);
  if (!found?.link) return;
  const ok = await copyText(found.link, card?.querySelector('[data-testid="invite-link"]'));
  dispatch("linkCopied", { id, ok });
  clearTimeout(copiedTimer);
  if (ok) copiedTimer = setTimeout(() => dispatch("copiedCleared"), COPIED_MS);
}

async function addNote(event) {
  event.preventDefault();
  const number = state.case.number;
  const text = dom.noteInput.value.trim();
  if (!text) {
    dispatch("actionFailed", { action: "note", code: "required", message: "" });
    return;
  }
  await action("note", async () => {
    const entry = await api.addNote(number, text);
    dispatch("noteAdded", { entry });
    dom.noteInput.value = "";
    toast("console.record.note.added");
  });
}

async function saveSummary(event) {
  event.preventDefault();
  const number = state.case.number;
  const text = dom.summaryInput.value.trim();
  if (!text) {
    dispatch("actionFailed", { action: "summary", code: "required", message: "" });
    return;
  }
  await action("summary", async () => {
    const summary = await api.saveSummary(number, text);
    if (state.case.number !== number) return;
    dispatch("summarySaved", { summary });
    toast("console.doc.summary.done");
  });
}

/** The PDF is made on the server (a second or two), then saved under its Chinese name. */
async function downloadPdf() {
  const number = state.case.number;
  await action("pdf", async () => {
    const blob = await api.transcriptPdf(number);
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `调解笔录-${number}.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    // The download has taken its copy by then; a minute is generous.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
}

// ---- controls -------------------------------------------------------------------------------

function onInvitationClick(event) {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  const id = button.dataset.id;
  switch (button.dataset.action) {
    case "copy":
      copyLink(id, button.closest("[data-invitation-id]"));
      break;
    case "revoke":
      dispatch("revokeChosen", { id, where: button.dataset.where });
      break;
    case "revoke-confirm":
      revoke(id);
      break;
    case "revoke-cancel":
      dispatch("revokeCancelled");
      break;
    default:
      break;
  }
}

/** The person is fixing a field the server named: its own complaint goes; the summary stays. */
function clearFieldProblem(input) {
  const wrapper = input.closest("[data-field]");
  if (!wrapper) return;
  input.removeAttribute("aria-invalid");
  for (const problem of wrapper.querySelectorAll(".field-problem")) problem.remove();
}

function bindControls() {
  dom.langToggle.addEventListener("click", toggleLang);
  dom.logoutButton.addEventListener("click", logout);
  dom.loginForm.addEventListener("submit", login);

  dom.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    changeQuery({ q: dom.searchInput.value.trim() });
  });
  dom.filterStatus.addEventListener("change", () =>
    changeQuery({ status: dom.filterStatus.value }),
  );
  dom.filterCategory.addEventListener("change", () =>
    changeQuery({ category: dom.filterCategory.value }),
  );
  dom.filterDeadline.addEventListener("change", () =>
    changeQuery({ deadline: dom.filterDeadline.value }),
  );
  dom.clearFilters.addEventListener("click", () => go(listHash(EMPTY_QUERY)));
  dom.listRetry.addEventListener("click", () => loadList(state.list.query));
  dom.pagePrev.addEventListener("click", () =>
    go(listHash({ ...state.list.query, page: state.list.query.page - 1 })),
  );
  dom.pageNext.addEventListener("click", () =>
    go(listHash({ ...state.list.query, page: state.list.query.page + 1 })),
  );

  dom.createForm.addEventListener("submit", createCase);

  dom.caseRetry.addEventListener("click", () => openCase(state.case.number));
  dom.statusActions.addEventListener("click", (event) => {
    const button = event.target.closest('[data-action="choose-status"]');
    if (button) chooseStatus(button.dataset.to);
  });
  dom.statusConfirm.addEventListener("click", confirmStatus);
  dom.editButton.addEventListener("click", openEdit);
  dom.editForm.addEventListener("submit", saveEdit);
  dom.editCancel.addEventListener("click", closeEdit);
  dom.statusCancel.addEventListener("click", () => dispatch("statusCancelled"));
  dom.revealButton.addEventListener("click", toggleReveal);
  for (const role of ["consumer", "business"]) {
    dom.partyForms[role].addEventListener("submit", (event) => addParty(event, role));
  }
  dom.inviteButton.addEventListener("click", issueInvitations);
  dom.invitations.addEventListener("click", onInvitationClick);
  dom.invitationList.addEventListener("click", onInvitationClick);
  dom.sittings.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const id = Number(button.dataset.id);
    if (button.dataset.action === "close-sitting") chooseClose(id);
    else if (button.dataset.action === "close-confirm") closeSitting(id);
    else if (button.dataset.action === "close-cancel") dispatch("closeCancelled");
  });
  dom.recordRefresh.addEventListener("click", refreshRecord);
  dom.recordingsRefresh.addEventListener("click", refreshRecordings);
  dom.recordings.addEventListener("click", (event) => {
    const button = event.target.closest('[data-action="play-recording"]');
    if (!button) return;
    dispatch("recordingChosen", { id: Number(button.dataset.id) });
    // In the click (a user gesture): the browser lets it play with sound.
    dom.recordingPlayer.play().catch(() => {});
    dom.recordingPlayerBox.scrollIntoView({ block: "nearest" });
  });
  // A file this browser cannot play (Matroska, an unknown codec) or that is gone: say so.
  dom.recordingPlayer.addEventListener("error", () => {
    const id = Number(dom.recordingPlayer.dataset.id);
    if (id) dispatch("playerFailed", { id });
  });
  dom.evidenceRefresh.addEventListener("click", refreshEvidence);
  dom.evidence.addEventListener("click", (event) => {
    const button = event.target.closest('[data-action="view-evidence"]');
    if (!button) return;
    viewEvidence(Number(button.dataset.id)); // shows the viewer (loading) at once
    dom.evidenceViewerBox.scrollIntoView({ block: "nearest" });
  });
  dom.noteForm.addEventListener("submit", addNote);
  dom.summaryForm.addEventListener("submit", saveSummary);
  dom.transcriptPdf.addEventListener("click", downloadPdf);

  const forms = [dom.createForm, dom.editForm, dom.statusConfirmPanel, dom.summaryForm];
  for (const form of [...forms, ...Object.values(dom.partyForms)]) {
    form.addEventListener("input", (event) => clearFieldProblem(event.target));
  }

  window.addEventListener("hashchange", route);
}

/** A read-only snapshot for tests: plain data only. */
function snapshot() {
  return structuredClone({
    view: state.view,
    user: state.user
      ? { username: state.user.username, display_name: state.user.display_name }
      : null,
    caseNumber: state.view === "case" ? state.case.number : null,
    caseStatus: state.view === "case" ? (state.case.data?.status ?? null) : null,
    recordings: state.view === "case" ? (state.case.recordings?.length ?? null) : null,
    playing: state.view === "case" ? state.case.playing : null,
    evidence: state.view === "case" ? (state.case.evidence?.length ?? null) : null,
    viewing:
      state.view === "case" && state.case.viewing
        ? { id: state.case.viewing.id, status: state.case.viewing.status }
        : null,
    editing: state.view === "case" && state.case.editing,
    lastError: state.lastError,
    loading: state.list.loading || state.case.loading,
    busy: Object.keys(state.busy).filter((name) => state.busy[name]),
    lang: lang(),
  });
}

function start() {
  Object.defineProperty(window, "__console", { get: snapshot });
  translateStatic();
  onLangChange(() => {
    translateStatic();
    render(state);
  });
  bindControls();
  render(state);
  checkSession();
  // Invitations expire as time passes: the case page looks again each minute (nothing fetched).
  setInterval(() => {
    if (state.view === "case") render(state);
  }, EXPIRY_CHECK_MS);
}

start();
