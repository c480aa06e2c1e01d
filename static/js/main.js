// Wiring: the page's life from the invitation check to leaving. Events in, state out.

import { lang, onLangChange, toggleLang, translateStatic } from "./i18n.js";
import { PeerSession, acquireMedia, listDevices } from "./media.js";
import { REFUSAL_CODES, createSignaling } from "./signaling.js";
import { dispatch, state, subscribe } from "./state.js";
import { dom, render, tileVideoWidths } from "./views.js";

const STATS_INTERVAL_MS = 1000;
/** How long a peer connection may take to connect before the page says it failed. */
const CONNECT_LIMIT_MS = 20_000;
const NAME_KEY = "mediation-room.name.";

/** Our microphone and camera tracks; the preview and self tile show `localStream`. */
const tracks = { audio: null, video: null };
const localStream = new MediaStream();

let signaling = null;
/** The peer connection of the current `joined`; a new one for every join. */
let session = null;
/** Set while the person means to be in the room: a (re)connect then sends `join`. */
let inRoom = false;
let statsTimer = null;
let connectTimer = null;

const media = {
  localStream: () => localStream,
  remoteStream: (id) => session?.streamFor(id) ?? null,
};
const hooks = {
  rerender: () => render(state, media, hooks),
  autoplayBlocked: () => dispatch("audioBlockedChanged", { blocked: true }),
};
subscribe(() => render(state, media, hooks));

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
      reconnecting: () => dispatch("socketReconnecting"),
      closed: () => dispatch("socketClosed"),
      joined(payload) {
        startSession(payload.ice_servers);
        dispatch("joined", payload);
      },
      offer(offer) {
        const current = session;
        current?.handleOffer(offer).catch((err) => {
          // A newer offer or a reconnect (with its own fresh offer) supersedes this one.
          if (current !== session || ["stale_answer", "not_connected"].includes(err?.code)) return;
          console.error("answering offer", offer.revision, err);
          dispatch("pcTimedOut");
        });
      },
      participant_joined: (p) => dispatch("participantJoined", p),
      participant_left: (p) => dispatch("participantLeft", p),
      media_state_changed: (p) => dispatch("mediaStateChanged", p),
      replaced() {
        endCall();
        dispatch("replaced");
      },
      error: handleError,
    },
  });
  return signaling;
}

/** The one place every server error lands (error events and connect-time refusals). */
function handleError(body) {
  const code = body.code;
  console.warn("server error:", body);
  if (body.refused || REFUSAL_CODES.has(code)) {
    endCall();
    dispatch("refused", { code });
    return;
  }
  switch (code) {
    case "stale_answer": // a newer offer is on its way
    case "already_joined":
      return;
    case "room_closed":
      endCall();
      dispatch("roomClosed");
      return;
    case "negotiation_failed":
      // The server could not use our answer: this peer connection won't carry media.
      dispatch("pcTimedOut");
      return;
    default:
      dispatch("noticeShown", { key: "notice.server", params: { code } });
  }
}

function sendJoin() {
  signaling
    .join({ name: state.name, audio: state.local.audio, video: state.local.video })
    .catch((err) => console.warn("join:", err));
}

function startSession(iceServers) {
  session?.close();
  session = new PeerSession({
    iceServers,
    signaling,
    localTracks: () => tracks,
    onState(pcState) {
      if (pcState.connection === "connected") clearTimeout(connectTimer);
      dispatch("pcStateChanged", pcState);
    },
    onRemoteStreams: hooks.rerender,
  });
  clearTimeout(connectTimer);
  const started = session;
  connectTimer = setTimeout(() => {
    if (session === started && started.pc.connectionState !== "connected") {
      dispatch("pcTimedOut");
    }
  }, CONNECT_LIMIT_MS);
  clearInterval(statsTimer);
  statsTimer = setInterval(pollStats, STATS_INTERVAL_MS);
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
  clearInterval(statsTimer);
  clearTimeout(connectTimer);
  session?.close();
  session = null;
  signaling?.disconnect();
  stopLocalMedia();
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
  inRoom = true;
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

async function toggle(kind) {
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

function retryConnection() {
  session?.close();
  session = null;
  dispatch("pcStateChanged", { ice: "new", connection: "new" });
  signaling.disconnect();
  signaling.connect();
}

function unblockAudio() {
  for (const video of document.querySelectorAll("video")) video.play().catch(() => {});
  dispatch("audioBlockedChanged", { blocked: false });
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
  dom.langToggle.addEventListener("click", toggleLang);
  dom.retryButton.addEventListener("click", () => {
    dispatch("pageOpened", { roomId: state.roomId, token: state.token, name: state.name });
    inspectInvitation();
  });
  dom.nameInput.addEventListener("input", () => {
    dispatch("nameEdited", { name: dom.nameInput.value });
    dom.nameError.hidden = true;
  });
  dom.nameInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") join({ withMedia: true });
  });
  dom.cameraSelect.addEventListener("change", () => chooseDevice("video", dom.cameraSelect.value));
  dom.micSelect.addEventListener("change", () => chooseDevice("audio", dom.micSelect.value));
  dom.retryMedia.addEventListener("click", () => startLocalMedia({ audio: true, video: true }));
  dom.joinButton.addEventListener("click", () => join({ withMedia: true }));
  dom.joinWithoutMedia.addEventListener("click", () => join({ withMedia: false }));
  dom.toggleAudio.addEventListener("click", () => toggle("audio"));
  dom.toggleVideo.addEventListener("click", () => toggle("video"));
  dom.leaveButton.addEventListener("click", leave);
  dom.rejoinButton.addEventListener("click", () => rejoin(wantedOnLeave));
  dom.continueHereButton.addEventListener("click", () => rejoin({ audio: true, video: true }));
  dom.reconnectButton.addEventListener("click", retryConnection);
  dom.noticeDismiss.addEventListener("click", () => dispatch("noticeDismissed"));
  dom.unblockAudio.addEventListener("click", unblockAudio);
  navigator.mediaDevices?.addEventListener?.("devicechange", () => {
    if (state.view === "join") refreshDevices();
  });
}

/** A read-only snapshot for tests: plain data only. */
function snapshot() {
  const widths = tileVideoWidths();
  const remote = {};
  for (const p of state.participants) {
    const stats = state.remote[p.id] ?? {};
    remote[p.id] = {
      videoWidth: widths[p.id] ?? 0,
      framesDecoded: stats.framesDecoded ?? 0,
      audioEnergy: stats.audioEnergy ?? 0,
    };
  }
  return structuredClone({
    view: state.view,
    connection: state.connection,
    pcState: state.pcState,
    self: state.self,
    participants: state.participants,
    remote,
    local: { audio: state.local.audio, video: state.local.video },
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
