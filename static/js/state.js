// The page's one state object. Only the handlers below change it, each for one event.

import { createStore } from "./shared.js";

export const state = {
  /** loading | refused | join | room | left | replaced | ended */
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
  name: "",
  self: null,
  room: null,
  /** The other participants present, in the order they came. */
  participants: [],
  /** What we publish: the tracks live in main.js; here only whether each is on. */
  local: { audio: false, video: false, starting: false, errors: {} },
  devices: { cameras: [], mics: [], cameraId: "", micId: "" },
  /** participant id → {framesDecoded, audioEnergy}, polled from getStats about once a second. */
  remote: {},
  /** A passing message in the room view: {key, params}. */
  notice: null,
  audioBlocked: false,
};

function upsertParticipant(s, participant) {
  const index = s.participants.findIndex((p) => p.id === participant.id);
  if (index === -1) s.participants.push({ ...participant });
  else s.participants[index] = { ...s.participants[index], ...participant };
}

/** The call on this page is over (left, replaced, refused, closed): nothing remote stays. */
function callEnded(s) {
  s.participants = [];
  s.remote = {};
  s.pcState = { ice: "closed", connection: "closed" };
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
    s.view = "room";
    s.notice = null;
    s.participants = [];
    s.remote = {};
    s.pcState = { ice: "new", connection: "new" };
  },
  socketConnecting(s) {
    s.connection = "connecting";
  },
  socketConnected(s) {
    s.connection = "connected";
  },
  socketReconnecting(s) {
    if (s.connection !== "closed") s.connection = "reconnecting";
  },
  socketClosed(s) {
    s.connection = "closed";
  },
  joined(s, { self, room, participants }) {
    s.self = self;
    s.room = room;
    s.participants = [];
    for (const p of participants ?? []) upsertParticipant(s, p);
    s.remote = {};
    s.pcState = { ice: "new", connection: "new" };
  },
  participantJoined(s, participant) {
    if (participant.id === s.self?.id) return;
    upsertParticipant(s, participant);
  },
  participantLeft(s, { id }) {
    s.participants = s.participants.filter((p) => p.id !== id);
    delete s.remote[id];
  },
  mediaStateChanged(s, { id, audio, video }) {
    if (id === s.self?.id) {
      s.self = { ...s.self, audio, video };
      return;
    }
    const p = s.participants.find((x) => x.id === id);
    if (p) Object.assign(p, { audio, video });
  },
  pcStateChanged(s, { ice, connection }) {
    s.pcState = { ice, connection };
  },
  pcTimedOut(s) {
    s.pcState = { ...s.pcState, connection: "failed" };
  },
  statsPolled(s, { remote }) {
    s.remote = remote;
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
  },
  noticeShown(s, notice) {
    s.notice = notice;
  },
  noticeDismissed(s) {
    s.notice = null;
  },
  audioBlockedChanged(s, { blocked }) {
    s.audioBlocked = blocked;
  },
};

export const { dispatch, subscribe } = createStore(state, handlers);

/** What the room screen shows as the connection state: one of the `conn.*` messages. */
export function connectionWord(s) {
  if (s.connection === "reconnecting") return "reconnecting";
  if (s.connection === "closed" || s.connection === "idle") return "idle";
  if (s.connection === "connecting") return "connecting";
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
