// The side panel (people and lobby for the mediator, chat, evidence), the evidence viewer and the
// mediator's dialogs: state → DOM, nothing else. Buttons in lists carry `data-action`/`data-id`.

import { t } from "./i18n.js";
import { CHAT_LIMIT, excludedRole, isMediator } from "./state.js";
import { $, clock, el, fileSize, keyedList, roleLabel, setText, setTimer } from "./ui.js";

const dom = {
  side: $("side-panel"),
  tabs: document.querySelectorAll("[data-panel-tab]"),
  panels: document.querySelectorAll("[data-panel]"),
  tabPeople: $("tab-people"),
  tabPeopleBadge: $("tab-people-badge"),
  tabChatBadge: $("tab-chat-badge"),

  caucusConsumer: $("caucus-consumer"),
  caucusBusiness: $("caucus-business"),
  caucusEnd: $("caucus-end"),
  lockRoom: $("lock-room"),
  endSitting: $("end-sitting"),
  recordingIncludeCaucus: $("recording-include-caucus"),
  recordingStart: $("recording-start"),
  recordingStop: $("recording-stop"),
  recordingError: $("recording-error"),
  lobbyCount: $("lobby-count"),
  lobbyEmpty: $("lobby-empty"),
  lobbyList: $("lobby-list"),
  peopleEmpty: $("people-empty"),
  participantList: $("participant-list"),

  chatNote: $("chat-caucus-note"),
  chatEmpty: $("chat-empty"),
  chatList: $("chat-list"),
  chatInput: $("chat-input"),
  chatCount: $("chat-count"),
  chatSend: $("chat-send"),

  uploadList: $("upload-list"),
  evidenceTitle: $("evidence-list-title"),
  evidenceEmpty: $("evidence-empty"),
  evidenceList: $("evidence-list"),

  viewer: $("evidence-viewer"),
  viewerTitle: $("viewer-title"),
  viewerZoom: $("viewer-zoom"),
  viewerClose: $("viewer-close"),
  viewerBody: $("viewer-body"),
  viewerMessage: $("viewer-message"),
  viewerImage: $("viewer-image"),
  viewerPdf: $("viewer-pdf"),
  viewerOpen: $("viewer-open"),

  reasonDialog: $("reason-dialog"),
  reasonTitle: $("reason-title"),
  reasonLabel: $("reason-label"),
  reasonInput: $("reason-input"),
  reasonError: $("reason-error"),
  reasonConfirm: $("reason-confirm"),
  endDialog: $("end-dialog"),
};
export { dom as panelDom };

function who(p) {
  return t("person.who", { role: roleLabel(p.role), name: p.name ?? "" });
}

function button(label, { action, id, kind, testid, aria, className = "btn btn-small" }) {
  const b = el("button", { type: "button", className, textContent: label });
  b.dataset.action = action;
  if (id !== undefined) b.dataset.id = String(id);
  if (kind) b.dataset.kind = kind;
  if (testid) b.dataset.testid = testid;
  if (aria) b.setAttribute("aria-label", aria);
  return b;
}

function fact(testid) {
  const span = el("span", { className: "fact" });
  if (testid) span.dataset.testid = testid;
  return span;
}

// ---- people: the lobby and the participant list (the mediator) ---------------------------

function makeLobbyRow(p) {
  const li = el("li", { className: "person" });
  li.dataset.testid = `lobby-${p.id}`;
  const name = el("span", { className: "person-name" });
  const waited = el("span", { className: "person-timer timer" });
  waited.dataset.testid = `lobby-waiting-${p.id}`;
  const head = el("div", {
    className: "person-head",
    children: [el("span", { className: "role-badge" }), name, waited],
  });
  const facts = el("div", {
    className: "person-facts",
    children: [fact(`lobby-consent-${p.id}`), fact(`lobby-identity-${p.id}`), fact()],
  });
  const actions = el("div", {
    className: "person-actions",
    children: [
      button("", {
        action: "admit",
        id: p.id,
        testid: `admit-${p.id}`,
        className: "btn btn-small btn-primary",
      }),
      button("", { action: "reject", id: p.id, testid: `reject-${p.id}` }),
    ],
  });
  li.append(head, facts, actions);
  return li;
}

function updateLobbyRow(li, p, s) {
  const [badge, name, waited] = li.firstChild.children;
  setText(badge, roleLabel(p.role));
  setText(name, p.name);
  if (waited.dataset.since !== String(p.waiting_since)) {
    setTimer(waited, p.waiting_since ?? null, "lobby.waited");
  }
  const [consent, identity, offline] = li.children[1].children;
  setText(consent, t(`lobby.consent.${p.consent}`));
  consent.dataset.consent = p.consent;
  const id = p.identity ?? "unchecked";
  setText(identity, t(`lobby.identity.${id}`));
  identity.dataset.identity = id;
  setText(offline, p.connected === false ? t("lobby.offline") : "");
  offline.hidden = p.connected !== false;
  const [admit, reject] = li.children[2].children;
  admit.hidden = Boolean(p.admitted);
  setText(admit, t("lobby.admit"));
  admit.setAttribute("aria-label", t("lobby.admit.label", { who: who(p) }));
  setText(reject, t("lobby.reject"));
  reject.setAttribute("aria-label", t("lobby.reject.label", { who: who(p) }));
  li.dataset.new = String(s.lobbyNew.includes(p.id));
  li.dataset.admitted = String(Boolean(p.admitted));
}

function makePersonRow(p) {
  const li = el("li", { className: "person" });
  li.dataset.testid = `person-${p.id}`;
  const quality = el("span", { className: "quality" });
  quality.dataset.testid = `quality-${p.id}`;
  const head = el("div", {
    className: "person-head",
    children: [
      el("span", { className: "role-badge" }),
      el("span", { className: "person-name" }),
      quality,
    ],
  });
  const reconnecting = fact(`person-reconnecting-${p.id}`);
  const hand = fact(`person-hand-${p.id}`);
  const unmute = fact(`person-unmute-${p.id}`);
  const devices = fact(`person-devices-${p.id}`);
  const facts = el("div", {
    className: "person-facts",
    children: [reconnecting, hand, unmute, devices],
  });
  const actions = el("div", {
    className: "person-actions",
    children: [
      button("", { action: "mute", id: p.id, kind: "audio", testid: `mute-audio-${p.id}` }),
      button("", { action: "mute", id: p.id, kind: "video", testid: `mute-video-${p.id}` }),
      button("", { action: "lower-hand", id: p.id, testid: `lower-hand-${p.id}` }),
      button("", {
        action: "remove",
        id: p.id,
        testid: `remove-${p.id}`,
        className: "btn btn-small btn-stop-quiet",
      }),
    ],
  });
  li.append(head, facts, actions);
  return li;
}

function updatePersonRow(li, p) {
  const [badge, name, quality] = li.firstChild.children;
  setText(badge, roleLabel(p.role));
  setText(name, p.name);
  const level = p.quality?.level ?? null;
  quality.hidden = !level;
  quality.dataset.level = level ?? "";
  if (level) {
    setText(quality, t(`quality.${level}`));
    quality.title = t("quality.detail", {
      rtt: p.quality.rtt_ms ?? "?",
      loss: p.quality.loss_pct ?? "?",
    });
  }
  const [reconnecting, hand, unmute, devices] = li.children[1].children;
  reconnecting.hidden = p.connected !== false;
  setText(reconnecting, t("room.reconnecting"));
  hand.hidden = !p.hand_raised;
  setText(hand, t("room.hand"));
  const requested = p.unmute_requested ?? [];
  unmute.hidden = requested.length === 0;
  setText(unmute, requested.map((kind) => t(`people.unmute.${kind}`)).join(" · "));
  const words = [];
  if (p.audio_blocked) words.push(t("people.audio.blocked"));
  else if (p.audio === false) words.push(t("room.mic.off"));
  if (p.video_blocked) words.push(t("people.video.blocked"));
  else if (p.video === false) words.push(t("room.camera.off"));
  devices.hidden = words.length === 0;
  setText(devices, words.join(" · "));

  const [muteAudio, muteVideo, lower, remove] = li.children[2].children;
  for (const [b, kind] of [
    [muteAudio, "audio"],
    [muteVideo, "video"],
  ]) {
    const blocked = Boolean(p[`${kind}_blocked`]);
    b.dataset.muted = String(!blocked); // what a click asks for
    b.setAttribute("aria-pressed", String(blocked));
    const verb = blocked ? "allow" : "stop";
    setText(b, t(`people.${kind}.${verb}`));
    b.setAttribute("aria-label", t(`people.${kind}.${verb}.label`, { who: who(p) }));
    b.classList.toggle("btn-attention", blocked && requested.includes(kind));
  }
  lower.hidden = !p.hand_raised;
  setText(lower, t("people.hand.lower"));
  lower.setAttribute("aria-label", t("people.hand.lower.label", { who: who(p) }));
  setText(remove, t("people.remove"));
  remove.setAttribute("aria-label", t("people.remove.label", { who: who(p) }));
  li.dataset.connected = String(p.connected !== false);
}

/** Start (with or without the caucus) or stop recording; a refusal in words beside them. */
function renderRecordingControls(s) {
  const rec = s.room?.recording ?? null;
  const busy = s.recordingCommand.busy;
  dom.recordingStart.hidden = Boolean(rec);
  dom.recordingStop.hidden = !rec;
  dom.recordingStart.disabled = busy;
  dom.recordingStop.disabled = busy;
  // While recording, the box shows what was chosen (it is fixed until the next start).
  const box = dom.recordingIncludeCaucus;
  box.disabled = Boolean(rec) || busy;
  if (rec) box.checked = Boolean(rec.include_caucus);
  const error = s.recordingCommand.error;
  dom.recordingError.hidden = !error;
  setText(dom.recordingError, error ? t(error.key, error.params ?? {}) : "");
  if (error) dom.recordingError.dataset.code = error.code;
}

function renderPeople(s) {
  const caucus = s.room?.caucus?.role ?? null;
  const present = (role) => s.participants.some((p) => p.role === role);
  for (const [b, role] of [
    [dom.caucusConsumer, "consumer"],
    [dom.caucusBusiness, "business"],
  ]) {
    b.setAttribute("aria-pressed", String(caucus === role));
    b.disabled = caucus === role || !present(role);
  }
  dom.caucusEnd.disabled = !caucus;
  const locked = Boolean(s.room?.locked);
  dom.lockRoom.setAttribute("aria-pressed", String(locked));
  setText(dom.lockRoom, t(locked ? "host.unlock" : "host.lock"));

  renderRecordingControls(s);

  setText(dom.lobbyCount, s.lobby.length ? `(${s.lobby.length})` : "");
  dom.lobbyEmpty.hidden = s.lobby.length > 0;
  keyedList(dom.lobbyList, s.lobby, (p) => p.id, makeLobbyRow, (li, p) => updateLobbyRow(li, p, s));
  dom.peopleEmpty.hidden = s.participants.length > 0;
  keyedList(dom.participantList, s.participants, (p) => p.id, makePersonRow, updatePersonRow);
}

// ---- chat --------------------------------------------------------------------------------

function makeMessage() {
  const meta = el("div", {
    className: "chat-meta",
    children: [
      el("span", { className: "chat-author" }),
      el("span", { className: "chat-time" }),
      el("span", { className: "chat-tag" }),
    ],
  });
  const text = el("p", { className: "chat-text" });
  const li = el("li", { className: "chat-msg", children: [meta, text] });
  li.dataset.testid = "chat-message";
  return li;
}

function updateMessage(li, m, s) {
  const [author, time, tag] = li.firstChild.children;
  const mine = m.author_id === s.self?.id || m.pending;
  const whose = t("person.who", { role: roleLabel(m.role), name: m.author });
  setText(author, mine ? t("chat.me") : whose);
  setText(time, m.pending ? t("chat.sending") : clock(m.at));
  setText(tag, m.audience ? t("chat.caucus.tag", { role: roleLabel(m.audience) }) : "");
  tag.hidden = !m.audience;
  setText(li.lastChild, m.text);
  li.dataset.mine = String(Boolean(mine));
  li.dataset.pending = String(Boolean(m.pending));
  li.dataset.caucus = String(Boolean(m.audience));
  if (m.id !== undefined) li.dataset.id = String(m.id);
}

function renderChat(s) {
  const caucus = s.room?.caucus;
  const excluded = Boolean(caucus) && (s.self?.excluded || s.self?.role === excludedRole(s.room));
  let note = "";
  if (caucus) {
    if (excluded) note = t("chat.caucus.excluded");
    else if (isMediator(s)) note = t("chat.caucus.mediator", { role: roleLabel(caucus.role) });
    else note = t("chat.caucus.party");
  }
  dom.chatNote.hidden = !note;
  setText(dom.chatNote, note);

  const items = [
    ...s.chat.messages,
    ...s.chat.outbox.map((m) => ({ ...m, pending: true, author_id: s.self?.id })),
  ];
  dom.chatEmpty.hidden = items.length > 0;
  const list = dom.chatList;
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  const before = list.childElementCount;
  keyedList(
    list,
    items,
    (m) => (m.pending ? `p:${m.client_id}` : `m:${m.id}`),
    makeMessage,
    (li, m) => updateMessage(li, m, s),
  );
  if (list.childElementCount !== before && nearBottom) list.scrollTop = list.scrollHeight;

  // Nothing crosses a caucus, chat included: the excluded party writes again afterwards.
  dom.chatInput.disabled = excluded;
  dom.chatSend.disabled = excluded;
  const length = [...dom.chatInput.value.trim()].length;
  setText(dom.chatCount, t("chat.count", { n: length, max: CHAT_LIMIT }));
  dom.chatCount.dataset.over = String(length > CHAT_LIMIT);
}

// ---- evidence ----------------------------------------------------------------------------

function uploadWords(u) {
  if (u.status === "uploading") {
    const pct = u.total ? Math.floor((100 * u.loaded) / u.total) : 0;
    return t("upload.progress", { pct });
  }
  if (u.status === "done") return t("upload.done");
  const known = [
    "evidence_too_large",
    "evidence_type_unsupported",
    "not_admitted",
    "invalid_upload",
    "network",
    "token_revoked",
  ];
  return known.includes(u.code)
    ? t(`upload.error.${u.code}`)
    : t("upload.error.other", { code: u.code });
}

function makeUpload(u) {
  const bar = el("progress", { max: 1, value: 0 });
  bar.dataset.testid = "upload-progress";
  const status = el("span", { className: "upload-status" });
  status.dataset.testid = "upload-status";
  const dismiss = button(t("upload.dismiss"), { action: "dismiss-upload", id: u.id });
  const li = el("li", {
    className: "upload",
    children: [el("span", { className: "upload-name" }), bar, status, dismiss],
  });
  li.dataset.testid = "upload";
  return li;
}

function updateUpload(li, u) {
  const [name, bar, status, dismiss] = li.children;
  setText(name, u.name);
  bar.max = u.total || 1;
  bar.value = u.loaded;
  bar.hidden = u.status !== "uploading";
  bar.setAttribute("aria-label", t("upload.progress.label", { name: u.name }));
  setText(status, uploadWords(u));
  li.dataset.status = u.status;
  dismiss.hidden = u.status === "uploading";
  setText(dismiss, t("upload.dismiss"));
  dismiss.setAttribute("aria-label", t("upload.dismiss.label", { name: u.name }));
}

function makeEvidence(e) {
  const li = el("li", {
    className: "evidence",
    children: [
      el("span", { className: "evidence-name" }),
      el("span", { className: "evidence-meta" }),
      el("div", {
        className: "person-actions",
        children: [
          button("", { action: "preview", id: e.id, testid: `preview-evidence-${e.id}` }),
          button("", {
            action: "show",
            id: e.id,
            testid: `show-evidence-${e.id}`,
            className: "btn btn-small btn-primary",
          }),
        ],
      }),
    ],
  });
  li.dataset.testid = `evidence-${e.id}`;
  return li;
}

function updateEvidence(li, e, s) {
  const [name, meta, actions] = li.children;
  setText(name, e.filename);
  const parts = [
    e.role ? t("person.who", { role: roleLabel(e.role), name: e.submitted_by ?? "" }) : "",
    fileSize(e.size),
    e.at ? clock(e.at) : "",
  ];
  if (isMediator(s) && e.sha256) parts.push(`SHA-256 ${e.sha256.slice(0, 12)}…`);
  setText(meta, parts.filter(Boolean).join(" · "));
  const [preview, show] = actions.children;
  setText(preview, t("evidence.preview"));
  preview.setAttribute("aria-label", t("evidence.preview.label", { name: e.filename }));
  const showing = s.room?.evidence?.id === e.id;
  show.hidden = !isMediator(s);
  show.dataset.showing = String(showing);
  show.setAttribute("aria-pressed", String(showing));
  setText(show, t(showing ? "evidence.unshow" : "evidence.show"));
  show.setAttribute(
    "aria-label",
    t(showing ? "evidence.unshow.label" : "evidence.show.label", { name: e.filename }),
  );
  li.dataset.showing = String(showing);
}

function renderEvidence(s) {
  keyedList(dom.uploadList, s.evidence.uploads, (u) => u.id, makeUpload, updateUpload);
  setText(dom.evidenceTitle, t(isMediator(s) ? "evidence.list.mediator" : "evidence.list.party"));
  dom.evidenceEmpty.hidden = s.evidence.list.length > 0;
  keyedList(dom.evidenceList, s.evidence.list, (e) => e.id, makeEvidence, (li, e) =>
    updateEvidence(li, e, s),
  );
}

// ---- the side panel ----------------------------------------------------------------------

/** Render the side panel (a column on desktops, a drawer on phones). */
export function renderSide(s) {
  const mediator = isMediator(s);
  dom.tabPeople.hidden = !mediator;
  for (const tab of dom.tabs) {
    const selected = tab.dataset.panelTab === s.panel;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  for (const panel of dom.panels) panel.hidden = panel.dataset.panel !== s.panel;
  dom.side.dataset.open = String(s.drawerOpen);
  dom.tabPeopleBadge.hidden = s.lobby.length === 0;
  setText(dom.tabPeopleBadge, String(s.lobby.length));
  dom.tabChatBadge.hidden = s.chat.unread === 0;
  setText(dom.tabChatBadge, String(s.chat.unread));
  if (mediator) renderPeople(s);
  renderChat(s);
  renderEvidence(s);
}

// ---- the evidence viewer -----------------------------------------------------------------

/** Zoom of the shown image: scale and pan, kept here (a view detail, not room state). */
export const zoom = { scale: 1, x: 0, y: 0, url: null };

export function applyZoom() {
  const { scale, x, y } = zoom;
  dom.viewerImage.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
  dom.viewerImage.dataset.scale = scale.toFixed(2);
}

/** Render the viewer of the evidence shown (or previewed); returns whether it is on screen. */
export function renderViewer(s) {
  const shown = s.preview ?? s.room?.evidence ?? null;
  const v = s.viewer;
  const visible = Boolean(shown) && !s.viewerCollapsed && v?.id === shown.id;
  dom.viewer.hidden = !visible;
  if (!visible) {
    dom.viewerImage.removeAttribute("src");
    dom.viewerPdf.removeAttribute("src");
    return false;
  }
  const whose = s.preview
    ? t("viewer.title.preview", { name: shown.filename })
    : t("viewer.title.shown", { name: shown.filename });
  setText(dom.viewerTitle, whose);
  dom.viewer.dataset.status = v.status;
  dom.viewer.dataset.kind = v.kind ?? "";
  setText(dom.viewerClose, t(s.preview ? "viewer.close" : "viewer.collapse"));

  const ready = v.status === "ready";
  const image = ready && v.kind === "image";
  const pdfInline = ready && v.kind === "pdf" && s.wide;
  const link = ready && (v.kind === "download" || (v.kind === "pdf" && !s.wide));
  dom.viewerZoom.hidden = !image;
  dom.viewerImage.hidden = !image;
  dom.viewerPdf.hidden = !pdfInline;
  dom.viewerOpen.hidden = !link;
  if (image && dom.viewerImage.getAttribute("src") !== v.url) {
    Object.assign(zoom, { scale: 1, x: 0, y: 0, url: v.url });
    applyZoom();
    dom.viewerImage.src = v.url;
    dom.viewerImage.alt = shown.filename ?? "";
  }
  if (pdfInline && dom.viewerPdf.getAttribute("src") !== v.url) {
    dom.viewerPdf.src = v.url;
    dom.viewerPdf.title = shown.filename ?? "";
  }
  if (link) {
    dom.viewerOpen.href = v.url;
    if (v.kind === "download") dom.viewerOpen.download = shown.filename ?? "evidence";
    else dom.viewerOpen.removeAttribute("download");
    setText(dom.viewerOpen, t(v.kind === "pdf" ? "viewer.open.pdf" : "viewer.download"));
  }
  let message = "";
  if (v.status === "loading") message = t("viewer.loading");
  else if (v.status === "error") message = t("viewer.error", { code: v.code ?? "" });
  else if (v.kind === "download") message = t("viewer.heic");
  setText(dom.viewerMessage, message);
  dom.viewerMessage.hidden = !message;
  return true;
}

// ---- dialogs -----------------------------------------------------------------------------

function syncDialog(dialog, open) {
  if (open && !dialog.open) dialog.showModal();
  if (!open && dialog.open) dialog.close();
}

export function renderDialogs(s) {
  const d = s.dialog;
  const reason = d && (d.kind === "reject" || d.kind === "remove");
  if (reason) {
    const whom = t("person.who", { role: roleLabel(d.role), name: d.name ?? "" });
    setText(dom.reasonTitle, t(`${d.kind}.title`, { who: whom }));
    setText(dom.reasonLabel, t(`${d.kind}.reason`));
    setText(dom.reasonConfirm, t(`${d.kind}.confirm`));
    dom.reasonDialog.dataset.kind = d.kind;
  }
  syncDialog(dom.reasonDialog, Boolean(reason));
  syncDialog(dom.endDialog, d?.kind === "end");
}
