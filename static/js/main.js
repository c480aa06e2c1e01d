// Wiring: the page's life from the invitation check to leaving. Events in, state out.

import { agreementSnapshot, initAgreement, renderAgreement } from "./agreement.js";
import {
  MAX_EVIDENCE_BYTES,
  fetchEvidenceBlob,
  listEvidence,
  uploadEvidence,
  viewerKind,
} from "./evidence.js";
import { hasMessage, lang, onLangChange, t, toggleLang, translateStatic } from "./i18n.js";
import { PeerSession, acquireMedia, listDevices } from "./media.js";
import { applyZoom, panelDom, zoom } from "./panels.js";
import { REFUSAL_CODES, createSignaling } from "./signaling.js";
import { CHAT_LIMIT, LOBBY_CUE_MS, dispatch, state, subscribe } from "./state.js";
import { tickTimers } from "./ui.js";
import { dom, render, tileStates, tileVideoWidths } from "./views.js";

const STATS_INTERVAL_MS = 1000;
/** How long a peer connection may take to connect before the page tries a fresh one. */
const CONNECT_LIMIT_MS = 15_000;
/** A peer connection `disconnected` this long is given up for a fresh one (it may never recover
 * on its own after a network change). */
const DISCONNECTED_GRACE_MS = 3000;
/** Fresh connections tried in a row without success before the page asks the person. */
const AUTO_RECONNECTS = 3;
const NAME_KEY = "mediation-room.name.";
const WIDE = "(min-width: 900px)";
const UPLOAD_DONE_SHOWN_MS = 6000;

/** Our microphone, camera and (the mediator's) shared screen tracks. */
const tracks = { audio: null, video: null, screen: null };
const localStream = new MediaStream();
let screenStream = null;

let signaling = null;
/** The peer connection of the current `joined`, made at its first `offer`. */
let session = null;
let iceServers = [];
/** Set while the person means to be in the room: a (re)connect then sends `join`. */
let inRoom = false;
let statsTimer = null;
let connectTimer = null;
let disconnectedTimer = null;
let autoReconnects = 0;

const media = {
  localStream: () => localStream,
  localScreen: () => screenStream,
  remoteStream: (id) => session?.streamFor(id) ?? null,
  remoteScreen: (id) => session?.screenFor(id) ?? null,
};
const hooks = {
  rerender: () => render(state, media, hooks),
  autoplayBlocked: () => dispatch("audioBlockedChanged", { blocked: true }),
  chatSeen: () => dispatch("panelChosen", { panel: state.panel }),
};
subscribe(() => {
  render(state, media, hooks);
  renderAgreement(state);
  effects();
});

// ---- local media ---------------------------------------------------------------------------

function setLocalTrack(kind, track) {
  const old = tracks[kind];
  if (old && old !== track) {
    old.stop();
    localStream.removeTrack(old);
  }
  tracks[kind] = track;
  if (track && !localStream.getTrackById(track.id)) localStream.addTrack(track);
  session?.setLocalTrack(kind, track).catch((err) => console.warn("replaceTrack:", err));
}

function stopLocalMedia() {
  for (const kind of ["audio", "video"]) setLocalTrack(kind, null);
  dispatch("localMediaChanged", { audio: false, video: false });
}

async function refreshDevices() {
  const { cameras, mics } = await listDevices();
  dispatch("devicesListed", {
    cameras,
    mics,
    cameraId: tracks.video?.getSettings().deviceId ?? state.devices.cameraId,
    micId: tracks.audio?.getSettings().deviceId ?? state.devices.micId,
  });
}

/** Open the devices asked for (with the chosen device ids); errors end up in state. */
async function startLocalMedia({ audio, video }) {
  dispatch("localMediaStarting");
  const result = await acquireMedia({
    audio,
    video,
    micId: state.devices.micId,
    cameraId: state.devices.cameraId,
  });
  for (const kind of ["audio", "video"]) {
    if (result.tracks[kind]) setLocalTrack(kind, result.tracks[kind]);
  }
  dispatch("localMediaChanged", {
    audio: Boolean(tracks.audio),
    video: Boolean(tracks.video),
    errors: result.errors,
  });
  await refreshDevices();
}

async function chooseDevice(kind, deviceId) {
  const ids = kind === "video" ? { cameraId: deviceId } : { micId: deviceId };
  dispatch("devicesListed", { ...state.devices, ...ids });
  await startLocalMedia({ [kind]: true });
}

// ---- signaling -----------------------------------------------------------------------------

function ensureSignaling() {
  signaling ??= createSignaling({
    token: state.token,
    roomId: state.roomId,
    handlers: {
      connecting: () => dispatch("socketConnecting"),
      connected() {
        dispatch("socketConnected");
        // A reconnect is a new connection to the server: join again; it sends a fresh offer.
        if (inRoom) sendJoin();
      },
      reconnecting: () => {
        if (inRoom) dispatch("socketReconnecting");
      },
      closed: () => dispatch("socketClosed"),
      joined(payload) {
        iceServers = payload.ice_servers ?? [];
        // A new join is a new peer connection (made at its first offer).
        closeSession();
        dispatch("joined", payload);
        // A new connection: what waited for it (unacked chat, the evidence list) goes now if
        // this participant is in the room (see effects()).
        seen.stageRoom = false;
      },
      offer(offer) {
        if (!inRoom) return;
        if (!session) startSession();
        const current = session;
        current.handleOffer(offer).catch((err) => {
          // A newer offer or a reconnect (with its own fresh offer) supersedes this one.
          if (current !== session || ["stale_answer", "not_connected"].includes(err?.code)) return;
          console.error("answering offer", offer.revision, err);
          reconnectMedia("answer");
        });
      },
      room_view: (view) => dispatch("roomView", view),
      chat: (payload) => dispatch("chatReceived", payload),
      evidence_added: (payload) => dispatch("evidenceAdded", payload),
      agreement: (payload) => dispatch("agreementReceived", payload),
      dismissed(payload) {
        // The link is revoked: no reconnecting, the reason stays on screen.
        endCall();
        dispatch("dismissed", payload);
      },
      replaced() {
        endCall();
        dispatch("replaced");
      },
      error: handleError,
    },
  });
  return signaling;
}

/** Commands whose callers show their own result (the `error` event would say it twice). */
const SELF_REPORTING = new Set([
  "end_sitting",
  "verify_identity",
  "chat",
  "answer",
  "ice_candidate",
  "start_recording",
  "stop_recording",
  "agreement_start",
  "agreement_update",
  "agreement_sign",
  "agreement_abandon",
]);
const KNOWN_ERRORS = new Set([
  "forbidden",
  "participant_not_found",
  "invalid_state",
  "not_admitted",
  "evidence_not_found",
]);

/** The one place every server error lands (error events and connect-time refusals). */
function handleError(body) {
  const code = body.code;
  console.warn("server error:", body);
  if (state.view === "dismissed") return; // the reason stays on screen
  if (body.refused || REFUSAL_CODES.has(code)) {
    endCall();
    dispatch("refused", { code });
    return;
  }
  switch (code) {
    case "stale_answer": // a newer offer is on its way
    case "already_joined":
    case "not_joined": // a command raced a reconnect; the join that follows fixes it
      return;
    case "room_closed":
      endCall();
      dispatch("roomClosed");
      return;
    case "room_locked":
      endCall();
      dispatch("refused", { code });
      return;
    case "negotiation_failed":
      // The server could not use our answer: this peer connection won't carry media.
      reconnectMedia("negotiation_failed");
      return;
    case "room_elsewhere":
      // Another server holds the room now (several servers): connect again, and reach it.
      reconnectMedia("room_elsewhere");
      return;
    default:
      if (body.event === "join") {
        // Not in: nothing else on this page can work. Say so; the person may try again.
        endCall();
        dispatch("refused", { code });
        return;
      }
      if (SELF_REPORTING.has(body.event)) return;
      dispatch("noticeShown", {
        key: KNOWN_ERRORS.has(code) ? `error.${code}` : "notice.server",
        params: { code },
      });
  }
}

function sendJoin() {
  signaling
    .join({ name: state.name, audio: state.local.audio, video: state.local.video })
    .catch((err) => console.warn("join:", err));
}

function closeSession() {
  clearTimeout(connectTimer);
  clearTimeout(disconnectedTimer);
  clearInterval(statsTimer);
  session?.close();
  session = null;
}

function startSession() {
  closeSession();
  session = new PeerSession({
    iceServers,
    signaling,
    localTracks: () => tracks,
    onState: onPeerState,
    onRemoteStreams: hooks.rerender,
  });
  const started = session;
  connectTimer = setTimeout(() => {
    if (session === started && started.pc.connectionState !== "connected") {
      reconnectMedia("timeout");
    }
  }, CONNECT_LIMIT_MS);
  statsTimer = setInterval(pollStats, STATS_INTERVAL_MS);
}

function onPeerState(pcState) {
  clearTimeout(disconnectedTimer);
  if (pcState.connection === "connected") {
    clearTimeout(connectTimer);
    autoReconnects = 0;
  } else if (pcState.connection === "disconnected") {
    const current = session;
    disconnectedTimer = setTimeout(() => {
      if (session === current) reconnectMedia("disconnected");
    }, DISCONNECTED_GRACE_MS);
  } else if (pcState.connection === "failed") {
    reconnectMedia("failed");
  }
  dispatch("pcStateChanged", pcState);
}

/**
 * Get a fresh media path now: drop the peer connection and the socket and join again (the
 * server answers a `join` with a new offer; an admitted party goes straight back in).
 */
function reconnectMedia(reason) {
  if (!inRoom || !signaling) return;
  closeSession();
  if (autoReconnects >= AUTO_RECONNECTS && reason !== "manual") {
    // Tried enough on our own: say so and let the person retry.
    dispatch("pcTimedOut");
    return;
  }
  autoReconnects += 1;
  console.info("reconnecting:", reason);
  dispatch("reconnectStarted");
  signaling.disconnect();
  signaling.connect();
}

function networkChanged() {
  if (!inRoom) return;
  // One reconnect for the burst of events a network switch causes.
  clearTimeout(networkChanged.timer);
  networkChanged.timer = setTimeout(() => {
    autoReconnects = 0;
    reconnectMedia("network");
  }, 300);
}

async function pollStats() {
  const current = session;
  if (!current) return;
  try {
    const remote = await current.remoteStats();
    if (current === session) dispatch("statsPolled", { remote });
  } catch (err) {
    console.warn("getStats:", err);
  }
}

/** Stop the call on this page (media, peer connection, socket), keeping the page. */
function endCall() {
  inRoom = false;
  closeSession();
  signaling?.disconnect();
  stopScreenShare({ tell: false });
  stopLocalMedia();
}

// ---- effects of state changes (sound, fetching, timers) ----------------------------------

const seen = { stageRoom: false, lobbyCue: 0, shownId: null, viewerUrl: null };
let audioContext = null;

/** Called in a click (a user gesture), so the mediator's page may play the lobby cue later. */
function primeAudio() {
  try {
    audioContext ??= new AudioContext();
    audioContext.resume().catch(() => {});
  } catch {
    // No WebAudio: the visual cue remains.
  }
}

/** Two short tones: someone is waiting in the lobby. */
function beep() {
  if (!audioContext) return;
  const now = audioContext.currentTime;
  for (const [freq, at] of [
    [880, 0],
    [1175, 0.18],
  ]) {
    const osc = audioContext.createOscillator();
    const gain = audioContext.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.16);
    osc.connect(gain).connect(audioContext.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.18);
  }
}

function effects() {
  const inSession = state.view === "room" && state.self?.stage === "room";
  if (inSession && !seen.stageRoom) {
    // Entered the room (admitted, or joined again after a reconnect): what waited goes now.
    loadEvidence();
    flushOutbox();
  }
  seen.stageRoom = inSession;

  if (state.lobbyCue !== seen.lobbyCue) {
    seen.lobbyCue = state.lobbyCue;
    beep();
    const ids = [...state.lobbyNew];
    setTimeout(() => dispatch("lobbyCueCleared", { ids }), LOBBY_CUE_MS);
  }

  const shown = inSession ? (state.preview ?? state.room?.evidence ?? null) : null;
  if ((shown?.id ?? null) !== seen.shownId) {
    seen.shownId = shown?.id ?? null;
    loadViewer(shown);
  }
}

async function loadViewer(evidence) {
  if (seen.viewerUrl) URL.revokeObjectURL(seen.viewerUrl);
  seen.viewerUrl = null;
  if (!evidence) {
    dispatch("viewerCleared");
    return;
  }
  dispatch("viewerLoading", { evidence });
  const url =
    evidence.url ?? `/api/rooms/${encodeURIComponent(state.roomId)}/evidence/${evidence.id}`;
  try {
    const blob = await fetchEvidenceBlob({ url, token: state.token });
    if (seen.shownId !== evidence.id) return;
    const type = evidence.content_type || blob.type;
    // The blob keeps the stored type, so the browser's PDF viewer and <img> recognise it.
    const typed = blob.type === type ? blob : new Blob([blob], { type });
    seen.viewerUrl = URL.createObjectURL(typed);
    dispatch("viewerReady", { id: evidence.id, kind: viewerKind(type), url: seen.viewerUrl });
  } catch (err) {
    console.warn("evidence:", err);
    dispatch("viewerFailed", { id: evidence.id, code: err.code ?? "network" });
  }
}

// ---- chat ----------------------------------------------------------------------------------

/** Client ids of messages on their way (sent, not acked). */
const sending = new Set();

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function sendChat(text) {
  const clientId = newClientId();
  dispatch("chatQueued", { clientId, text });
  deliver({ client_id: clientId, text });
}

/** Send one queued message; kept queued (and resent after a reconnect) until acked. */
function deliver(entry) {
  if (!signaling?.connected || state.self?.stage !== "room" || sending.has(entry.client_id)) {
    return;
  }
  sending.add(entry.client_id);
  signaling
    .chat(entry.text, entry.client_id)
    .then((ack) => dispatch("chatAcked", { clientId: entry.client_id, message: ack.message }))
    .catch((err) => {
      if (["not_connected", "not_joined", "not_admitted"].includes(err.code)) return; // resent
      if (err.code === "ack_timeout") {
        // Perhaps lost on the way: the same client_id again is harmless (the server dedups).
        setTimeout(() => deliver(entry), 2000);
        return;
      }
      dispatch("chatRefused", { clientId: entry.client_id, code: err.code });
    })
    .finally(() => sending.delete(entry.client_id));
}

function flushOutbox() {
  for (const entry of state.chat.outbox) deliver(entry);
}

function submitChat(event) {
  event.preventDefault();
  const input = panelDom.chatInput;
  const text = input.value.trim();
  if (!text) return;
  if ([...text].length > CHAT_LIMIT) {
    dispatch("noticeShown", { key: "chat.too_long", params: { max: CHAT_LIMIT } });
    return;
  }
  input.value = "";
  sendChat(text);
}

// ---- evidence ------------------------------------------------------------------------------

async function loadEvidence() {
  try {
    const list = await listEvidence({ roomId: state.roomId, token: state.token });
    dispatch("evidenceListed", { list });
  } catch (err) {
    console.warn("evidence list:", err);
  }
}

let uploadSeq = 0;

function uploadFile(file) {
  uploadSeq += 1;
  const id = `u${uploadSeq}`;
  dispatch("uploadStarted", { id, name: file.name || t("upload.unnamed"), size: file.size });
  if (file.size > MAX_EVIDENCE_BYTES) {
    dispatch("uploadFailed", { id, code: "evidence_too_large" });
    return;
  }
  uploadEvidence({
    roomId: state.roomId,
    token: state.token,
    file,
    onProgress: (loaded, total) => dispatch("uploadProgress", { id, loaded, total }),
  })
    .then((evidence) => {
      dispatch("uploadDone", { id, evidence });
      dispatch("announced", { key: "announce.upload.done", params: { name: evidence.filename } });
      setTimeout(() => dispatch("uploadDismissed", { id }), UPLOAD_DONE_SHOWN_MS);
    })
    .catch((err) => dispatch("uploadFailed", { id, code: err.code ?? "network" }));
}

function filesChosen(event) {
  for (const file of event.target.files ?? []) uploadFile(file);
  event.target.value = "";
}

// ---- screen share (the mediator, desktop) --------------------------------------------------

async function startScreenShare() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err?.name !== "NotAllowedError" && err?.name !== "AbortError") {
      dispatch("noticeShown", { key: "screen.failed" });
    }
    return;
  }
  const track = stream.getVideoTracks()[0];
  if (!track) return;
  tracks.screen = track;
  screenStream = new MediaStream([track]);
  // The browser's own "stop sharing" bar ends the track.
  track.addEventListener("ended", () => stopScreenShare());
  await session?.setLocalTrack("screen", track).catch((err) => console.warn("screen:", err));
  dispatch("screenShareChanged", { sharing: true });
  signaling?.setScreenShare(true).catch((err) => console.warn("set_screen_share:", err));
}

function stopScreenShare({ tell = true } = {}) {
  const track = tracks.screen;
  if (!track) return;
  tracks.screen = null;
  screenStream = null;
  track.stop();
  session?.setLocalTrack("screen", null).catch(() => {});
  dispatch("screenShareChanged", { sharing: false });
  if (tell) signaling?.setScreenShare(false).catch((err) => console.warn("set_screen_share:", err));
}

// ---- user actions --------------------------------------------------------------------------

function confirmedName() {
  const name = dom.nameInput.value.trim();
  const length = [...name].length;
  const ok = length >= 1 && length <= 40;
  dom.nameError.hidden = ok;
  return ok ? name : null;
}

function enterRoom(name) {
  try {
    sessionStorage.setItem(NAME_KEY + state.roomId, name);
  } catch {
    // Not remembered across a reload; nothing else changes.
  }
  if (state.invitation?.role === "mediator") primeAudio();
  inRoom = true;
  autoReconnects = 0;
  dispatch("joinRequested", { name });
  const sig = ensureSignaling();
  if (sig.connected) sendJoin();
  else sig.connect();
}

function join({ withMedia }) {
  const name = confirmedName();
  if (name === null) {
    dom.nameInput.focus();
    return;
  }
  if (!withMedia) stopLocalMedia();
  enterRoom(name);
}

/** Back into the room after leaving or being replaced, with the devices that were on. */
async function rejoin(wanted) {
  await startLocalMedia(wanted);
  enterRoom(state.name);
}

let wantedOnLeave = { audio: true, video: true };

async function leave() {
  wantedOnLeave = { audio: state.local.audio, video: state.local.video };
  try {
    await signaling?.leave();
  } catch (err) {
    console.warn("leave:", err);
  }
  endCall();
  dispatch("leftRoom");
}

function sendMediaState() {
  if (!signaling?.connected || !state.self) return;
  signaling
    .setMediaState({ audio: state.local.audio, video: state.local.video })
    .catch((err) => console.warn("set_media_state:", err));
}

/** A command whose refusal the `error` event already reports; here only logged. */
function run(promise, what) {
  promise.catch((err) => console.warn(`${what}:`, err.code ?? err));
}

async function toggle(kind) {
  if (state.self?.[`${kind}_blocked`]) {
    // Stopped by the mediator: this button asks for it back.
    if (!(state.self.unmute_requested ?? []).includes(kind)) {
      run(signaling.requestUnmute(kind), "request_unmute");
    }
    return;
  }
  if (state.local[kind]) {
    tracks[kind].enabled = false;
    dispatch("localMediaChanged", { [kind]: false });
    sendMediaState();
    return;
  }
  const track = tracks[kind];
  if (track && track.readyState === "live") {
    track.enabled = true;
  } else {
    // Never started (joined without it, or it ended): open it now; replaceTrack puts it on
    // the publish mid the server already negotiated, so no new offer is needed.
    const ids = { micId: state.devices.micId, cameraId: state.devices.cameraId };
    const result = await acquireMedia({ [kind]: true, ...ids });
    if (!result.tracks[kind]) {
      dispatch("noticeShown", {
        key: "notice.media_on_failed",
        // Keys, not text: the notice is translated when shown (the language may change).
        paramKeys: {
          device: `notice.device.${kind}`,
          reason: `media.${result.errors[kind] ?? "failed"}`,
        },
      });
      return;
    }
    setLocalTrack(kind, result.tracks[kind]);
  }
  dispatch("localMediaChanged", { [kind]: true });
  sendMediaState();
}

/** Start or stop recording; a refusal is said beside the buttons, in words. */
function recordingCommand(send) {
  if (!signaling || state.recordingCommand.busy) return;
  dispatch("recordingCommandSent");
  send()
    .then(() => dispatch("recordingCommandDone"))
    .catch((err) =>
      dispatch("recordingCommandRefused", {
        code: err.code ?? "network",
        message: err.body?.message ?? "",
      }),
    );
}

function startRecording() {
  const includeCaucus = panelDom.recordingIncludeCaucus.checked;
  recordingCommand(() => signaling.startRecording(includeCaucus));
}

function stopRecording() {
  recordingCommand(() => signaling.stopRecording());
}

function retryConnection() {
  autoReconnects = 0;
  reconnectMedia("manual");
}

function unblockAudio() {
  for (const video of document.querySelectorAll("video")) video.play().catch(() => {});
  dispatch("audioBlockedChanged", { blocked: false });
}

function consent(accept) {
  dispatch("consentSending", { sending: true });
  signaling
    .consent(accept)
    .catch((err) => console.warn("consent:", err.code ?? err))
    .finally(() => dispatch("consentSending", { sending: false }));
}

function checkIdentity(event) {
  event.preventDefault();
  const digits = dom.identityInput.value.trim();
  if (!/^[0-9]{4}$/.test(digits)) {
    dispatch("identityFailed", { code: "identity_format" });
    dom.identityInput.focus();
    return;
  }
  dispatch("identityChecking");
  signaling
    .verifyIdentity(digits)
    .then((ack) => {
      dispatch("identityChecked", { match: Boolean(ack.match), attemptsLeft: ack.attempts_left });
      const key = ack.match ? "identity.match" : "identity.mismatch";
      dispatch("announced", { key, params: { n: ack.attempts_left ?? "?" } });
    })
    .catch((err) => dispatch("identityFailed", { code: err.code ?? "network" }));
}

/** The button that opened the drawer: the focus goes back there when it closes. */
let drawerOpener = null;

function openDrawer(panel) {
  const open = !(state.drawerOpen && state.panel === panel);
  if (!open) {
    closeDrawer();
    return;
  }
  drawerOpener = document.activeElement;
  dispatch("drawerToggled", { open, panel });
  requestAnimationFrame(() => document.querySelector(`#tab-${panel}`)?.focus());
}

function closeDrawer() {
  const wasOpen = state.drawerOpen;
  dispatch("drawerToggled", { open: false });
  const back = drawerOpener;
  drawerOpener = null;
  if (wasOpen && back?.isConnected) requestAnimationFrame(() => back.focus());
}

function openDialog(kind, id) {
  const p = [...state.lobby, ...state.participants].find((x) => x.id === id);
  if (!p) return;
  panelDom.reasonInput.value = "";
  panelDom.reasonError.hidden = true;
  dispatch("dialogOpened", { kind, participantId: id, name: p.name, role: p.role });
}

/** Clicks on buttons in rendered lists (lobby, participants, evidence, uploads). */
function listAction(event) {
  const b = event.target.closest("button[data-action]");
  if (!b) return;
  const id = b.dataset.id;
  switch (b.dataset.action) {
    case "admit":
      run(signaling.admit(id), "admit");
      break;
    case "reject":
      openDialog("reject", id);
      break;
    case "remove":
      openDialog("remove", id);
      break;
    case "mute":
      run(signaling.muteParticipant(id, b.dataset.kind, b.dataset.muted === "true"), "mute");
      break;
    case "lower-hand":
      run(signaling.lowerHand(id), "lower_hand");
      break;
    case "preview": {
      const evidence = state.evidence.list.find((e) => String(e.id) === id);
      if (!evidence) break;
      dispatch("previewChosen", { evidence });
      if (!state.wide) closeDrawer();
      break;
    }
    case "show": {
      const showing = b.dataset.showing === "true";
      run(signaling.showEvidence(showing ? null : Number(id)), "show_evidence");
      // Showing it to everyone replaces the private look.
      dispatch("previewChosen", { evidence: null });
      if (!state.wide && !showing) closeDrawer();
      break;
    }
    case "dismiss-upload":
      dispatch("uploadDismissed", { id });
      break;
    default:
      break;
  }
}

function submitReason(event) {
  event.preventDefault();
  const d = state.dialog;
  if (!d) return;
  const reason = panelDom.reasonInput.value.trim();
  if (d.kind === "reject" && !reason) {
    panelDom.reasonError.hidden = false;
    panelDom.reasonInput.focus();
    return;
  }
  if (d.kind === "reject") run(signaling.reject(d.participantId, reason), "reject");
  else run(signaling.removeParticipant(d.participantId, reason), "remove_participant");
  dispatch("dialogClosed");
}

const endField = (form, testid) => form.querySelector(`[data-testid="${testid}"]`);

/** 调解终止 asks for its reason, 休会 for the next date; a change hides the old errors. */
function syncEndFields(form) {
  const outcome = form.querySelector('input[name="outcome"]:checked')?.value;
  endField(form, "end-reason-field").hidden = outcome !== "not_settled";
  endField(form, "end-next-field").hidden = outcome !== "adjourned";
  for (const testid of ["end-reason-error", "end-next-error", "end-error"]) {
    endField(form, testid).hidden = true;
  }
}

/** `2026-11-20T14:30` (a datetime-local value) with this device's UTC offset. */
function withOffset(local) {
  const minutes = -new Date(local).getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
}

async function submitEnd(event) {
  event.preventDefault();
  const form = event.target;
  const outcome = form.querySelector('input[name="outcome"]:checked')?.value ?? "undecided";
  const note = endField(form, "end-note").value.trim();
  const reason = endField(form, "end-reason").value.trim();
  const next = endField(form, "end-next").value;
  syncEndFields(form);
  if (outcome === "not_settled" && !reason) {
    endField(form, "end-reason-error").hidden = false;
    endField(form, "end-reason").focus();
    return;
  }
  if (outcome === "adjourned" && (!next || new Date(next) <= new Date())) {
    endField(form, "end-next-error").hidden = false;
    endField(form, "end-next").focus();
    return;
  }
  const extra = {};
  if (outcome === "not_settled") extra.reason = reason;
  if (outcome === "adjourned") extra.nextSittingAt = withOffset(next);
  try {
    await signaling.endSitting(outcome, note, extra);
    dispatch("dialogClosed");
  } catch (err) {
    // Refused (no sealed agreement, …): the dialog stays, with the reason in words.
    const key = `end.error.${err.code}`;
    const box = endField(form, "end-error");
    box.textContent = hasMessage(key) ? t(key) : t("end.error.other", { code: err.code });
    box.hidden = false;
  }
}

function zoomBy(factor) {
  zoom.scale = Math.min(6, Math.max(1, zoom.scale * factor));
  if (zoom.scale === 1) Object.assign(zoom, { x: 0, y: 0 });
  applyZoom();
}

/** Pinch to zoom and drag to pan the shown image (pointer events: touch, pen and mouse). */
function bindViewerGestures() {
  const image = panelDom.viewerImage;
  const pointers = new Map();
  let start = null;
  const distance = () => {
    const [a, b] = [...pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  };
  image.addEventListener("pointerdown", (event) => {
    image.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    const dist = pointers.size === 2 ? distance() : 0;
    start = { ...zoom, dist, px: event.clientX, py: event.clientY };
  });
  image.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId) || !start) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 2 && start.dist > 0) {
      zoom.scale = Math.min(6, Math.max(1, (start.scale * distance()) / start.dist));
    } else if (pointers.size === 1 && zoom.scale > 1) {
      zoom.x = start.x + event.clientX - start.px;
      zoom.y = start.y + event.clientY - start.py;
    }
    applyZoom();
  });
  const end = (event) => {
    pointers.delete(event.pointerId);
    const [rest] = pointers.values();
    start = rest ? { ...zoom, dist: 0, px: rest.x, py: rest.y } : null;
  };
  image.addEventListener("pointerup", end);
  image.addEventListener("pointercancel", end);
  image.addEventListener("dblclick", () => zoomBy(zoom.scale > 1 ? 0 : 2));
}

/** Arrow keys move between the side panel's tabs (the ARIA tabs pattern). */
function tabKeys(event) {
  if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
  const tabs = [...document.querySelectorAll("[data-panel-tab]")].filter((tab) => !tab.hidden);
  const index = tabs.indexOf(event.target);
  if (index === -1) return;
  event.preventDefault();
  let next = index;
  if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
  if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = tabs.length - 1;
  dispatch("panelChosen", { panel: tabs[next].dataset.panelTab });
  tabs[next].focus();
}

// ---- start ---------------------------------------------------------------------------------

async function inspectInvitation() {
  if (!state.token) {
    dispatch("refused", { code: "token_missing" });
    return;
  }
  const query = new URLSearchParams({ t: state.token, room: state.roomId });
  let response;
  try {
    response = await fetch(`/api/invitations/inspect?${query}`, { cache: "no-store" });
  } catch {
    dispatch("refused", { code: "network" });
    return;
  }
  const body = await response.json().catch(() => null);
  if (response.ok && body?.role) {
    dispatch("invitationLoaded", body);
    await startLocalMedia({ audio: true, video: true });
  } else if (body?.code) {
    dispatch("refused", { code: body.code });
  } else {
    dispatch("refused", { code: response.status >= 500 ? "network" : `http_${response.status}` });
  }
}

function bindControls() {
  const on = (node, type, listener) => node.addEventListener(type, listener);
  const click = (node, listener) => on(node, "click", listener);
  click(dom.langToggle, toggleLang);
  click(dom.retryButton, () => {
    dispatch("pageOpened", { roomId: state.roomId, token: state.token, name: state.name });
    inspectInvitation();
  });
  on(dom.nameInput, "input", () => {
    dispatch("nameEdited", { name: dom.nameInput.value });
    dom.nameError.hidden = true;
  });
  on(dom.nameInput, "keydown", (event) => {
    if (event.key === "Enter") join({ withMedia: true });
  });
  on(dom.cameraSelect, "change", () => chooseDevice("video", dom.cameraSelect.value));
  on(dom.micSelect, "change", () => chooseDevice("audio", dom.micSelect.value));
  click(dom.retryMedia, () => startLocalMedia({ audio: true, video: true }));
  click(dom.joinButton, () => join({ withMedia: true }));
  click(dom.joinWithoutMedia, () => join({ withMedia: false }));

  // the lobby
  click(dom.consentAccept, () => consent(true));
  click(dom.consentDecline, () => consent(false));
  on(dom.identityForm, "submit", checkIdentity);
  on(dom.identityInput, "input", () => {
    dom.identityInput.value = dom.identityInput.value.replace(/[^0-9]/g, "").slice(0, 4);
  });
  click(dom.lobbyLeave, leave);

  // the room
  click(dom.toggleAudio, () => toggle("audio"));
  click(dom.toggleVideo, () => toggle("video"));
  click(dom.raiseHand, () => run(signaling.raiseHand(!state.self?.hand_raised), "raise_hand"));
  click(dom.screenShare, () => (state.screen.sharing ? stopScreenShare() : startScreenShare()));
  click(dom.openPeople, () => openDrawer("people"));
  click(dom.openChat, () => openDrawer("chat"));
  click(dom.openEvidence, () => openDrawer("evidence"));
  click(dom.leaveButton, leave);
  click(dom.rejoinButton, () => rejoin(wantedOnLeave));
  click(dom.continueHereButton, () => rejoin({ audio: true, video: true }));
  click(dom.reconnectButton, retryConnection);
  click(dom.noticeDismiss, () => dispatch("noticeDismissed"));
  click(dom.unblockAudio, unblockAudio);
  click(dom.requestUnmuteAudio, () => run(signaling.requestUnmute("audio"), "request_unmute"));
  click(dom.requestUnmuteVideo, () => run(signaling.requestUnmute("video"), "request_unmute"));
  click(dom.lobbyBannerOpen, () => {
    dispatch("panelChosen", { panel: "people" });
    if (!state.wide) openDrawer("people");
  });
  click(dom.caucusBannerEnd, () => run(signaling.endCaucus(), "end_caucus"));
  click(dom.evidenceBannerOpen, () => dispatch("viewerCollapsed", { collapsed: false }));

  // the side panel
  for (const tab of document.querySelectorAll("[data-panel-tab]")) {
    click(tab, () => dispatch("panelChosen", { panel: tab.dataset.panelTab }));
    on(tab, "keydown", tabKeys);
  }
  click(panelDom.side.querySelector('[data-testid="drawer-close"]'), closeDrawer);
  on(panelDom.side, "keydown", (event) => {
    if (event.key === "Escape" && state.drawerOpen && !state.wide) closeDrawer();
  });
  for (const list of ["lobbyList", "participantList", "evidenceList", "uploadList"]) {
    click(panelDom[list], listAction);
  }
  click(panelDom.caucusConsumer, () => run(signaling.startCaucus("consumer"), "start_caucus"));
  click(panelDom.caucusBusiness, () => run(signaling.startCaucus("business"), "start_caucus"));
  click(panelDom.caucusEnd, () => run(signaling.endCaucus(), "end_caucus"));
  click(panelDom.lockRoom, () => run(signaling.lockRoom(!state.room?.locked), "lock_room"));
  click(panelDom.endSitting, () => dispatch("dialogOpened", { kind: "end" }));
  click(panelDom.recordingStart, startRecording);
  click(panelDom.recordingStop, stopRecording);
  click(dom.recordingBannerStop, stopRecording);
  on(document.querySelector('[data-testid="chat-form"]'), "submit", submitChat);
  on(panelDom.chatInput, "input", hooks.rerender);
  const cameraInput = document.querySelector('[data-testid="evidence-camera-input"]');
  const fileInput = document.querySelector('[data-testid="evidence-input"]');
  click(document.querySelector('[data-testid="evidence-camera"]'), () => cameraInput.click());
  click(document.querySelector('[data-testid="evidence-upload"]'), () => fileInput.click());
  on(cameraInput, "change", filesChosen);
  on(fileInput, "change", filesChosen);

  // the viewer
  click(panelDom.viewerClose, () => {
    if (state.preview) dispatch("previewChosen", { evidence: null });
    else dispatch("viewerCollapsed", { collapsed: true });
  });
  click(document.querySelector('[data-testid="viewer-zoom-in"]'), () => zoomBy(1.5));
  click(document.querySelector('[data-testid="viewer-zoom-out"]'), () => zoomBy(1 / 1.5));
  click(document.querySelector('[data-testid="viewer-zoom-reset"]'), () => zoomBy(0));
  bindViewerGestures();

  // dialogs
  on(document.querySelector('[data-testid="reason-form"]'), "submit", submitReason);
  on(document.querySelector('[data-testid="end-form"]'), "submit", submitEnd);
  on(document.querySelector('[data-testid="end-form"]'), "change", (e) =>
    syncEndFields(e.currentTarget),
  );
  for (const testid of ["reason-cancel", "end-cancel"]) {
    click(document.querySelector(`[data-testid="${testid}"]`), () => dispatch("dialogClosed"));
  }
  for (const dialog of [panelDom.reasonDialog, panelDom.endDialog]) {
    // Escape closes a dialog by itself: the state follows.
    on(dialog, "close", () => {
      if (state.dialog) dispatch("dialogClosed");
    });
  }

  navigator.mediaDevices?.addEventListener?.("devicechange", () => {
    if (state.view === "join") refreshDevices();
  });
  window.addEventListener("online", networkChanged);
  navigator.connection?.addEventListener?.("change", networkChanged);
  const wide = matchMedia(WIDE);
  wide.addEventListener("change", () => dispatch("layoutChanged", { wide: wide.matches }));
  dispatch("layoutChanged", { wide: wide.matches });
  dispatch("screenSupported", { supported: Boolean(navigator.mediaDevices?.getDisplayMedia) });
  setInterval(tickTimers, 1000);
  initAgreement({
    signaling: () => signaling,
    openPanel: (panel) => {
      if (state.wide) dispatch("panelChosen", { panel });
      else openDrawer(panel);
    },
  });
}

/** A read-only snapshot for tests: plain data only. */
function snapshot() {
  const widths = tileVideoWidths();
  const shown = tileStates();
  const remote = {};
  for (const p of state.participants) {
    const stats = state.remote[p.id] ?? {};
    remote[p.id] = {
      videoWidth: widths[p.id] ?? 0,
      framesDecoded: stats.framesDecoded ?? 0,
      audioEnergy: stats.audioEnergy ?? 0,
      screenFramesDecoded: stats.screenFramesDecoded ?? 0,
      tile: shown[p.id] ?? null,
    };
  }
  const v = state.viewer;
  return structuredClone({
    view: state.view,
    connection: state.connection,
    pcState: state.pcState,
    reconnecting: state.reconnecting,
    self: state.self,
    room: state.room,
    participants: state.participants,
    lobby: state.lobby,
    remote,
    local: { audio: state.local.audio, video: state.local.video },
    chat: { messages: state.chat.messages, outbox: state.chat.outbox, unread: state.chat.unread },
    evidence: state.evidence,
    agreement: agreementSnapshot(),
    viewer: v && { id: v.id, status: v.status, kind: v.kind, code: v.code },
    identityCheck: state.identityCheck,
    recordingCommand: state.recordingCommand,
    screen: state.screen,
    lobbyCue: state.lobbyCue,
    announcements: state.announcements.map((a) => a.key),
    dismissal: state.dismissal,
    refusal: state.refusal,
    lang: lang(),
  });
}

function start() {
  const match = location.pathname.match(/\/room\/([^/]+)/);
  const roomId = match ? decodeURIComponent(match[1]) : "";
  const token = new URLSearchParams(location.search).get("t") ?? "";
  let name = "";
  try {
    name = sessionStorage.getItem(NAME_KEY + roomId) ?? "";
  } catch {
    // No storage: start from the invitation's name.
  }
  Object.defineProperty(window, "__room", { get: snapshot });
  // For test failure reports: the raw getStats() of the current peer connection.
  window.__roomStats = async () => (session ? session.rawStats() : []);

  translateStatic();
  onLangChange(() => {
    translateStatic();
    render(state, media, hooks);
  });
  bindControls();
  dispatch("pageOpened", { roomId, token, name });
  inspectInvitation();
}

start();
