// The Socket.IO wrapper: one typed helper per command (docs/protocol.md), one place for errors.
//
// Needs the socket.io-client global `io` (loaded by a classic <script> before the modules).

const ACK_TIMEOUT_MS = 10_000;

/** Connect-time refusal codes: the connection is refused for good, retrying won't help. */
export const REFUSAL_CODES = new Set([
  "token_missing",
  "token_malformed",
  "token_invalid",
  "token_expired",
  "token_foreign",
  "token_revoked",
  "token_unknown",
  "room_not_found",
]);

/** Connect-time refusals that pass: another server holds the room just now (several nodes), a
 * server about to stop, the case record briefly unreachable. The page tries again by itself. */
const RETRY_CODES = new Set([
  "room_elsewhere",
  "node_draining",
  "database_unavailable",
  "internal",
]);
const MAX_CONNECT_RETRIES = 40; // ~1.5 min at up to 3 s apart, then the refusal is shown

/** A command the server refused; `body` is the protocol's error body. */
export class CommandError extends Error {
  constructor(body) {
    super(`${body.event ?? "command"}: ${body.code}: ${body.message}`);
    this.body = body;
    this.code = body.code;
  }
}

/** Facts the server sends; each is passed to `handlers[name](payload)`. */
const FACTS = [
  "joined",
  "offer",
  "room_view",
  "chat",
  "evidence_added",
  "dismissed",
  "replaced",
  "agreement",
];

/**
 * Open (lazily) a Socket.IO connection for one room.
 *
 * `handlers` receives the server's facts by name, plus the connection's own life:
 * `connecting()`, `connected()`, `reconnecting(reason)`, `closed(reason)`, and `error(body)`
 * -- the single place that sees every error: `error` events, and connect-time refusals
 * (with `body.refused = true`).
 */
export function createSignaling({ token, roomId, handlers }) {
  const socket = io({
    auth: { token, room_id: roomId },
    // Names the room in the address too: with several servers, whichever one this reaches
    // forwards the connection to the server that holds the room.
    query: { room_id: roomId },
    transports: ["websocket", "polling"],
    autoConnect: false,
    reconnection: true,
    // Retry often: a phone back on the network should be back in the room within seconds.
    reconnectionDelay: 500,
    reconnectionDelayMax: 2000,
  });

  for (const name of FACTS) {
    socket.on(name, (payload) => handlers[name]?.(payload ?? {}));
  }
  socket.on("error", (body) => handlers.error(body ?? { code: "internal", message: "" }));

  let retries = 0;
  socket.on("connect", () => {
    retries = 0;
    handlers.connected();
  });
  socket.on("connect_error", (err) => {
    const body = err?.data;
    if (body && RETRY_CODES.has(body.code) && retries < MAX_CONNECT_RETRIES) {
      retries += 1;
      handlers.reconnecting(body.code);
      setTimeout(() => socket.connect(), Math.min(500 * retries, 3000));
      return;
    }
    if (body && typeof body.code === "string") {
      // Refused by the server's connect handler: Socket.IO does not retry these by itself.
      handlers.error({ ...body, refused: REFUSAL_CODES.has(body.code) || !socket.active });
      return;
    }
    if (!socket.active) {
      // Refused without the protocol's error body (docs/protocol.md: `data` carries it).
      handlers.error({ code: "connect_refused", message: err?.message ?? "", refused: true });
      return;
    }
    // A transport failure (server down, network lost): Socket.IO keeps retrying.
    handlers.reconnecting(err?.message ?? "connect_error");
  });
  socket.on("disconnect", (reason) => {
    // "io server disconnect" (kicked, e.g. replaced) and "io client disconnect" (we left)
    // are final; anything else is retried by Socket.IO.
    if (socket.active) handlers.reconnecting(reason);
    else handlers.closed(reason);
  });

  function command(name, payload) {
    return new Promise((resolve, reject) => {
      // No buffering across a reconnect: the server's state is per connection, and a command
      // from the old one would reach the new one before its `join` (and be refused).
      if (!socket.connected) {
        reject(new CommandError({ code: "not_connected", message: "offline", event: name }));
        return;
      }
      socket.timeout(ACK_TIMEOUT_MS).emit(name, payload, (timeoutErr, ack) => {
        if (timeoutErr) {
          reject(new CommandError({ code: "ack_timeout", message: "no reply", event: name }));
        } else if (ack && ack.ok === false) {
          // The server emits an `error` event too; handlers.error reports it to the user.
          reject(new CommandError(ack.error ?? { code: "internal", message: "", event: name }));
        } else {
          resolve(ack ?? {});
        }
      });
    });
  }

  return {
    connect() {
      handlers.connecting();
      socket.connect();
    },
    disconnect() {
      socket.disconnect();
    },
    get connected() {
      return socket.connected;
    },

    /** `{name?, audio, video}` → ack; the server follows with `joined` (and an `offer` once
     * this participant is in the room). */
    join({ name, audio, video }) {
      const payload = { audio: Boolean(audio), video: Boolean(video) };
      if (name) payload.name = name;
      return command("join", payload);
    },
    /** Answer the offer of `revision`. */
    answer({ sdp, revision }) {
      return command("answer", { type: "answer", sdp, revision });
    },
    /** One local ICE candidate, or `null` at the end of gathering. */
    iceCandidate(candidate) {
      const payload = candidate
        ? {
            candidate: candidate.candidate,
            sdpMid: candidate.sdpMid,
            sdpMLineIndex: candidate.sdpMLineIndex,
          }
        : { candidate: null };
      return command("ice_candidate", payload);
    },
    setMediaState({ audio, video }) {
      return command("set_media_state", { audio: Boolean(audio), video: Boolean(video) });
    },
    leave() {
      return command("leave", {});
    },

    // -- a party in the lobby --
    consent(accept) {
      return command("consent", { accept: Boolean(accept) });
    },
    /** Ack: `{ok, match, attempts_left}`. */
    verifyIdentity(phoneLast4) {
      return command("verify_identity", { phone_last4: phoneLast4 });
    },

    // -- the mediator --
    admit(participantId) {
      return command("admit", { participant_id: participantId });
    },
    reject(participantId, reason) {
      return command("reject", { participant_id: participantId, reason });
    },
    removeParticipant(participantId, reason) {
      const payload = { participant_id: participantId };
      if (reason) payload.reason = reason;
      return command("remove_participant", payload);
    },
    startCaucus(role) {
      return command("start_caucus", { role });
    },
    endCaucus() {
      return command("end_caucus", {});
    },
    muteParticipant(participantId, kind, muted) {
      return command("mute_participant", { participant_id: participantId, kind, muted });
    },
    lowerHand(participantId) {
      return command("lower_hand", { participant_id: participantId });
    },
    lockRoom(locked) {
      return command("lock_room", { locked: Boolean(locked) });
    },
    /** `evidenceId` null stops showing. */
    showEvidence(evidenceId) {
      return command("show_evidence", { evidence_id: evidenceId ?? null });
    },
    setScreenShare(active) {
      return command("set_screen_share", { active: Boolean(active) });
    },
    /** Record everyone in the room; a caucus too only with `includeCaucus`. */
    startRecording(includeCaucus) {
      return command("start_recording", { include_caucus: Boolean(includeCaucus) });
    },
    /** Acked once the last segments are closed and on the case record. */
    stopRecording() {
      return command("stop_recording", {});
    },
    /** `reason` with not_settled (调解终止), `nextSittingAt` (ISO 8601 with offset) with
     * adjourned; refused (`agreement_not_sealed`, …) → a CommandError. */
    endSitting(outcome, note, { reason, nextSittingAt } = {}) {
      const payload = { outcome };
      if (note) payload.note = note;
      if (reason) payload.reason = reason;
      if (nextSittingAt) payload.next_sitting_at = nextSittingAt;
      return command("end_sitting", payload);
    },

    // -- anyone in the room --
    raiseHand(raised) {
      return command("raise_hand", { raised: Boolean(raised) });
    },
    requestUnmute(kind) {
      return command("request_unmute", { kind });
    },
    /** Ack: `{ok, message}` — the stored message. */
    chat(text, clientId) {
      return command("chat", { text, client_id: clientId });
    },

    // -- the settlement agreement (acks carry `{agreement, pdf_url}`) --
    agreementStart() {
      return command("agreement_start", {});
    },
    /** The whole set of terms, made on `version`. */
    agreementUpdate(terms, version) {
      return command("agreement_update", { terms, version });
    },
    /** Sign the text of `textSha256` with a drawn PNG (a data URL) and the typed name. */
    agreementSign({ textSha256, name, image }) {
      return command("agreement_sign", { text_sha256: textSha256, name, image });
    },
    agreementAbandon(reason) {
      return command("agreement_abandon", reason ? { reason } : {});
    },
  };
}
