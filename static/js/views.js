// Small render functions: state (+ the live media streams) → DOM. No state changes here.

import { t } from "./i18n.js";
import { connectionWord } from "./state.js";

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** Elements rendered into, found once. */
export const dom = {
  views: document.querySelectorAll("[data-view]"),
  caseLine: $("case-line"),
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
  connectionFailed: $("connection-failed"),
  reconnectButton: $("reconnect-button"),
  notice: $("notice"),
  noticeText: $("notice-text"),
  noticeDismiss: $("notice-dismiss"),
  unblockAudio: $("unblock-audio"),
  waiting: $("waiting"),
  tiles: $("tiles"),
  selfTile: $("tile-self"),
  toggleAudio: $("toggle-audio"),
  toggleVideo: $("toggle-video"),
  leaveButton: $("leave-button"),
  rejoinButton: $("rejoin-button"),
  continueHereButton: $("continue-here-button"),
};

/** participant id → the tile's elements. */
const tiles = new Map();

export function roleLabel(role) {
  return role ? t(`role.${role}`) : "";
}

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
  el.replaceChildren();
  const avatar = document.createElement("span");
  avatar.className = "avatar";
  avatar.textContent = avatarLetter(name);
  const words = document.createElement("span");
  words.className = "placeholder-text";
  words.textContent = text;
  el.append(avatar, words);
}

function renderTopbar(s) {
  const inv = s.room ?? s.invitation;
  const number = inv?.case_number;
  dom.caseLine.textContent = number ? t("case.line", { number, title: inv.title ?? "" }) : "";
  const inRoom = s.view === "room";
  dom.connState.hidden = !inRoom;
  if (inRoom) {
    const word = connectionWord(s);
    dom.connState.textContent = t(`conn.${word}`);
    dom.connState.dataset.state = word;
  }
}

function renderRefused(s) {
  const code = s.refusal?.code ?? "unknown";
  const known = [
    "token_missing",
    "token_malformed",
    "token_invalid",
    "token_expired",
    "token_foreign",
    "token_revoked",
    "token_unknown",
    "room_not_found",
    "network",
  ].includes(code);
  const key = known ? `refused.${code}` : "refused.unknown";
  dom.errorMessage.textContent = t(key, { code });
  dom.errorMessage.dataset.code = code;
  dom.errorAdvice.textContent = t(`${key}.todo`);
  // Only a network failure is worth retrying from here; the rest need a new link.
  dom.retryButton.hidden = code !== "network";
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

function renderJoin(s, media) {
  const inv = s.invitation;
  dom.invitedRole.textContent = roleLabel(inv?.role);
  dom.invitedName.textContent = inv?.name ?? "";
  if (document.activeElement !== dom.nameInput && dom.nameInput.value !== s.name) {
    dom.nameInput.value = s.name;
  }
  attach(dom.previewVideo, s.local.video ? media.localStream() : null);
  const showPlaceholder = s.local.starting || !s.local.video;
  dom.previewPlaceholder.hidden = !showPlaceholder;
  // Without a camera the preview shrinks, so the join button stays within a thumb's reach.
  dom.previewVideo.parentElement.classList.toggle("preview-off", !s.local.starting && !s.local.video);
  if (showPlaceholder) {
    renderPlaceholder(dom.previewPlaceholder, {
      name: s.name,
      text: t(s.local.starting ? "join.preview.starting" : "join.preview.off"),
    });
  }
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
  const muted = document.createElement("span");
  muted.className = "tile-muted";
  label.append(name, muted);
  tile.append(video, placeholder, label);
  return { tile, video, placeholder, name, muted };
}

function renderTile(entry, p, stream, onAutoplayBlocked) {
  attach(entry.video, stream, onAutoplayBlocked);
  entry.name.textContent = t("room.tile.label", { role: roleLabel(p.role), name: p.name });
  entry.muted.textContent = p.audio === false ? t("room.mic.off") : "";
  entry.muted.hidden = p.audio !== false;
  const cameraOff = p.video === false;
  const noPicture = !cameraOff && !(entry.video.videoWidth > 0);
  entry.placeholder.hidden = !(cameraOff || noPicture);
  entry.tile.dataset.video = cameraOff ? "off" : noPicture ? "waiting" : "on";
  if (cameraOff || noPicture) {
    renderPlaceholder(entry.placeholder, {
      name: p.name,
      text: t(cameraOff ? "room.camera.off" : "room.video.waiting"),
    });
  }
}

function renderRoom(s, media, hooks) {
  const failed = connectionWord(s) === "failed";
  dom.connectionFailed.hidden = !failed;
  dom.notice.hidden = !s.notice;
  if (s.notice) {
    const params = { ...s.notice.params };
    for (const [name, key] of Object.entries(s.notice.paramKeys ?? {})) params[name] = t(key);
    dom.noticeText.textContent = t(s.notice.key, params);
  }
  dom.unblockAudio.hidden = !s.audioBlocked;
  dom.waiting.hidden = s.participants.length > 0 || s.connection !== "connected" || !s.self;

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
    renderTile(entry, p, media.remoteStream(p.id), hooks.autoplayBlocked);
  }
  dom.tiles.dataset.count = String(s.participants.length);

  const selfVideo = dom.selfTile.querySelector("video");
  const selfPlaceholder = dom.selfTile.querySelector(".placeholder");
  attach(selfVideo, s.local.video ? media.localStream() : null);
  selfPlaceholder.hidden = s.local.video;
  if (!s.local.video) {
    renderPlaceholder(selfPlaceholder, { name: s.name, text: t("room.camera.off") });
  }
  // The corner picture is small: "me" says enough; the tooltip has the rest.
  const self = s.self ?? { role: s.invitation?.role, name: s.name };
  dom.selfTile.querySelector(".tile-label").textContent = t("room.you");
  dom.selfTile.title = t("room.self.label", { role: roleLabel(self.role), name: self.name ?? "" });

  renderToggle(dom.toggleAudio, s.local.audio, "ctl.mic");
  renderToggle(dom.toggleVideo, s.local.video, "ctl.camera");
}

function renderToggle(button, on, prefix) {
  button.setAttribute("aria-pressed", String(!on));
  button.dataset.on = String(on);
  button.querySelector(".ctl-label").textContent = t(`${prefix}.${on ? "on" : "off"}`);
}

/**
 * Render everything. `media` gives the live streams (`localStream()`, `remoteStream(id)`);
 * `hooks` has `rerender()` and `autoplayBlocked()`.
 */
export function render(s, media, hooks) {
  for (const section of dom.views) section.hidden = section.dataset.view !== s.view;
  document.body.dataset.view = s.view;
  renderTopbar(s);
  if (s.view === "refused") renderRefused(s);
  if (s.view === "join") renderJoin(s, media);
  if (s.view === "room") renderRoom(s, media, hooks);
  if (s.view !== "join") attach(dom.previewVideo, null);
  if (s.view !== "room") {
    for (const entry of tiles.values()) entry.tile.remove();
    tiles.clear();
    attach(dom.selfTile.querySelector("video"), null);
  }
}

/** The `videoWidth` of each remote tile's <video> (0 before the first frame). */
export function tileVideoWidths() {
  const widths = {};
  for (const [id, entry] of tiles) widths[id] = entry.video.videoWidth;
  return widths;
}
