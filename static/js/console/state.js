// The console's one state object. Only the handlers below change it, each for one event.

import { createStore } from "../shared.js";

/** A case page with nothing loaded yet (`number` null: none open). */
function freshCase(number = null, batches = []) {
  return {
    number,
    /** GET /api/cases/{number} (masked unless `revealed`). */
    data: null,
    /** GET /api/cases/{number}/record. */
    record: null,
    revealed: false,
    loading: false,
    error: null,
    /** The next status the mediator tapped, waiting for confirmation. */
    pendingStatus: null,
    /**
     * The invitation whose "withdraw" was tapped, waiting for confirmation: {id, where}, where
     * is "batch" (a card with its link, issued from this tab) or "list" (the server's list).
     */
    pendingRevoke: null,
    /** The sitting id whose "end this sitting" was tapped, waiting for confirmation. */
    pendingClose: null,
    /** Whether the case's details are open for editing. */
    editing: false,
    /** Invitations issued from this tab, newest sitting first: [{room_id, invitations}]. */
    batches,
    /** GET /api/cases/{number}/invitations: every invitation, without links; null until known. */
    invitations: null,
    /** GET /api/cases/{number}/recordings: the recorded segments; null until known. */
    recordings: null,
    /** The segment in the player: its id, and whether the browser could not play it. */
    playing: null,
    playerFailed: false,
    /** GET /api/cases/{number}/evidence: the files submitted in the rooms; null until known. */
    evidence: null,
    /** The file in the viewer: {id, status: "loading"|"ready"|"failed", blobUrl, code}. */
    viewing: null,
    /** GET /api/cases/{number}/satisfaction: the parties' answers; null until known. */
    satisfaction: null,
  };
}

export const state = {
  /** loading | login | list | create | case */
  view: "loading",
  /** From GET /api/me: {id, username, display_name, office_id, office_name}, or null. */
  user: null,
  /** Why the login view shows a message: an error code (bad_credentials, not_logged_in, …). */
  loginError: null,
  loginBusy: false,
  /** From GET /api/office: {categories, acceptance_days, mediation_days}; null until known. */
  office: null,
  list: {
    /** The list's address (#/cases?…): filters, search and page. */
    query: { status: "", category: "", deadline: "", q: "", page: 1 },
    cases: [],
    total: 0,
    perPage: 20,
    loading: false,
    loaded: false,
    error: null,
  },
  create: { busy: false, error: null },
  case: freshCase(),

  /** Per action on the case page (status, party.consumer, invite, note, …): {code, message}. */
  errors: {},
  /** Per action: true while its request runs. */
  busy: {},
  /** A passing confirmation: {key, params}. */
  toast: null,
  /** The invitation whose link was just copied: {id, ok}. */
  copied: null,
  /** The code of the last failure anywhere on the page (for tests and support). */
  lastError: null,
};

function failed(s, code) {
  s.lastError = code;
}

const handlers = {
  loggedIn(s, { user }) {
    s.user = user;
    s.loginError = null;
    s.loginBusy = false;
  },
  /** The mediator as GET /api/me tells (the login's answer lacks the office's name). */
  userLoaded(s, { user }) {
    if (s.user) s.user = user;
  },
  officeLoaded(s, { office }) {
    s.office = office;
  },
  loginStarted(s) {
    s.loginBusy = true;
    s.loginError = null;
  },
  loginFailed(s, { code }) {
    s.loginBusy = false;
    s.loginError = code;
    failed(s, code);
  },
  /** Logged out on purpose (reason null) or found logged out (reason "not_logged_in"). */
  loggedOut(s, { reason = null } = {}) {
    s.user = null;
    s.view = "login";
    s.loginBusy = false;
    s.loginError = reason;
    s.case = {
      ...s.case,
      number: null,
      data: null,
      record: null,
      batches: [],
      invitations: null,
      recordings: null,
      playing: null,
      playerFailed: false,
      evidence: null,
      viewing: null,
      revealed: false,
      editing: false,
    };
    s.errors = {};
    s.busy = {};
    if (reason) failed(s, reason);
  },

  listRequested(s, { query }) {
    s.view = "list";
    s.list.query = query;
    s.list.loading = true;
    s.list.error = null;
  },
  listLoaded(s, { cases, total, perPage }) {
    s.list.cases = cases;
    s.list.total = total;
    s.list.perPage = perPage;
    s.list.loading = false;
    s.list.loaded = true;
  },
  listFailed(s, { code }) {
    s.list.loading = false;
    s.list.error = code;
    failed(s, code);
  },

  createOpened(s) {
    s.view = "create";
    s.create = { busy: false, error: null };
  },
  createStarted(s) {
    s.create = { busy: true, error: null };
  },
  createFailed(s, { code, message }) {
    s.create = { busy: false, error: { code, message } };
    failed(s, code);
  },
  createDone(s) {
    s.create = { busy: false, error: null };
  },

  caseOpened(s, { number, batches }) {
    s.view = "case";
    if (s.case.number !== number) {
      s.case = freshCase(number, batches);
      s.errors = {};
      s.busy = {};
    }
    s.case.loading = true;
    s.case.error = null;
  },
  caseLoaded(s, { data, record }) {
    s.case.data = data;
    s.case.record = record;
    s.case.revealed = false;
    s.case.loading = false;
  },
  caseFailed(s, { code }) {
    s.case.loading = false;
    s.case.error = code;
    failed(s, code);
  },
  /** A new view of the case from any call that answers with it. */
  caseUpdated(s, { data, revealed = false }) {
    s.case.data = data;
    s.case.revealed = revealed;
  },
  recordLoaded(s, { record }) {
    s.case.record = record;
    s.case.data ??= record.case;
  },
  invitationsLoaded(s, { invitations }) {
    s.case.invitations = invitations;
    s.errors.invitations = null;
  },

  recordingsLoaded(s, { recordings }) {
    s.case.recordings = recordings;
    if (!recordings.some((r) => r.id === s.case.playing)) s.case.playing = null;
  },
  recordingChosen(s, { id }) {
    s.case.playing = id;
    s.case.playerFailed = false;
  },
  playerFailed(s, { id }) {
    if (s.case.playing === id) s.case.playerFailed = true;
  },

  satisfactionLoaded(s, { answers }) {
    s.case.satisfaction = answers;
  },
  evidenceLoaded(s, { evidence }) {
    s.case.evidence = evidence;
    if (!evidence.some((e) => e.id === s.case.viewing?.id)) s.case.viewing = null;
  },
  evidenceChosen(s, { id }) {
    s.case.viewing = { id, status: "loading", blobUrl: null, code: null };
  },
  evidenceFetched(s, { id, blobUrl }) {
    if (s.case.viewing?.id === id) s.case.viewing = { id, status: "ready", blobUrl, code: null };
  },
  evidenceFetchFailed(s, { id, code }) {
    if (s.case.viewing?.id === id) s.case.viewing = { id, status: "failed", blobUrl: null, code };
  },

  actionStarted(s, { action }) {
    s.busy[action] = true;
    s.errors[action] = null;
  },
  actionFailed(s, { action, code, message }) {
    s.busy[action] = false;
    s.errors[action] = { code, message };
    failed(s, code);
  },
  actionDone(s, { action }) {
    s.busy[action] = false;
    s.errors[action] = null;
  },

  statusChosen(s, { to }) {
    s.case.pendingStatus = to;
    s.errors.status = null;
  },
  editOpened(s) {
    s.case.editing = true;
    s.errors.edit = null;
  },
  editClosed(s) {
    s.case.editing = false;
    s.errors.edit = null;
  },
  caseEdited(s, { data }) {
    s.case.data = data;
    s.case.revealed = false;
    s.case.editing = false;
  },
  statusCancelled(s) {
    s.case.pendingStatus = null;
  },
  statusChanged(s, { data }) {
    s.case.data = data;
    s.case.revealed = false;
    s.case.pendingStatus = null;
  },

  invitationsIssued(s, { batch }) {
    s.case.batches = [batch, ...s.case.batches];
    s.case.pendingRevoke = null;
  },
  revokeChosen(s, { id, where }) {
    s.case.pendingRevoke = { id, where };
    s.errors.revoke = null;
  },
  revokeCancelled(s) {
    s.case.pendingRevoke = null;
  },
  invitationRevoked(s, { invitation }) {
    s.case.pendingRevoke = null;
    const known = [...s.case.batches.flatMap((b) => b.invitations), ...(s.case.invitations ?? [])];
    for (const inv of known) {
      if (inv.id === invitation.id) inv.revoked_at = invitation.revoked_at;
    }
  },
  linkCopied(s, { id, ok }) {
    s.copied = { id, ok };
  },
  copiedCleared(s) {
    s.copied = null;
  },

  closeChosen(s, { id }) {
    s.case.pendingClose = id;
    s.errors.sitting = null;
  },
  closeCancelled(s) {
    s.case.pendingClose = null;
  },
  sittingClosed(s, { sitting }) {
    s.case.pendingClose = null;
    if (!s.case.record) return;
    s.case.record.sittings = s.case.record.sittings.map((x) => (x.id === sitting.id ? sitting : x));
  },

  noteAdded(s, { entry }) {
    if (s.case.record) s.case.record.transcript = [...s.case.record.transcript, entry];
  },
  /** PUT …/summary answered: the summary is the record's newest entry of kind "summary". */
  summarySaved(s, { summary }) {
    const record = s.case.record;
    if (!record || record.transcript.some((e) => e.seq === summary.seq)) return;
    const entry = { ...summary, kind: "summary", author_role: "mediator" };
    record.transcript = [...record.transcript, entry];
  },

  toastShown(s, { key, params = {} }) {
    s.toast = { key, params };
  },
  toastHidden(s) {
    s.toast = null;
  },
  /** The office's views (#/dashboard, #/work): dashboard.js renders their content. */
  pageShown(s, { view }) {
    s.view = view;
  },
};

export const { dispatch, subscribe } = createStore(state, handlers);
