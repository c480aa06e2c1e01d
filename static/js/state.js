// The page's one state object. Only the handlers below change it, each for one event.
//
// The room itself (who is here, who waits, caucus, mutes, hands, lock, shown evidence) comes
// whole from the server's latest `room_view` (or `joined`): the page keeps no bookkeeping of its
// own about it, it only compares the new picture with the old one to announce what changed.

import { createStore } from "./shared.js";

/** Chat messages are limited to this many characters (after trimming) by the server. */
export const CHAT_LIMIT = 500;
/** How long a newly arrived lobby entry stays highlighted for the mediator. */
export const LOBBY_CUE_MS = 8000;
const ANNOUNCEMENTS_KEPT = 30;

export const state = {
  /** loading | refused | join | lobby | room | left | replaced | ended | dismissed */
  view: "loading",
  roomId: "",
  token: "",
  /** From GET /api/invitations/inspect: {room_id, role, name, expires_at, case_number, title}. */
  invitation: null,
  /** Why the page can't join: {code}. */
  refusal: null,
  /** The Socket.IO connection: idle | connecting | connected | reconnecting | closed. */
  connection: "idle",
  /** The peer connection: ICE and overall state; `failed` also when it never connected in time. */
  pcState: { ice: "new", connection: "new" },
  /** From a lost connection (socket or media) until back: the page says "重新连接中…". */
  reconnecting: false,
  name: "",

  // ---- the latest room_view ----
  self: null,
  room: null,
  /** The others in the room, in the server's order. */
  participants: [],
  /** The mediator's view of the parties waiting to be admitted; [] for parties. */
  lobby: [],

  // ---- the lobby (a party) ----
  /** A consent command on its way (the buttons wait). */
  consentSending: false,
  /** The party's own identity check: {status: idle | checking | match | mismatch |
   * too_many_attempts | no_phone_on_file | error, attemptsLeft, code}. */
  identityCheck: { status: "idle", attemptsLeft: null, code: null },

  // ---- chat ----
  chat: {
    /** Stored messages (each acked or received), ordered by id. */
    messages: [],
    /** Sent but not acked yet: {client_id, text, at}; resent after a reconnect. */
    outbox: [],
    /** Messages that arrived while the chat was not on screen. */
    unread: 0,
  },

  // ---- evidence ----
  evidence: {
    /** What the server lists for this participant, newest last. */
    list: [],
    /** Uploads of this page: {id, name, size, loaded, total, code,
     * status: uploading | done | failed}. */
    uploads: [],
  },
  /** The mediator's own look at a file (not shown to the others), or null. */
  preview: null,
  /** The in-page viewer's file: {id, kind, url, filename, code,
   * status: loading | ready | error}. */
  viewer: null,
  /** The viewer folded away by this person (the mediator still shows it). */
  viewerCollapsed: false,

  // ---- layout ----
  /** Desktop width: the side panel is a column; otherwise a drawer. */
  wide: false,
  /** Which side panel: people | chat | evidence. */
  panel: "chat",
  drawerOpen: false,
  /** An open dialog: {kind: reject | remove | end, participantId, name}. */
  dialog: null,

  // ---- the mediator ----
  /** A start/stop recording command on its way (the buttons wait), and the last refusal in
   * words: {code, key, params}. Whether the session is recorded is `room.recording`. */
  recordingCommand: { busy: false, error: null },
  /** Screen share: whether this page can (getDisplayMedia) and does share. */
  screen: { supported: false, sharing: false },
  /** Lobby ids that arrived in the last LOBBY_CUE_MS (highlighted); `cue` counts arrivals. */
  lobbyNew: [],
  lobbyCue: 0,

  /** Why the mediator turned this party away: {kind: rejected | removed, reason}. */
  dismissal: null,
  /** What the live regions say: [{seq, key, params, paramKeys, assertive}], newest last. */
  announcements: [],

  /** What we publish: the tracks live in main.js; here only whether each is on. */
  local: { audio: false, video: false, starting: false, errors: {} },
  devices: { cameras: [], mics: [], cameraId: "", micId: "" },
  /** participant id → {framesDecoded, audioEnergy, screenFramesDecoded}, polled about once a
   * second from getStats. */
  remote: {},
  /** A passing message in the room view: {key, params}. */
  notice: null,
  /** The settlement agreement as the server last sent it (the `agreement` fact): `view` (null
   * before one is started), `pdfUrl` once the sealed PDF is made, and `previousText`, the text
   * of the version before (the page marks what changed). */
  agreement: { view: null, pdfUrl: null, previousText: null, received: false },
  audioBlocked: false,
};

let announceSeq = 0;

function announce(s, key, { params = {}, paramKeys = {}, assertive = false } = {}) {
  announceSeq += 1;
  s.announcements.push({ seq: announceSeq, key, params, paramKeys, assertive });
  if (s.announcements.length > ANNOUNCEMENTS_KEPT) s.announcements.shift();
}

/** The call on this page is over (left, replaced, refused, closed): nothing remote stays. */
function callEnded(s) {
  s.participants = [];
  s.lobby = [];
  s.remote = {};
  s.pcState = { ice: "closed", connection: "closed" };
  s.reconnecting = false;
  s.preview = null;
  s.dialog = null;
  s.screen = { ...s.screen, sharing: false };
}

/** The party left out of a running caucus, by role (the one the mediator is *not* with). */
export function excludedRole(room) {
  const with_ = room?.caucus?.role;
  if (!with_) return null;
  return with_ === "consumer" ? "business" : "consumer";
}

/** Whether the viewer receives nothing of `p` just now because of the caucus (either side). */
export function cutByCaucus(s, p) {
  const out = excludedRole(s.room);
  if (!out) return false;
  return s.self?.role === out || Boolean(s.self?.excluded) || p.role === out || Boolean(p.excluded);
}

export function isMediator(s) {
  return (s.self?.role ?? s.invitation?.role) === "mediator";
}

export function chatVisible(s) {
  return s.view === "room" && s.panel === "chat" && (s.wide || s.drawerOpen);
}

/** Announce what changed between two room pictures (`before` null at a first `joined`). */
function announceChanges(s, before, after) {
  const me0 = before?.self;
  const me = after.self;
  if (me0 && me0.stage !== "room" && me.stage === "room") {
    announce(s, "announce.admitted");
  } else if (me.stage === "lobby" && me.admitted && me0 && !me0.admitted) {
    announce(s, "announce.admitted.consent");
  }
  for (const kind of ["audio", "video"]) {
    const key = `${kind}_blocked`;
    if (Boolean(me0?.[key]) !== Boolean(me[key]) && (me0 || me[key])) {
      announce(s, `announce.${me[key] ? "blocked" : "unblocked"}.${kind}`);
    }
  }
  if (me0?.hand_raised && !me.hand_raised) announce(s, "announce.hand.lowered");

  // A caucus that pauses (or ends and resumes) the recording is said in one sentence: the
  // live region reads only the newest announcement of each kind.
  let recording = recordingChange(before, after);
  const caucus0 = before?.room?.caucus ?? null;
  const caucus = after.room?.caucus ?? null;
  if (caucus && caucus.role !== caucus0?.role) {
    if (me.excluded) {
      announce(s, "announce.caucus.excluded", { assertive: true });
    } else {
      const paused = recording === "paused";
      announce(s, paused ? "announce.caucus.started.paused" : "announce.caucus.started", {
        paramKeys: { role: `role.${caucus.role}` },
      });
      if (paused) recording = null;
    }
  } else if (!caucus && caucus0) {
    const resumed = recording === "resumed";
    announce(s, resumed ? "announce.caucus.ended.resumed" : "announce.caucus.ended");
    if (resumed) recording = null;
  }
  if (recording) {
    // Being recorded from now on is worth interrupting for; the rest can wait their turn.
    const assertive = recording === "started" || recording === "on";
    announce(s, `announce.recording.${recording}`, { assertive });
  }
  const failed0 = new Set(before?.room?.recording?.failed ?? []);
  const failed = (after.room?.recording?.failed ?? []).filter((id) => !failed0.has(id));
  if (failed.length) {
    const names = failed.map((id) => participantById(after, id)?.name ?? id).join("、");
    announce(s, "announce.recording.failed", { params: { names }, assertive: true });
  }

  const shown0 = before?.room?.evidence ?? null;
  const shown = after.room?.evidence ?? null;
  if (shown && shown.id !== shown0?.id) {
    announce(s, "announce.evidence.shown", { params: { name: shown.filename ?? "" } });
  } else if (!shown && shown0) {
    announce(s, "announce.evidence.hidden");
  }
  if (before?.room && Boolean(before.room.locked) !== Boolean(after.room?.locked)) {
    announce(s, after.room.locked ? "announce.room.locked" : "announce.room.unlocked");
  }
  if (before?.room && !before.room.screen_share && after.room?.screen_share) {
    announce(s, "announce.screen.started");
  }

  const waiting0 = new Set((before?.lobby ?? []).map((p) => p.id));
  const arrived = (after.lobby ?? []).filter((p) => !waiting0.has(p.id) && p.connected !== false);
  for (const p of arrived) {
    announce(s, "announce.lobby.arrived", {
      params: { name: p.name },
      paramKeys: { role: `role.${p.role}` },
    });
  }
  if (arrived.length) {
    s.lobbyCue += 1;
    s.lobbyNew = [...new Set([...s.lobbyNew, ...arrived.map((p) => p.id)])];
  }
}

/** How the recording changed between two room pictures: on (first seen while it runs),
 * started, stopped, paused, resumed, or null. */
function recordingChange(before, after) {
  const was = before?.room?.recording ?? null;
  const now = after.room?.recording ?? null;
  if (now && !was) return before?.room ? "started" : "on";
  if (!now) return was ? "stopped" : null;
  if (now.paused !== was.paused) return now.paused ? "paused" : "resumed";
  return null;
}

/** The participant of a room picture with this id (self, in the room or waiting), or null. */
export function participantById(view, id) {
  const everyone = [view.self, ...(view.participants ?? []), ...(view.lobby ?? [])];
  return everyone.find((p) => p?.id === id) ?? null;
}

/** What a refused start/stop recording says: {key, params}. The server's message (English, for
 * developers) names who has not consented; the rest of it is not shown. */
export function recordingRefusal(code, message = "") {
  if (code === "consent_missing") {
    const unconsented = /consented: (.+)$/.exec(message);
    if (unconsented) return { key: "recording.error.consent", params: { names: unconsented[1] } };
    return { key: "recording.error.consent.unnamed" };
  }
  if (code === "already_recording") return { key: "recording.error.already" };
  if (code === "not_recording") return { key: "recording.error.not_recording" };
  if (code === "recording_unavailable") return { key: "recording.error.no_record" };
  if (code === "invalid_state") return { key: "error.invalid_state" };
  if (code === "forbidden") return { key: "recording.error.forbidden" };
  if (["not_connected", "ack_timeout", "network"].includes(code)) {
    return { key: "recording.error.network" };
  }
  return { key: "recording.error.other", params: { code } };
}

/** Take the server's picture of the room; returns the previous one. */
function applyView(s, payload, { announceAll }) {
  const before = s.self ? { self: s.self, room: s.room, lobby: s.lobby } : null;
  s.self = payload.self;
  s.room = payload.room ?? s.room;
  s.participants = (payload.participants ?? []).filter((p) => p.id !== payload.self?.id);
  s.lobby = payload.lobby ?? [];
  // A reconnect brings the same room back: only announce what really changed.
  announceChanges(s, announceAll ? null : before, s);
  if (["lobby", "room"].includes(s.view)) {
    s.view = s.self?.stage === "room" ? "room" : "lobby";
  }
  if (s.view === "room") s.identityCheck = { status: "idle", attemptsLeft: null, code: null };
  const present = new Set(s.participants.map((p) => p.id));
  for (const id of Object.keys(s.remote)) if (!present.has(id)) delete s.remote[id];
  s.lobbyNew = s.lobbyNew.filter((id) => s.lobby.some((p) => p.id === id));
  if (s.dialog && !s.lobby.concat(s.participants).some((p) => p.id === s.dialog.participantId)) {
    if (s.dialog.kind !== "end") s.dialog = null;
  }
}

function upsertMessage(s, message) {
  const list = s.chat.messages;
  if (list.some((m) => m.id === message.id)) return false;
  list.push(message);
  list.sort((a, b) => a.id - b.id);
  return true;
}

function upsertEvidence(s, evidence) {
  const index = s.evidence.list.findIndex((e) => e.id === evidence.id);
  if (index === -1) s.evidence.list.push(evidence);
  else s.evidence.list[index] = evidence;
}

/** Say what changed in the agreement (the newest line is what the live region reads). */
function announceAgreement(s, before, after, pdfBefore, pdfAfter) {
  const role = s.self?.role;
  if (!after) return;
  const signedRoles = (view) => new Set((view?.signatures ?? []).map((x) => x.role));
  const was = before && before.id === after.id ? before : null;
  if (!was) {
    if (after.status === "draft") announce(s, "announce.agreement.started");
    return;
  }
  if (after.status === "abandoned" && was.status !== "abandoned") {
    announce(s, "announce.agreement.abandoned");
  } else if (after.status === "sealed" && was.status !== "sealed") {
    announce(s, "announce.agreement.sealed", { assertive: true });
  } else if (after.version !== was.version) {
    const voided = signedRoles(was).has(role) && !signedRoles(after).has(role);
    if (voided) announce(s, "announce.agreement.voided", { assertive: true });
    else announce(s, "announce.agreement.updated", { params: { version: after.version } });
  } else {
    const signedBefore = signedRoles(was);
    for (const sig of after.signatures ?? []) {
      if (!signedBefore.has(sig.role)) {
        announce(s, "announce.agreement.signed", { paramKeys: { role: `role.${sig.role}` } });
      }
    }
  }
  if (pdfAfter && !pdfBefore) announce(s, "announce.agreement.pdf");
}

const handlers = {
  pageOpened(s, { roomId, token, name }) {
    s.roomId = roomId;
    s.token = token;
    s.name = name ?? "";
  },
  invitationLoaded(s, invitation) {
    s.invitation = invitation;
    s.name ||= invitation.name ?? "";
    s.refusal = null;
    s.view = "join";
    s.panel = invitation.role === "mediator" ? "people" : "chat";
  },
  refused(s, { code }) {
    callEnded(s);
    s.refusal = { code };
    s.view = code === "room_closed" ? "ended" : "refused";
  },
  nameEdited(s, { name }) {
    s.name = name;
  },
  localMediaStarting(s) {
    s.local.starting = true;
    s.local.errors = {};
  },
  localMediaChanged(s, { audio, video, errors }) {
    s.local.starting = false;
    if (audio !== undefined) s.local.audio = audio;
    if (video !== undefined) s.local.video = video;
    if (errors !== undefined) s.local.errors = errors;
  },
  devicesListed(s, { cameras, mics, cameraId, micId }) {
    s.devices = { cameras, mics, cameraId: cameraId ?? "", micId: micId ?? "" };
  },
  joinRequested(s, { name }) {
    s.name = name;
    // A party waits in the lobby until the server says otherwise (one who was admitted
    // earlier in this sitting goes straight back in: `joined` says so at once).
    const returning = s.self?.stage === "room";
    s.view = s.invitation?.role === "mediator" || returning ? "room" : "lobby";
    s.notice = null;
    s.participants = [];
    s.lobby = [];
    s.remote = {};
    s.dismissal = null;
    s.pcState = { ice: "new", connection: "new" };
  },
  socketConnecting(s) {
    s.connection = "connecting";
  },
  socketConnected(s) {
    s.connection = "connected";
  },
  socketReconnecting(s) {
    if (s.connection === "closed") return;
    s.connection = "reconnecting";
    if (["lobby", "room"].includes(s.view) && !s.reconnecting) {
      s.reconnecting = true;
      announce(s, "announce.reconnecting");
    }
  },
  socketClosed(s) {
    s.connection = "closed";
  },
  /** The page drops its media connection on purpose to get a fresh one (failed, offline). */
  reconnectStarted(s) {
    s.pcState = { ice: "new", connection: "new" };
    if (!s.reconnecting) {
      s.reconnecting = true;
      announce(s, "announce.reconnecting");
    }
  },
  joined(s, payload) {
    const first = !s.self;
    applyView(s, payload, { announceAll: first });
    s.chat.messages = [];
    for (const message of payload.chat ?? []) upsertMessage(s, message);
    s.remote = {};
    s.pcState = { ice: "new", connection: "new" };
    // In the lobby nothing more is needed; in the room, media must connect first.
    if (s.reconnecting && s.self.stage !== "room") {
      s.reconnecting = false;
      announce(s, "announce.reconnected");
    }
  },
  roomView(s, payload) {
    if (!s.self) return; // before `joined` (or after the call ended): not ours to show
    applyView(s, payload, { announceAll: false });
  },
  pcStateChanged(s, { ice, connection }) {
    s.pcState = { ice, connection };
    if (connection === "connected" && s.reconnecting) {
      s.reconnecting = false;
      announce(s, "announce.reconnected");
    }
  },
  pcTimedOut(s) {
    s.pcState = { ...s.pcState, connection: "failed" };
    s.reconnecting = false;
  },
  statsPolled(s, { remote }) {
    s.remote = remote;
  },

  // ---- lobby ----
  consentSending(s, { sending }) {
    s.consentSending = sending;
  },
  identityChecking(s) {
    s.identityCheck = { ...s.identityCheck, status: "checking", code: null };
  },
  identityChecked(s, { match, attemptsLeft }) {
    s.identityCheck = {
      status: match ? "match" : attemptsLeft === 0 ? "too_many_attempts" : "mismatch",
      attemptsLeft: attemptsLeft ?? null,
      code: null,
    };
  },
  identityFailed(s, { code }) {
    if (code === "identity_format") {
      // Not sent: the input was not four digits.
      s.identityCheck = { ...s.identityCheck, status: "format", code: null };
      return;
    }
    const known = ["too_many_attempts", "no_phone_on_file"].includes(code);
    s.identityCheck = { status: known ? code : "error", attemptsLeft: known ? 0 : null, code };
  },

  // ---- chat ----
  chatQueued(s, { clientId, text }) {
    s.chat.outbox.push({ client_id: clientId, text, at: Date.now() });
  },
  chatAcked(s, { clientId, message }) {
    s.chat.outbox = s.chat.outbox.filter((m) => m.client_id !== clientId);
    if (message) upsertMessage(s, message);
  },
  /** The server refused it for good (too long, not admitted…): it won't be resent. */
  chatRefused(s, { clientId, code }) {
    s.chat.outbox = s.chat.outbox.filter((m) => m.client_id !== clientId);
    s.notice = { key: "chat.refused", params: { code } };
  },
  agreementReceived(s, { agreement, pdf_url }) {
    const before = s.agreement.view;
    const after = agreement ?? null;
    let previousText = s.agreement.previousText;
    if (!after || !before || before.id !== after.id) previousText = null;
    else if (before.version !== after.version) previousText = before.text;
    if (s.agreement.received) {
      announceAgreement(s, before, after, s.agreement.pdfUrl, pdf_url ?? null);
    }
    s.agreement = { view: after, pdfUrl: pdf_url ?? null, previousText, received: true };
  },
  chatReceived(s, { message }) {
    if (!message || !upsertMessage(s, message)) return;
    if (message.author_id !== s.self?.id && !chatVisible(s)) s.chat.unread += 1;
  },

  // ---- evidence ----
  evidenceListed(s, { list }) {
    for (const evidence of list) upsertEvidence(s, evidence);
    s.evidence.list.sort((a, b) => a.id - b.id);
  },
  evidenceAdded(s, { evidence }) {
    if (evidence) upsertEvidence(s, evidence);
  },
  uploadStarted(s, { id, name, size }) {
    s.evidence.uploads.push({ id, name, size, loaded: 0, total: size, status: "uploading" });
  },
  uploadProgress(s, { id, loaded, total }) {
    const upload = s.evidence.uploads.find((u) => u.id === id);
    if (upload) Object.assign(upload, { loaded, total });
  },
  uploadDone(s, { id, evidence }) {
    const upload = s.evidence.uploads.find((u) => u.id === id);
    if (upload) Object.assign(upload, { status: "done", loaded: upload.total });
    if (evidence) upsertEvidence(s, evidence);
  },
  uploadFailed(s, { id, code }) {
    const upload = s.evidence.uploads.find((u) => u.id === id);
    if (upload) Object.assign(upload, { status: "failed", code });
  },
  uploadDismissed(s, { id }) {
    s.evidence.uploads = s.evidence.uploads.filter((u) => u.id !== id);
  },
  previewChosen(s, { evidence }) {
    s.preview = evidence;
    s.viewerCollapsed = false;
  },
  viewerLoading(s, { evidence }) {
    s.viewer = {
      id: evidence.id,
      status: "loading",
      kind: null,
      url: null,
      filename: evidence.filename,
      code: null,
    };
    s.viewerCollapsed = false;
  },
  viewerReady(s, { id, kind, url }) {
    if (s.viewer?.id !== id) return;
    Object.assign(s.viewer, { status: "ready", kind, url });
  },
  viewerFailed(s, { id, code }) {
    if (s.viewer?.id !== id) return;
    Object.assign(s.viewer, { status: "error", code });
  },
  viewerCleared(s) {
    s.viewer = null;
  },
  viewerCollapsed(s, { collapsed }) {
    s.viewerCollapsed = collapsed;
  },

  // ---- layout ----
  layoutChanged(s, { wide }) {
    s.wide = wide;
    if (chatVisible(s)) s.chat.unread = 0;
  },
  panelChosen(s, { panel }) {
    s.panel = panel;
    if (chatVisible(s)) s.chat.unread = 0;
  },
  drawerToggled(s, { open, panel }) {
    s.drawerOpen = open;
    if (panel) s.panel = panel;
    if (chatVisible(s)) s.chat.unread = 0;
  },
  dialogOpened(s, dialog) {
    s.dialog = dialog;
  },
  dialogClosed(s) {
    s.dialog = null;
  },

  // ---- the mediator ----
  recordingCommandSent(s) {
    s.recordingCommand = { busy: true, error: null };
  },
  recordingCommandDone(s) {
    s.recordingCommand = { busy: false, error: null };
  },
  recordingCommandRefused(s, { code, message }) {
    s.recordingCommand = { busy: false, error: { code, ...recordingRefusal(code, message) } };
  },
  screenSupported(s, { supported }) {
    s.screen = { ...s.screen, supported };
  },
  screenShareChanged(s, { sharing }) {
    s.screen = { ...s.screen, sharing };
  },
  lobbyCueCleared(s, { ids }) {
    s.lobbyNew = s.lobbyNew.filter((id) => !ids.includes(id));
  },

  // ---- the end of the call ----
  dismissed(s, { kind, reason }) {
    callEnded(s);
    s.dismissal = { kind, reason: reason ?? "" };
    s.view = "dismissed";
    announce(s, `announce.dismissed.${kind === "removed" ? "removed" : "rejected"}`, {
      assertive: true,
    });
  },
  leftRoom(s) {
    callEnded(s);
    s.view = "left";
  },
  replaced(s) {
    callEnded(s);
    s.view = "replaced";
  },
  roomClosed(s) {
    callEnded(s);
    s.view = "ended";
    announce(s, "announce.ended", { assertive: true });
  },
  noticeShown(s, notice) {
    s.notice = notice;
  },
  noticeDismissed(s) {
    s.notice = null;
  },
  announced(s, { key, params, assertive }) {
    announce(s, key, { params, assertive });
  },
  audioBlockedChanged(s, { blocked }) {
    s.audioBlocked = blocked;
  },
};

export const { dispatch, subscribe } = createStore(state, handlers);

/** What the room screen shows as the connection state: one of the `conn.*` messages. */
export function connectionWord(s) {
  if (s.connection === "reconnecting" || s.reconnecting) return "reconnecting";
  if (s.connection === "closed" || s.connection === "idle") return "idle";
  if (s.connection === "connecting") return "connecting";
  if (s.view === "lobby") return "connected";
  switch (s.pcState.connection) {
    case "connected":
      return "connected";
    case "disconnected":
      return "reconnecting";
    case "failed":
      return "failed";
    default:
      return "connecting";
  }
}
