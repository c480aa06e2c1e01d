// Small render functions: state (+ the live media streams) → DOM. No state changes here.
//
// Buttons inside rendered lists carry `data-action` (and `data-id`); main.js listens for them.

import { t } from "./i18n.js";
import { renderDialogs, renderSide, renderViewer } from "./panels.js";
import {
  chatVisible,
  connectionWord,
  cutByCaucus,
  excludedRole,
  isMediator,
  participantById,
} from "./state.js";
import { $, roleLabel, setText, setTimer } from "./ui.js";

/** Elements rendered into, found once. */
export const dom = {
  views: document.querySelectorAll("[data-view]"),
  caseLine: $("case-line"),
  lockedBadge: $("locked-badge"),
  connState: $("connection-state"),
  langToggle: $("lang-toggle"),
  errorMessage: $("error-message"),
  errorAdvice: $("error-advice"),
  retryButton: $("retry-button"),
  invitedRole: $("invited-role"),
  invitedName: $("invited-name"),
  nameInput: $("name-input"),
  nameError: $("name-error"),
  previewVideo: $("preview-video"),
  previewPlaceholder: $("preview-placeholder"),
  mediaError: $("media-error"),
  mediaErrorTitle: $("media-error-title"),
  mediaErrorAdvice: $("media-error-advice"),
  retryMedia: $("retry-media"),
  cameraSelect: $("camera-select"),
  micSelect: $("mic-select"),
  joinButton: $("join-button"),
  joinWithoutMedia: $("join-without-media"),

  lobbyTitle: $("lobby-title"),
  lobbyText: $("lobby-text"),
  lobbyReconnecting: $("lobby-reconnecting"),
  lobbyPreview: $("lobby-preview"),
  lobbyPreviewPlaceholder: $("lobby-preview-placeholder"),
  consent: $("consent"),
  consentState: $("consent-state"),
  consentAccept: $("consent-accept"),
  consentDecline: $("consent-decline"),
  identity: $("identity"),
  identityForm: $("identity-form"),
  identityInput: $("identity-input"),
  identitySubmit: $("identity-submit"),
  identityResult: $("identity-result"),
  lobbyLeave: $("lobby-leave"),
  lobbyNotice: $("lobby-notice"),
  lobbyRecording: $("lobby-recording"),

  recordingBanner: $("recording-banner"),
  recordingLabel: $("recording-label"),
  recordingTimer: $("recording-timer"),
  recordingBannerStop: $("recording-banner-stop"),
  recordingFailed: $("recording-failed"),
  recordingFailedText: $("recording-failed-text"),
  sideRecording: $("side-recording"),
  sideRecordingLabel: $("side-recording-label"),
  sideRecordingTimer: $("side-recording-timer"),
  selfReconnecting: $("self-reconnecting"),
  connectionFailed: $("connection-failed"),
  reconnectButton: $("reconnect-button"),
  lobbyBanner: $("lobby-banner"),
  lobbyBannerText: $("lobby-banner-text"),
  lobbyBannerOpen: $("lobby-banner-open"),
  caucusBanner: $("caucus-banner"),
  caucusBannerText: $("caucus-banner-text"),
  caucusBannerTimer: $("caucus-banner-timer"),
  caucusBannerEnd: $("caucus-banner-end"),
  blockedBanner: $("blocked-banner"),
  blockedText: $("blocked-text"),
  requestUnmuteAudio: $("request-unmute-audio"),
  requestUnmuteVideo: $("request-unmute-video"),
  evidenceBanner: $("evidence-banner"),
  evidenceBannerText: $("evidence-banner-text"),
  evidenceBannerOpen: $("evidence-banner-open"),
  notice: $("notice"),
  noticeText: $("notice-text"),
  noticeDismiss: $("notice-dismiss"),
  unblockAudio: $("unblock-audio"),
  stage: $("stage"),
  focus: $("focus"),
  screenTile: $("tile-screen"),
  screenLabel: $("tile-screen-label"),
  waiting: $("waiting"),
  tiles: $("tiles"),
  selfTile: $("tile-self"),
  caucusNotice: $("caucus-notice"),
  caucusTimer: $("caucus-timer"),
  toggleAudio: $("toggle-audio"),
  toggleVideo: $("toggle-video"),
  raiseHand: $("raise-hand"),
  screenShare: $("screen-share"),
  openPeople: $("open-people"),
  openPeopleBadge: $("open-people-badge"),
  openChat: $("open-chat"),
  chatUnread: $("chat-unread"),
  openEvidence: $("open-evidence"),
  leaveButton: $("leave-button"),
  rejoinButton: $("rejoin-button"),
  continueHereButton: $("continue-here-button"),
  dismissedTitle: $("dismissed-title"),
  dismissedReason: $("dismissed-reason"),
  livePolite: $("live-polite"),
  liveAssertive: $("live-assertive"),
};

/** participant id → the tile's elements. */
const tiles = new Map();

/** Attach `stream` to `video` once; report a refused autoplay (sound needs a user gesture). */
function attach(video, stream, onAutoplayBlocked) {
  if (video.srcObject === stream) return;
  video.srcObject = stream;
  if (!stream) return;
  video.play().catch((err) => {
    if (err.name === "NotAllowedError") onAutoplayBlocked?.();
  });
}

function avatarLetter(name) {
  return [...(name || "?").trim()][0] ?? "?";
}

function renderPlaceholder(el, { name, text }) {
  const letter = avatarLetter(name);
  if (el.dataset.letter === letter && el.dataset.text === text) return;
  el.dataset.letter = letter;
  el.dataset.text = text;
  el.replaceChildren();
  const avatar = document.createElement("span");
  avatar.className = "avatar";
  avatar.textContent = letter;
  const words = document.createElement("span");
  words.className = "placeholder-text";
  words.textContent = text;
  el.append(avatar, words);
}

function renderTopbar(s) {
  const inv = s.room ?? s.invitation;
  const number = inv?.case_number;
  setText(dom.caseLine, number ? t("case.line", { number, title: inv.title ?? "" }) : "");
  const live = s.view === "room" || s.view === "lobby";
  dom.connState.hidden = !live;
  if (live) {
    const word = connectionWord(s);
    setText(dom.connState, t(`conn.${word}`));
    dom.connState.dataset.state = word;
  }
  dom.lockedBadge.hidden = !(live && s.room?.locked && s.self?.stage === "room");
}

const REFUSALS = [
  "token_missing",
  "token_malformed",
  "token_invalid",
  "token_expired",
  "token_foreign",
  "token_revoked",
  "token_unknown",
  "sitting_ended",
  "room_not_found",
  "room_locked",
  "network",
];

function renderRefused(s) {
  const code = s.refusal?.code ?? "unknown";
  const key = REFUSALS.includes(code) ? `refused.${code}` : "refused.unknown";
  dom.errorMessage.textContent = t(key, { code });
  dom.errorMessage.dataset.code = code;
  dom.errorAdvice.textContent = t(`${key}.todo`);
  // A refused link needs a new one; anything else (network, a locked room, a server hiccup)
  // is worth trying again from here.
  dom.retryButton.hidden = code.startsWith("token_") || code === "room_not_found";
}

function mediaProblem(errors) {
  const codes = Object.values(errors);
  if (codes.length === 0) return null;
  if (codes.length === 1 && codes[0] === "notfound") {
    // One device missing while the other works: a note, not a blocker.
    return { code: "notfound", title: t(`media.notfound.${Object.keys(errors)[0]}`), advice: "" };
  }
  const code = codes.includes("denied") ? "denied" : codes[0];
  return { code, title: t(`media.${code}`), advice: t(`media.${code}.todo`) };
}

function fillSelect(select, devices, chosenId) {
  const options = devices.length
    ? devices.map((d, i) => [d.id, d.label || t("join.device.unnamed", { n: i + 1 })])
    : [["", t("join.device.default")]];
  const signature = JSON.stringify(options);
  if (select.dataset.signature !== signature) {
    select.replaceChildren(
      ...options.map(([id, label]) => {
        const option = document.createElement("option");
        option.value = id;
        option.textContent = label;
        return option;
      }),
    );
    select.dataset.signature = signature;
  }
  select.value = chosenId || options[0][0];
  select.disabled = devices.length === 0;
}

function renderPreview(video, placeholder, s, media) {
  attach(video, s.local.video ? media.localStream() : null);
  const showPlaceholder = s.local.starting || !s.local.video;
  placeholder.hidden = !showPlaceholder;
  // Without a camera the preview shrinks, so the buttons stay within a thumb's reach.
  video.parentElement.classList.toggle("preview-off", !s.local.starting && !s.local.video);
  if (showPlaceholder) {
    renderPlaceholder(placeholder, {
      name: s.name,
      text: t(s.local.starting ? "join.preview.starting" : "join.preview.off"),
    });
  }
}

function renderJoin(s, media) {
  const inv = s.invitation;
  dom.invitedRole.textContent = roleLabel(inv?.role);
  dom.invitedName.textContent = inv?.name ?? "";
  if (document.activeElement !== dom.nameInput && dom.nameInput.value !== s.name) {
    dom.nameInput.value = s.name;
  }
  renderPreview(dom.previewVideo, dom.previewPlaceholder, s, media);
  const problem = mediaProblem(s.local.errors);
  dom.mediaError.hidden = !problem;
  if (problem) {
    dom.mediaError.dataset.code = problem.code;
    dom.mediaErrorTitle.textContent = problem.title;
    dom.mediaErrorAdvice.textContent = problem.advice;
    dom.mediaErrorAdvice.hidden = !problem.advice;
  }
  fillSelect(dom.cameraSelect, s.devices.cameras, s.devices.cameraId);
  fillSelect(dom.micSelect, s.devices.mics, s.devices.micId);
  dom.joinButton.disabled = s.local.starting;
}

// ---- the lobby (a party waiting) ---------------------------------------------------------

function lobbyWords(s) {
  const me = s.self;
  if (!me) return ["lobby.connecting.title", "lobby.connecting.text"];
  if (me.consent === "declined") return ["lobby.declined.title", "lobby.declined.text"];
  if (me.admitted) return ["lobby.admitted.title", "lobby.admitted.text"];
  if (me.consent === "accepted") return ["lobby.waiting.title", "lobby.waiting.accepted"];
  return ["lobby.waiting.title", "lobby.waiting.text"];
}

function renderLobby(s, media) {
  const [title, text] = lobbyWords(s);
  setText(dom.lobbyTitle, t(title));
  setText(dom.lobbyText, t(text));
  dom.lobbyTitle.parentElement.dataset.stage = s.self?.admitted ? "admitted" : "waiting";
  dom.lobbyReconnecting.hidden = !s.reconnecting;
  renderPreview(dom.lobbyPreview, dom.lobbyPreviewPlaceholder, s, media);

  const consent = s.self?.consent ?? "pending";
  dom.consent.dataset.consent = consent;
  setText(dom.consentState, consent === "pending" ? "" : t(`consent.state.${consent}`));
  dom.consentState.hidden = consent === "pending";
  dom.consentAccept.hidden = consent === "accepted";
  dom.consentDecline.hidden = consent !== "pending";
  dom.consentAccept.disabled = !s.self || s.consentSending;
  dom.consentDecline.disabled = !s.self || s.consentSending;

  const check = s.identityCheck;
  dom.identity.dataset.status = check.status;
  const done = ["match", "too_many_attempts", "no_phone_on_file"].includes(check.status);
  dom.identityInput.disabled = done || !s.self;
  dom.identitySubmit.disabled = done || !s.self || check.status === "checking";
  let result = "";
  if (check.status === "mismatch") {
    result = t("identity.mismatch", { n: check.attemptsLeft ?? "?" });
  } else if (check.status === "error") {
    result = t("identity.error", { code: check.code ?? "" });
  } else if (check.status !== "idle") {
    result = t(`identity.${check.status}`);
  }
  setText(dom.identityResult, result);
  // Deciding on the notice while the others are being recorded: say so.
  dom.lobbyRecording.hidden = !s.room?.recording;
  dom.lobbyNotice.hidden = !s.notice;
  setText(dom.lobbyNotice, noticeText(s));
}

// ---- the room ----------------------------------------------------------------------------

function makeTile(id) {
  const tile = document.createElement("div");
  tile.className = "tile";
  tile.dataset.testid = `tile-${id}`;
  tile.dataset.participant = id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  const placeholder = document.createElement("div");
  placeholder.className = "placeholder";
  const label = document.createElement("div");
  label.className = "tile-label";
  const name = document.createElement("span");
  const flags = document.createElement("span");
  flags.className = "tile-flags";
  const muted = document.createElement("span");
  muted.className = "tile-muted";
  label.append(name, flags, muted);
  tile.append(video, placeholder, label);
  return { tile, video, placeholder, name, flags, muted };
}

/** What a remote tile shows instead of a picture, if anything: [data-video, message key]. */
function tileCover(s, p, video) {
  if (cutByCaucus(s, p)) return ["paused", "room.video.caucus"];
  if (p.connected === false) return ["reconnecting", "room.reconnecting"];
  if (p.video_blocked) return ["blocked", "room.video.blocked"];
  if (p.video === false) return ["off", "room.camera.off"];
  if (!(video.videoWidth > 0)) return ["waiting", "room.video.waiting"];
  return ["on", null];
}

function renderTile(entry, s, p, stream, onAutoplayBlocked) {
  attach(entry.video, stream, onAutoplayBlocked);
  setText(entry.name, t("room.tile.label", { role: roleLabel(p.role), name: p.name }));
  const flags = [];
  if (p.hand_raised) flags.push(t("room.hand"));
  if (p.connected === false) flags.push(t("room.reconnecting"));
  setText(entry.flags, flags.join(" · "));
  entry.flags.hidden = flags.length === 0;
  const mutedKey = p.audio_blocked ? "room.mic.blocked" : p.audio === false ? "room.mic.off" : "";
  setText(entry.muted, mutedKey ? t(mutedKey) : "");
  entry.muted.hidden = !mutedKey;
  const [videoState, coverKey] = tileCover(s, p, entry.video);
  entry.placeholder.hidden = !coverKey;
  entry.tile.dataset.video = videoState;
  entry.tile.dataset.hand = String(Boolean(p.hand_raised));
  if (coverKey) renderPlaceholder(entry.placeholder, { name: p.name, text: t(coverKey) });
}

function renderTiles(s, media, hooks) {
  const present = new Set(s.participants.map((p) => p.id));
  for (const [id, entry] of tiles) {
    if (!present.has(id)) {
      entry.video.srcObject = null;
      entry.tile.remove();
      tiles.delete(id);
    }
  }
  for (const p of s.participants) {
    let entry = tiles.get(p.id);
    if (!entry) {
      entry = makeTile(p.id);
      // A first frame (or a new size) changes what the tile shows.
      entry.video.addEventListener("resize", hooks.rerender);
      entry.video.addEventListener("loadedmetadata", hooks.rerender);
      tiles.set(p.id, entry);
      dom.tiles.append(entry.tile);
    }
    renderTile(entry, s, p, media.remoteStream(p.id), hooks.autoplayBlocked);
  }
  dom.tiles.dataset.count = String(s.participants.length);
}

/** The shared screen: the mediator's, received (parties) or our own (the mediator). */
function renderScreen(s, media, hooks) {
  let stream = null;
  let sharer = null;
  if (s.screen.sharing) {
    stream = media.localScreen();
    sharer = s.self;
  } else if (s.room?.screen_share) {
    sharer = s.participants.find((p) => p.role === "mediator");
    const cut = sharer && cutByCaucus(s, sharer);
    stream = sharer && !cut ? media.remoteScreen(sharer.id) : null;
  }
  const video = dom.screenTile.querySelector("video");
  attach(video, stream, hooks.autoplayBlocked);
  dom.screenTile.hidden = !stream;
  if (stream) {
    setText(
      dom.screenLabel,
      s.screen.sharing ? t("screen.own") : t("screen.of", { name: sharer?.name ?? "" }),
    );
  }
  return Boolean(stream);
}

function renderSelfTile(s, media) {
  const selfVideo = dom.selfTile.querySelector("video");
  const selfPlaceholder = dom.selfTile.querySelector(".placeholder");
  attach(selfVideo, s.local.video ? media.localStream() : null);
  selfPlaceholder.hidden = s.local.video;
  if (!s.local.video) {
    renderPlaceholder(selfPlaceholder, { name: s.name, text: t("room.camera.off") });
  }
  // The corner picture is small: "me" says enough; the tooltip has the rest.
  const self = s.self ?? { role: s.invitation?.role, name: s.name };
  setText(dom.selfTile.querySelector(".tile-label"), t("room.you"));
  dom.selfTile.title = t("room.self.label", { role: roleLabel(self.role), name: self.name ?? "" });
}

function noticeText(s) {
  if (!s.notice) return "";
  const params = { ...s.notice.params };
  for (const [name, key] of Object.entries(s.notice.paramKeys ?? {})) params[name] = t(key);
  return t(s.notice.key, params);
}

/** What the recording indicator says: "录制中" (and for how long), or why it is paused. */
function recordingWords(s) {
  const rec = s.room?.recording;
  if (!rec) return null;
  if (rec.paused) return { state: "paused", label: t("recording.paused"), since: null };
  const caucus = Boolean(s.room.caucus) && rec.include_caucus;
  return {
    state: "on",
    label: t(caucus ? "recording.on.caucus" : "recording.on"),
    since: rec.started_at,
  };
}

function renderRecordingMark(box, label, timer, words) {
  box.hidden = !words;
  if (!words) {
    setTimer(timer, null);
    return;
  }
  box.dataset.state = words.state;
  setText(label, words.label);
  timer.hidden = words.since == null;
  if (words.since == null) setTimer(timer, null);
  else if (timer.dataset.since !== String(words.since)) setTimer(timer, words.since);
}

function renderRecording(s) {
  const words = recordingWords(s);
  renderRecordingMark(dom.recordingBanner, dom.recordingLabel, dom.recordingTimer, words);
  // The phone's drawer covers the banners: it carries the mark too.
  renderRecordingMark(dom.sideRecording, dom.sideRecordingLabel, dom.sideRecordingTimer, words);
  dom.recordingBannerStop.hidden = !words || !isMediator(s);
  dom.recordingBannerStop.disabled = s.recordingCommand.busy;

  const failed = (isMediator(s) && s.room?.recording?.failed) || [];
  dom.recordingFailed.hidden = failed.length === 0;
  if (failed.length) {
    const names = failed.map((id) => {
      const p = participantById(s, id);
      return p ? t("person.who", { role: roleLabel(p.role), name: p.name ?? "" }) : id;
    });
    const list = names.join(t("console.list.sep"));
    setText(dom.recordingFailedText, t("recording.failed", { names: list }));
  }
}

function renderBanners(s) {
  const mediator = isMediator(s);
  renderRecording(s);
  dom.selfReconnecting.hidden = !s.reconnecting;
  dom.connectionFailed.hidden = s.reconnecting || connectionWord(s) !== "failed";

  // The mediator's cue: someone waits while the people panel is not on screen.
  const peopleShown = s.panel === "people" && (s.wide || s.drawerOpen);
  const waiting = s.lobby.filter((p) => p.connected !== false);
  dom.lobbyBanner.hidden = !mediator || waiting.length === 0 || peopleShown;
  if (!dom.lobbyBanner.hidden) {
    const first = waiting.find((p) => s.lobbyNew.includes(p.id)) ?? waiting[0];
    setText(
      dom.lobbyBannerText,
      waiting.length === 1
        ? t("lobby.banner.one", { role: roleLabel(first.role), name: first.name })
        : t("lobby.banner.many", { n: waiting.length }),
    );
  }
  dom.lobbyBanner.classList.toggle("cue", s.lobbyNew.length > 0);

  const caucus = s.room?.caucus;
  const excluded = caucus && (s.self?.excluded || s.self?.role === excludedRole(s.room));
  dom.caucusBanner.hidden = !caucus || excluded;
  dom.caucusBannerEnd.hidden = !mediator;
  if (caucus && !excluded) {
    const out = roleLabel(excludedRole(s.room));
    setText(
      dom.caucusBannerText,
      mediator
        ? t("caucus.banner.mediator", { role: roleLabel(caucus.role), other: out })
        : t("caucus.banner.party", { other: out }),
    );
    if (dom.caucusBannerTimer.dataset.since !== String(caucus.started_at)) {
      setTimer(dom.caucusBannerTimer, caucus.started_at);
    }
  } else {
    setTimer(dom.caucusBannerTimer, null);
  }

  const me = s.self;
  const blocked = [me?.audio_blocked && "audio", me?.video_blocked && "video"].filter(Boolean);
  dom.blockedBanner.hidden = blocked.length === 0;
  if (blocked.length) {
    const requested = me.unmute_requested ?? [];
    const parts = blocked.map((kind) =>
      t(requested.includes(kind) ? `blocked.${kind}.requested` : `blocked.${kind}`),
    );
    setText(dom.blockedText, parts.join(" "));
  }
  dom.requestUnmuteAudio.hidden =
    !me?.audio_blocked || (me.unmute_requested ?? []).includes("audio");
  dom.requestUnmuteVideo.hidden =
    !me?.video_blocked || (me.unmute_requested ?? []).includes("video");

  const shown = s.preview ?? s.room?.evidence ?? null;
  dom.evidenceBanner.hidden = !shown || !s.viewerCollapsed;
  if (shown) {
    setText(dom.evidenceBannerText, t("viewer.banner", { name: shown.filename ?? "" }));
  }

  dom.notice.hidden = !s.notice;
  setText(dom.noticeText, noticeText(s));
  dom.unblockAudio.hidden = !s.audioBlocked;
}

function renderToggle(button, on, prefix) {
  button.setAttribute("aria-pressed", String(!on));
  button.dataset.on = String(on);
  setText(button.querySelector(".ctl-label"), t(`${prefix}.${on ? "on" : "off"}`));
}

/** A device the mediator stopped: the button asks for it back instead of toggling. */
function renderBlockedToggle(button, kind, s) {
  const requested = (s.self?.unmute_requested ?? []).includes(kind);
  button.dataset.on = "false";
  button.dataset.blocked = "true";
  button.setAttribute("aria-pressed", "true");
  setText(
    button.querySelector(".ctl-label"),
    t(requested ? `ctl.${kind}.requested` : `ctl.${kind}.request`),
  );
  button.setAttribute("aria-label", t(`ctl.${kind}.blocked.label`));
}

function renderControls(s) {
  const me = s.self;
  for (const [button, kind, prefix] of [
    [dom.toggleAudio, "audio", "ctl.mic"],
    [dom.toggleVideo, "video", "ctl.camera"],
  ]) {
    if (me?.[`${kind}_blocked`]) {
      renderBlockedToggle(button, kind, s);
    } else {
      delete button.dataset.blocked;
      button.removeAttribute("aria-label");
      renderToggle(button, s.local[kind], prefix);
    }
  }
  const mediator = isMediator(s);
  dom.raiseHand.hidden = mediator;
  if (!mediator) {
    const raised = Boolean(me?.hand_raised);
    dom.raiseHand.setAttribute("aria-pressed", String(raised));
    dom.raiseHand.dataset.active = String(raised);
    const label = t(raised ? "ctl.hand.lower" : "ctl.hand.raise");
    setText(dom.raiseHand.querySelector(".ctl-label"), label);
  }
  dom.screenShare.hidden = !mediator || !s.screen.supported;
  if (!dom.screenShare.hidden) {
    dom.screenShare.setAttribute("aria-pressed", String(s.screen.sharing));
    dom.screenShare.dataset.active = String(s.screen.sharing);
    setText(
      dom.screenShare.querySelector(".ctl-label"),
      t(s.screen.sharing ? "ctl.screen.stop" : "ctl.screen.start"),
    );
  }
  dom.openPeople.hidden = !mediator;
  const waiting = s.lobby.length;
  dom.openPeopleBadge.hidden = waiting === 0;
  setText(dom.openPeopleBadge, String(waiting));
  dom.openPeople.setAttribute(
    "aria-label",
    waiting ? t("side.people.waiting", { n: waiting }) : t("side.people"),
  );
  const unread = s.chat.unread;
  dom.chatUnread.hidden = unread === 0;
  setText(dom.chatUnread, unread > 99 ? "99+" : String(unread));
  const chatName = unread ? t("side.chat.unread", { n: unread }) : t("side.chat");
  dom.openChat.setAttribute("aria-label", chatName);
  for (const [button, panel] of [
    [dom.openPeople, "people"],
    [dom.openChat, "chat"],
    [dom.openEvidence, "evidence"],
  ]) {
    button.setAttribute("aria-expanded", String(s.drawerOpen && s.panel === panel));
  }
}

function renderRoom(s, media, hooks) {
  renderBanners(s);
  dom.waiting.hidden =
    s.participants.length > 0 || s.connection !== "connected" || !s.self || s.reconnecting;
  renderTiles(s, media, hooks);
  renderSelfTile(s, media);

  const screenShown = renderScreen(s, media, hooks);
  const viewerShown = renderViewer(s);
  dom.focus.hidden = !(screenShown || viewerShown);
  dom.stage.dataset.focus = String(!dom.focus.hidden);

  const caucus = s.room?.caucus;
  const excluded = Boolean(caucus) && (s.self?.excluded || s.self?.role === excludedRole(s.room));
  dom.caucusNotice.hidden = !excluded;
  if (excluded) {
    if (dom.caucusTimer.dataset.since !== String(caucus.started_at)) {
      setTimer(dom.caucusTimer, caucus.started_at, "caucus.timer");
    }
  } else {
    setTimer(dom.caucusTimer, null);
  }

  renderControls(s);
  renderSide(s);
  document.body.dataset.drawer = String(s.drawerOpen && !s.wide);
  if (chatVisible(s) && s.chat.unread) hooks.chatSeen();
}

function renderDismissed(s) {
  const kind = s.dismissal?.kind === "removed" ? "removed" : "rejected";
  setText(dom.dismissedTitle, t(`dismissed.${kind}`));
  const reason = s.dismissal?.reason;
  setText(dom.dismissedReason, reason ? t("dismissed.reason", { reason }) : "");
  dom.dismissedReason.hidden = !reason;
}

/** The live regions say the newest announcement of each kind, once. */
const announced = { polite: 0, assertive: 0 };

function renderAnnouncements(s) {
  for (const assertive of [false, true]) {
    const which = assertive ? "assertive" : "polite";
    const region = assertive ? dom.liveAssertive : dom.livePolite;
    const latest = s.announcements.findLast((a) => a.assertive === assertive);
    if (!latest || latest.seq === announced[which]) continue;
    announced[which] = latest.seq;
    const params = { ...latest.params };
    for (const [name, key] of Object.entries(latest.paramKeys ?? {})) params[name] = t(key);
    // The same words twice in a row would not be read again: vary them invisibly.
    const text = t(latest.key, params);
    region.textContent = region.textContent === text ? `${text}\u00a0` : text;
  }
}

/**
 * Render everything. `media` gives the live streams (`localStream()`, `remoteStream(id)`,
 * `remoteScreen(id)`, `localScreen()`); `hooks` has `rerender()`, `autoplayBlocked()`,
 * `chatSeen()`.
 */
export function render(s, media, hooks) {
  for (const section of dom.views) section.hidden = section.dataset.view !== s.view;
  document.body.dataset.view = s.view;
  renderTopbar(s);
  if (s.view === "refused") renderRefused(s);
  if (s.view === "join") renderJoin(s, media);
  if (s.view === "lobby") renderLobby(s, media);
  if (s.view === "room") renderRoom(s, media, hooks);
  if (s.view === "dismissed") renderDismissed(s);
  if (s.view !== "join") attach(dom.previewVideo, null);
  if (s.view !== "lobby") attach(dom.lobbyPreview, null);
  if (s.view !== "room") {
    for (const entry of tiles.values()) entry.tile.remove();
    tiles.clear();
    attach(dom.selfTile.querySelector("video"), null);
    attach(dom.screenTile.querySelector("video"), null);
    document.body.dataset.drawer = "false";
  }
  renderDialogs(s);
  renderAnnouncements(s);
}

/** The `videoWidth` of each remote tile's <video> (0 before the first frame). */
export function tileVideoWidths() {
  const widths = {};
  for (const [id, entry] of tiles) widths[id] = entry.video.videoWidth;
  return widths;
}

/** What each remote tile shows (`data-video`): on | off | waiting | paused | blocked | … */
export function tileStates() {
  const states = {};
  for (const [id, entry] of tiles) states[id] = entry.tile.dataset.video;
  return states;
}
