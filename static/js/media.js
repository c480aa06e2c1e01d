// Local devices and the one RTCPeerConnection per join (the server offers, we answer).

const GATHER_LIMIT_MS = 2000;

/** A getUserMedia failure as one of our message codes (`media.<code>` in i18n). */
export function mediaErrorCode(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "notfound";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    case "InsecureContext":
      return "insecure";
    default:
      return "failed";
  }
}

function constraintFor(kind, deviceId) {
  if (deviceId) return { deviceId: { exact: deviceId } };
  // Small frames by default: three parties on a phone, relayed by a Python SFU.
  return kind === "video" ? { width: { ideal: 640 }, height: { ideal: 480 } } : true;
}

/**
 * Open the microphone and/or camera. Resolves `{tracks: {audio?, video?}, errors: {audio?, video?}}`
 * with error codes from `mediaErrorCode`; never rejects. When both are asked for and one is
 * missing, the other is still opened.
 */
export async function acquireMedia({ audio, video, micId = "", cameraId = "" }) {
  const result = { tracks: {}, errors: {} };
  const wanted = [audio && "audio", video && "video"].filter(Boolean);
  if (wanted.length === 0) return result;
  if (!navigator.mediaDevices?.getUserMedia) {
    for (const kind of wanted) result.errors[kind] = "insecure";
    return result;
  }
  const ids = { audio: micId, video: cameraId };
  const open = async (kinds) => {
    const constraints = {};
    for (const kind of kinds) constraints[kind] = constraintFor(kind, ids[kind]);
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    for (const track of stream.getTracks()) result.tracks[track.kind] = track;
  };
  try {
    await open(wanted);
  } catch (err) {
    const code = mediaErrorCode(err);
    if (wanted.length === 2 && code !== "denied" && code !== "insecure") {
      // One device may be missing or busy: try each alone so the other still works.
      for (const kind of wanted) {
        try {
          await open([kind]);
        } catch (kindErr) {
          result.errors[kind] = mediaErrorCode(kindErr);
        }
      }
    } else {
      for (const kind of wanted) result.errors[kind] = code;
    }
  }
  return result;
}

/** `{cameras: [{id, label}], mics: [...]}`; labels are empty before permission is granted. */
export async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], mics: [] };
  const devices = await navigator.mediaDevices.enumerateDevices();
  const pick = (kind) =>
    devices
      .filter((d) => d.kind === kind && d.deviceId)
      .map((d) => ({ id: d.deviceId, label: d.label }));
  return { cameras: pick("videoinput"), mics: pick("audioinput") };
}

/**
 * The peer connection of one `joined`: answers the server's offers, publishes the local tracks
 * on the mids the offer names, and maps incoming tracks to participants by mid.
 *
 * Callbacks: `onState({ice, connection})`, `onRemoteStreams()` (the participant → stream map
 * changed), `onAnswered(revision)`.
 */
export class PeerSession {
  constructor({ iceServers, signaling, localTracks, onState, onRemoteStreams }) {
    this.signaling = signaling;
    this.localTracks = localTracks; // () => {audio?, video?, screen?: MediaStreamTrack}
    this.onState = onState;
    this.onRemoteStreams = onRemoteStreams;
    /** mid → {participant_id, role, kind}, from the offers' `tracks`. */
    this.owners = new Map();
    /** participant id → MediaStream of the receiver tracks on their mids. */
    this.streams = new Map();
    /** participant id → MediaStream of their shared screen. */
    this.screens = new Map();
    this.publish = {};
    this.closed = false;
    this.answerSent = false;
    this.queue = Promise.resolve();

    this.pc = new RTCPeerConnection({ iceServers: iceServers ?? [], bundlePolicy: "max-bundle" });
    this.pc.addEventListener("iceconnectionstatechange", () => this.reportState());
    this.pc.addEventListener("connectionstatechange", () => this.reportState());
    this.pc.addEventListener("track", (event) => this.attachTrack(event.transceiver));
    this.pc.addEventListener("icecandidate", (event) => this.trickle(event.candidate));
  }

  state() {
    return { ice: this.pc.iceConnectionState, connection: this.pc.connectionState };
  }

  reportState() {
    if (!this.closed) this.onState(this.state());
  }

  /** Answer one offer; offers are handled one after another in arrival order. */
  handleOffer(offer) {
    const answered = this.queue.then(() => this.answerOffer(offer));
    // One failed offer must not block the ones after it.
    this.queue = answered.catch(() => {});
    return answered;
  }

  async answerOffer({ sdp, revision, publish = {}, tracks = {} }) {
    if (this.closed) return;
    for (const [mid, owner] of Object.entries(tracks)) this.owners.set(mid, owner);
    this.publish = publish;
    this.answerSent = false;

    await this.pc.setRemoteDescription({ type: "offer", sdp });
    for (const transceiver of this.pc.getTransceivers()) {
      const kind = this.publishKind(transceiver.mid);
      if (kind) {
        transceiver.direction = "sendonly";
        const track = this.localTracks()[kind] ?? null;
        if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
      } else {
        this.attachTrack(transceiver);
      }
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.gathered();
    if (this.closed) return;
    this.answerSent = true;
    // Every candidate gathered so far is in localDescription; later ones are trickled.
    await this.signaling.answer({ sdp: this.pc.localDescription.sdp, revision });
  }

  /** Resolve when ICE gathering completes, or after GATHER_LIMIT_MS. */
  gathered() {
    if (this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => {
        if (this.pc.iceGatheringState === "complete") done();
      };
      const timer = setTimeout(done, GATHER_LIMIT_MS);
      this.pc.addEventListener("icegatheringstatechange", check);
    });
  }

  trickle(candidate) {
    // Before the answer is sent the candidate travels inside it; the server can't take a
    // candidate for an answer it has not seen yet.
    if (this.closed || !this.answerSent) return;
    // An empty `candidate` string is Chrome's per-generation end marker; `null` follows it.
    if (candidate && !candidate.candidate) return;
    this.signaling.iceCandidate(candidate).catch((err) => console.warn("ice_candidate:", err));
  }

  /** `audio`, `video` or `screen` (the mediator's shared screen) if we send on `mid`. */
  publishKind(mid) {
    if (mid == null) return null;
    for (const kind of ["audio", "video", "screen"]) {
      if (this.publish[kind] === mid) return kind;
    }
    return null;
  }

  attachTrack(transceiver) {
    const owner = this.owners.get(transceiver.mid);
    if (!owner || this.publishKind(transceiver.mid)) return;
    const track = transceiver.receiver.track;
    // A shared screen is a picture of its own, not the sharer's camera.
    const streams = owner.kind === "screen" ? this.screens : this.streams;
    let stream = streams.get(owner.participant_id);
    if (!stream) {
      stream = new MediaStream();
      streams.set(owner.participant_id, stream);
    }
    if (stream.getTrackById(track.id)) return;
    for (const old of stream.getTracks()) {
      if (old.kind === track.kind) stream.removeTrack(old);
    }
    stream.addTrack(track);
    this.onRemoteStreams();
  }

  streamFor(participantId) {
    return this.streams.get(participantId) ?? null;
  }

  /** The stream of `participantId`'s shared screen (the `screen` kind mid), if any. */
  screenFor(participantId) {
    return this.screens.get(participantId) ?? null;
  }

  /** Put `track` (or null) on our publish mid for `kind`; no renegotiation is needed. */
  async setLocalTrack(kind, track) {
    const mid = this.publish[kind];
    if (mid == null || this.closed) return;
    const transceiver = this.pc.getTransceivers().find((tr) => tr.mid === mid);
    if (transceiver && transceiver.sender.track !== track) {
      await transceiver.sender.replaceTrack(track);
    }
  }

  /** Per participant `{framesDecoded, audioEnergy, screenFramesDecoded}` from the inbound-rtp
   * stats. */
  async remoteStats() {
    const byTrack = new Map();
    for (const transceiver of this.pc.getTransceivers()) {
      const owner = this.owners.get(transceiver.mid);
      if (owner) byTrack.set(transceiver.receiver.track.id, owner);
    }
    const byMid = this.owners;
    const result = {};
    const report = await this.pc.getStats();
    for (const stat of report.values()) {
      if (stat.type !== "inbound-rtp") continue;
      const owner = byMid.get(stat.mid) ?? byTrack.get(stat.trackIdentifier);
      if (!owner) continue;
      const entry = (result[owner.participant_id] ??= {
        framesDecoded: 0,
        audioEnergy: 0,
        screenFramesDecoded: 0,
      });
      if (owner.kind === "screen") entry.screenFramesDecoded += stat.framesDecoded ?? 0;
      else if (stat.kind === "video") entry.framesDecoded += stat.framesDecoded ?? 0;
      if (stat.kind === "audio") entry.audioEnergy += stat.totalAudioEnergy ?? 0;
    }
    return result;
  }

  /** The raw stats as plain objects (for test failure dumps). */
  async rawStats() {
    const report = await this.pc.getStats();
    return [...report.values()].map((s) => ({ ...s }));
  }

  close() {
    this.closed = true;
    this.pc.close();
  }
}
