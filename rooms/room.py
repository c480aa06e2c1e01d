"""A live room: who is present, the lobby, the caucus, the rules and the SFU, behind one lock.

Every command is a method here that checks who may do it (the permissions live with the room, not
in the browser), changes the state, writes what happened into the case record, tells the SFU who
may now receive whom, and reports the new picture through the :class:`RoomListener`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from recordings.recorder import SegmentInfo, find_unsealed, seal
from rooms.errors import (
    AlreadyRecording,
    ConsentMissing,
    EvidenceNotFound,
    Forbidden,
    InvalidState,
    NoPhoneOnFile,
    NotAdmitted,
    NotJoined,
    NotRecording,
    ParticipantNotFound,
    RecordingUnavailable,
    RoomClosed,
    RoomLocked,
    TooManyAttempts,
)
from rooms.model import (
    IDENTITY_ATTEMPTS,
    Consent,
    Identity,
    Participant,
    Role,
    RoomState,
    check_transition,
    now_ms,
)
from rooms.recording import RoomRecording
from rooms.sfu import MediaConfig, Sfu

logger = logging.getLogger(__name__)

QUALITY_INTERVAL = 3.0
"""Seconds between two measurements of the participants' connection quality."""
CHAT_MAX_LENGTH = 500
CHAT_HISTORY = 1000
"""Messages a room keeps for late joiners (the case record keeps them all)."""
OUTCOMES = ("settled", "not_settled", "adjourned", "undecided")
AGREEMENT_PLACE = "云端调解室（线上视频调解）"
"""Where the agreement was made, as its PDF says: the room, not a town."""


class RoomListener(Protocol):
    """How a room reports outward; ``signaling/`` implements it (rooms know no Socket.IO)."""

    async def welcome(self, room: Room, participant: Participant) -> None:
        """The participant's ``join`` went through: send them the room as they may see it."""

    async def room_changed(self, room: Room) -> None:
        """Anything visible changed: send everyone their current view."""

    async def chat(self, room: Room, message: dict[str, Any], to: list[Participant]) -> None: ...

    async def dismissed(
        self, room: Room, participant: Participant, kind: str, reason: str, connection_id: str
    ) -> None:
        """The mediator turned the participant away (``rejected``) or put them out (``removed``)."""

    async def offer(self, room: Room, participant: Participant, offer: dict[str, Any]) -> None: ...

    async def agreement(self, room: Room, fact: dict[str, Any], to: list[Participant]) -> None:
        """The settlement agreement as it now stands (the ``agreement`` fact), to ``to``."""

    async def replaced(self, room: Room, participant: Participant, old_connection: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Who:
    """A participant as the case record names them."""

    id: str
    name: str
    role: str


class RoomRecord(Protocol):
    """Where a room writes what happens into its case (``recordings.transcript`` implements it)."""

    async def admit(self, invitation_id: str | None, ip: str, user_agent: str) -> None:
        """Raise if the link may not enter (revoked, unknown); note its use otherwise."""

    async def event(
        self,
        what: str,
        *,
        actor: Who,
        subject: Who | None = None,
        audience: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Write one event of the sitting (``admitted``, ``caucus_started``…) as it happens."""

    async def chat(
        self, author: Who, text: str, audience: str | None, client_id: str | None = None
    ) -> tuple[int, int]:
        """Store a chat message; return its transcript number and time (ms since the epoch)."""

    async def restore(self) -> Sequence[dict[str, Any]]:
        """The events of this sitting so far, oldest first (to rebuild a room after a restart)."""

    async def check_phone(self, role: str, last4: str) -> bool | None:
        """Whether ``last4`` ends the phone number on file for ``role``; ``None`` if none is."""

    async def revoke(self, invitation_id: str, actor: str) -> None:
        """Withdraw a link for good."""

    async def evidence(self, evidence_id: int) -> dict[str, Any] | None:
        """An evidence file of the case (its public view, plus ``participant_id``), or None."""

    async def set_outcome(
        self,
        outcome: str,
        note: str,
        actor: Who,
        *,
        reason: str | None = None,
        next_sitting_at: dt.datetime | None = None,
        data_dir: Path | None = None,
    ) -> None:
        """Conclude the sitting (refused with a case error and nothing changed)."""

    async def recording_segment(self, segment: SegmentInfo, path: str) -> None:
        """Put a closed recording segment (``path`` relative to the data directory) on record."""

    async def close(self, ended: bool) -> None:
        """The room stops: ``ended`` if the sitting is over, else the server is stopping and
        the sitting goes on after a restart."""

    # The settlement agreement (调解协议书): each returns the agreement's view after the change.

    async def agreement(self) -> dict[str, Any] | None:
        """The case's current agreement, or ``None`` if none was started."""

    async def agreement_start(self, actor: Who, data_dir: Path | None) -> dict[str, Any]: ...

    async def agreement_update(
        self, actor: Who, terms: dict[str, Any], version: int, data_dir: Path | None
    ) -> dict[str, Any]: ...

    async def agreement_sign(
        self, signer: Who, *, name: str, text_sha256: str, image_png: bytes, data_dir: Path
    ) -> tuple[dict[str, Any], bool]:
        """Sign; the second value says whether this (the mediator's) signature sealed it."""

    async def agreement_render(
        self, agreement_id: int, data_dir: Path, place: str
    ) -> dict[str, Any]: ...

    async def agreement_abandon(self, actor: Who, reason: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What a room is about."""

    room_id: str
    case_number: str
    title: str
    case_id: int | None = None
    """The case record's id of the case (``None`` for a room without a record: tests, bench)."""
    sitting_id: int | None = None


_GONE_EVENTS = frozenset(
    {"disconnected", "left", "revoked", "removed", "rejected", "lobby_left", "sitting_ended"}
)
"""Transcript events after which a participant is no longer connected."""


def _quality_moved(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> bool:
    """Whether the quality figures changed enough to show (not every millisecond)."""
    if old.keys() != new.keys():
        return True
    for pid, now in new.items():
        before = old[pid]
        if before["level"] != now["level"]:
            return True
        if abs((before["rtt_ms"] or 0) - (now["rtt_ms"] or 0)) >= 50:
            return True
        if abs((before["loss_pct"] or 0) - (now["loss_pct"] or 0)) >= 1:
            return True
    return False


def _who(p: Participant) -> Who:
    return Who(p.id, p.name, p.role.value)


class Room:
    """One sitting of a case. Every command goes through :attr:`lock`, in arrival order."""

    def __init__(
        self,
        info: RoomInfo,
        media: MediaConfig,
        listener: RoomListener,
        record: RoomRecord | None = None,
        recordings_dir: Path | None = None,
    ) -> None:
        self.info = info
        self.recordings_dir = recordings_dir
        """Where recordings go (``<data dir>/recordings``); ``None``: this room can't record."""
        self.recording: RoomRecording | None = None
        self.recording_started_at: int | None = None
        self.record_caucus = False
        self.recording_failures: dict[str, str] = {}
        self.record = record
        self.state = RoomState.OPEN
        self.participants: dict[str, Participant] = {}
        self.lock = asyncio.Lock()
        self.locked = False
        self.caucus_role: Role | None = None
        self.caucus_started_at: int | None = None
        self.screen_share = False
        self.chat_history: list[dict[str, Any]] = []
        self._chat_ids: dict[tuple[str, str], dict[str, Any]] = {}
        self._chat_seq = 0
        self.shown_evidence: dict[str, Any] | None = None
        """The evidence on everyone's screen (its view and ``audience``), if any."""
        self._shown_to: dict[int, set[str | None]] = {}
        self.quality: dict[str, dict[str, Any]] = {}
        self.agreement: dict[str, Any] | None = None
        """The case's settlement agreement as the case record has it (its view), if any."""
        self._agreement_render: asyncio.Task[None] | None = None
        self._restored = record is None
        self._quality_task: asyncio.Task[None] | None = None
        self._listener = listener
        self.sfu = Sfu(info.room_id, media, self._send_offer, self._may_receive, self._may_record)

    @property
    def id(self) -> str:
        return self.info.room_id

    # -- what each one sees ----------------------------------------------------------------

    def present(self) -> list[Participant]:
        """Participants with a live connection (in the room or in the lobby)."""
        return [p for p in self.participants.values() if p.connected]

    def excluded(self, p: Participant) -> bool:
        """Whether ``p`` is the party left out of the running caucus."""
        return self.caucus_role is not None and p.role not in (Role.MEDIATOR, self.caucus_role)

    def _visible(self, audience: str | None, viewer: Participant) -> bool:
        return audience is None or viewer.role in (Role.MEDIATOR, Role(audience))

    def _participant_view(self, p: Participant, viewer: Participant) -> dict[str, Any]:
        view = p.public()
        view["excluded"] = self.excluded(p)
        if viewer.role is Role.MEDIATOR:
            view["waiting_since"] = None if p.in_room else p.waiting_since
            view["identity"] = None if p.role is Role.MEDIATOR else p.identity.value
            view["quality"] = self.quality.get(p.id)
        return view

    def view_for(self, viewer: Participant) -> dict[str, Any]:
        """The room as ``viewer`` may see it (the ``room_view`` fact)."""
        shown = self.shown_evidence
        others = [p for p in self.participants.values() if p is not viewer and not p.departed]
        return {
            "self": self._participant_view(viewer, viewer),
            "room": {
                "id": self.info.room_id,
                "case_number": self.info.case_number,
                "title": self.info.title,
                "state": self.state.value,
                "locked": self.locked,
                "caucus": None
                if self.caucus_role is None
                else {"role": self.caucus_role.value, "started_at": self.caucus_started_at},
                "screen_share": self.screen_share,
                "recording": None
                if self.recording is None
                else {
                    "started_at": self.recording_started_at,
                    "include_caucus": self.record_caucus,
                    "paused": self.caucus_role is not None and not self.record_caucus,
                    "failed": sorted(self.recording_failures)
                    if viewer.role is Role.MEDIATOR
                    else [],
                },
                "evidence": shown["view"]
                if shown is not None and viewer.in_room and self._visible(shown["audience"], viewer)
                else None,
            },
            "participants": [
                self._participant_view(p, viewer) for p in others if p.in_room and viewer.in_room
            ],
            "lobby": [
                self._participant_view(p, viewer)
                for p in others
                if not p.in_room and p.connected and viewer.role is Role.MEDIATOR
            ],
        }

    def chat_for(self, viewer: Participant) -> list[dict[str, Any]]:
        """The chat history ``viewer`` may read (nothing from the lobby)."""
        if not viewer.in_room:
            return []
        return [m for m in self.chat_history if self._visible(m["audience"], viewer)]

    def may_submit_evidence(self, participant_id: str) -> bool:
        """The mediator, or a party in the room (not in the lobby, not put out)."""
        p = self.participants.get(participant_id)
        return p is not None and p.in_room and not p.departed

    def may_view_evidence(
        self, participant_id: str, evidence_id: int, uploader_id: str | None
    ) -> bool:
        """The mediator, the uploader, or a party it was shown to."""
        p = self.participants.get(participant_id)
        if p is None or not p.admitted:
            return False
        if p.role is Role.MEDIATOR or participant_id == uploader_id:
            return True
        return any(self._visible(a, p) for a in self._shown_to.get(evidence_id, ()))

    # -- media policy (the SFU asks) -------------------------------------------------------

    def _may_receive(self, publisher_id: str, subscriber_id: str, track: str) -> bool:
        """Whether ``subscriber`` may receive ``publisher``'s ``track`` just now."""
        pub = self.participants.get(publisher_id)
        sub = self.participants.get(subscriber_id)
        if pub is None or sub is None or not pub.in_room or not sub.in_room:
            return False
        if (track == "audio" and pub.audio_blocked) or (track == "video" and pub.video_blocked):
            return False
        return self.excluded(pub) == self.excluded(sub)

    def _may_record(self, publisher_id: str, track: str) -> bool:
        """Whether ``publisher``'s ``track`` goes into the recording just now."""
        pub = self.participants.get(publisher_id)
        if pub is None or not pub.in_room or publisher_id in self.recording_failures:
            return False
        if (track == "audio" and pub.audio_blocked) or (track == "video" and pub.video_blocked):
            return False  # what nobody heard is not on the record either
        return self.caucus_role is None or self.record_caucus

    # -- helpers ---------------------------------------------------------------------------

    def _move(self, target: RoomState) -> None:
        if self.state is not target:
            check_transition(self.state, target)
            logger.info("Room(%s) %s → %s", self.id, self.state, target)
            self.state = target

    async def _send_offer(self, participant_id: str, offer: dict[str, Any]) -> None:
        participant = self.participants.get(participant_id)
        if participant is not None and participant.connected:
            await self._listener.offer(self, participant, offer)

    async def _write(
        self,
        what: str,
        actor: Participant,
        subject: Participant | None = None,
        *,
        audience: str | None = None,
        data: dict[str, Any] | None = None,
        required: bool = False,
    ) -> None:
        """Put an event into the case record.

        A failed write of a mere presence event (joins, leaves, microphone) is logged, not fatal:
        the parties' session matters more than one line, and the log shows the gap. Decisions
        (``required``) are written before they take effect; if the write fails, the command
        fails and changes nothing.
        """
        if self.record is None:
            return
        try:
            await self.record.event(
                what,
                actor=_who(actor),
                subject=None if subject is None else _who(subject),
                audience=audience,
                data=data,
            )
        except Exception:
            if required:
                raise
            logger.exception("Room(%s) could not record %s of %s", self.id, what, actor.id)

    def _require_mediator(self, actor: Participant, what: str) -> None:
        if actor.role is not Role.MEDIATOR:
            raise Forbidden(f"only the mediator can {what}")

    def _party(self, participant_id: str) -> Participant:
        p = self.participants.get(participant_id)
        if p is None or p.departed:
            raise ParticipantNotFound(f"no participant {participant_id!r} in this room")
        if p.role is Role.MEDIATOR:
            raise InvalidState("this command applies to the parties, not to the mediator")
        return p

    def _require_in_room(self, actor: Participant) -> None:
        if not actor.in_room:
            raise NotAdmitted("wait until the mediator has admitted you and you have consented")

    async def _enter(self, p: Participant) -> None:
        """Give ``p`` media once they may have it: admitted, consented and connected."""
        if p.in_room and p.connected and p.id not in self.sfu.peers:
            first = not p.entered
            p.entered = True
            if first:
                await self._write("joined", p, p)
            await self.sfu.connect(p.id, p.role.value)

    async def _watch_quality(self) -> None:
        """Measure each connection every few seconds; the mediator's list shows it."""
        while True:
            await asyncio.sleep(QUALITY_INTERVAL)
            try:
                measured = await self.sfu.quality()
            except Exception:
                logger.exception("Room(%s) could not measure connection quality", self.id)
                continue
            async with self.lock:
                if self.state is RoomState.CONCLUDED:
                    return
                if _quality_moved(self.quality, measured):
                    self.quality = measured
                    await self._listener.room_changed(self)

    async def _changed(self) -> None:
        self.sfu.apply_policy()
        await self._listener.room_changed(self)

    async def restore(self) -> None:
        """Rebuild the sitting's state from its case record (after a server restart)."""
        if self._restored or self.record is None:
            return
        self._restored = True
        entries = await self.record.restore()
        recording = False
        connected: set[str] = set()
        """Who was connected when the server that held the room stopped."""
        for entry in entries:
            self._replay(entry)
            pid, what = entry.get("participant_id"), entry["event"]
            if pid and what in ("joined", "reconnected", "lobby_entered"):
                connected.add(pid)
            elif pid and what in _GONE_EVENTS:
                connected.discard(pid)
            if entry["event"] in (
                "recording_started",
                "recording_stopped",
                "recording_interrupted",
            ):
                recording = entry["event"] == "recording_started"
        now = now_ms()
        for p in self.participants.values():
            if not p.departed and p.entered:
                p.disconnected_at = now
        logger.info("Room(%s) restored from %d events", self.id, len(entries))
        if connected:
            # The server went away under them (a crash, a lost node, a restart): say so once,
            # between the last entry before and the first after.
            witness = next(
                (p for p in self.participants.values() if p.role is Role.MEDIATOR),
                self.participants.get(sorted(connected)[0]),
            )
            if witness is not None:
                await self._write(
                    "service_interrupted", witness, data={"participants": sorted(connected)}
                )
        await self._seal_left_open(interrupted=recording)
        await self._restore_agreement()

    def _replay(self, e: dict[str, Any]) -> None:
        what = e["event"]
        data = e.get("data") or {}
        if what == "chat":
            self._remember_chat(
                {
                    "id": e["seq"],
                    "at": e["at"],
                    "author_id": e.get("participant_id") or "",
                    "author": e["author"],
                    "role": e["author_role"],
                    "text": e["text"],
                    "audience": e.get("audience"),
                },
                data.get("client_id"),
            )
            return
        if what == "caucus_started":
            self.caucus_role, self.caucus_started_at = Role(data["role"]), e["at"]
        elif what == "caucus_ended":
            self.caucus_role = self.caucus_started_at = None
        elif what in ("locked", "unlocked"):
            self.locked = what == "locked"
        elif what == "evidence_shown":
            self.shown_evidence = {"view": data["evidence"], "audience": e.get("audience")}
            self._shown_to.setdefault(int(data["evidence"]["id"]), set()).add(e.get("audience"))
        elif what == "evidence_hidden":
            self.shown_evidence = None
        pid = e.get("participant_id")
        if not pid or "role" not in data:
            return
        p = self.participants.get(pid)
        if p is None:
            p = Participant(id=pid, role=Role(data["role"]), name=data.get("name", pid))
            p.departed = True
            self.participants[pid] = p
        flags: dict[str, tuple[str, Any]] = {
            "admitted": ("admitted", True),
            "consented": ("consent", Consent.ACCEPTED),
            "consent_declined": ("consent", Consent.DECLINED),
            "muted": ("audio_blocked", True),
            "unmuted": ("audio_blocked", False),
            "video_stopped": ("video_blocked", True),
            "video_allowed": ("video_blocked", False),
            "hand_raised": ("hand_raised", True),
            "hand_lowered": ("hand_raised", False),
            "left": ("departed", True),
        }
        if what in flags:
            name, value = flags[what]
            setattr(p, name, value)
        elif what in ("joined", "reconnected"):
            p.entered, p.departed = True, False
        elif what in ("rejected", "removed"):
            p.admitted, p.departed = False, True
        elif what == "identity_checked":
            p.identity_attempts += 1
            p.identity = Identity(data["result"])

    # -- joining and leaving ---------------------------------------------------------------

    async def join(
        self,
        participant_id: str,
        role: Role,
        name: str,
        connection_id: str,
        *,
        audio: bool,
        video: bool,
        invitation_id: str | None = None,
    ) -> Participant:
        """Bring a participant in (to the lobby, or straight to the room if admitted before),
        or move them to a newer connection (reload, second tab)."""
        if self.state is RoomState.CONCLUDED:
            raise RoomClosed("this sitting has ended")
        participant = self.participants.get(participant_id)
        if self.locked and role is not Role.MEDIATOR and not (participant and participant.admitted):
            raise RoomLocked("the mediator has locked the room; ask them to unlock it")
        old_connection = participant.connection_id if participant else None
        if participant is None:
            participant = Participant(id=participant_id, role=role, name=name)
            self.participants[participant_id] = participant
        returning = participant.entered and (
            participant.disconnected_at is not None or participant.departed or old_connection
        )
        participant.name = name
        participant.audio = audio
        participant.video = video
        participant.connection_id = connection_id
        participant.invitation_id = invitation_id
        participant.departed = False
        participant.disconnected_at = None
        if old_connection is not None and old_connection != connection_id:
            await self._listener.replaced(self, participant, old_connection)
            await self.sfu.disconnect(participant_id)
        if participant.in_room:
            if returning:
                await self._write("reconnected", participant, participant)
        else:
            participant.waiting_since = now_ms()
            await self._write("lobby_entered", participant, participant)
        self._move(RoomState.IN_SESSION)
        if self._quality_task is None:
            self._quality_task = asyncio.ensure_future(self._watch_quality())
        await self._listener.welcome(self, participant)
        await self._enter(participant)
        await self._changed()
        if participant.in_room:
            await self._send_agreement([participant])
        return participant

    def member(self, participant_id: str, connection_id: str) -> Participant:
        """The participant this connection speaks for, or :class:`NotJoined`."""
        participant = self.participants.get(participant_id)
        if participant is None or participant.connection_id != connection_id:
            raise NotJoined("join the room first")
        return participant

    async def leave(self, participant_id: str, connection_id: str, reason: str) -> None:
        """A participant's connection is gone (``reason``: ``left``, ``disconnected``, or
        ``revoked`` when the mediator withdrew their link from the console).

        A stale connection (already replaced by a newer one) changes nothing. Whoever drops is
        expected back: they keep their admission, consent and the rest for the sitting.
        """
        participant = self.participants.get(participant_id)
        if participant is None or participant.connection_id != connection_id:
            return
        participant.connection_id = None
        await self.sfu.disconnect(participant_id)
        if reason in ("left", "revoked"):
            participant.departed = True
            participant.hand_raised = False
            participant.admitted = participant.admitted and reason == "left"
        else:
            participant.disconnected_at = now_ms()
        if not self.present() and self.state is RoomState.IN_SESSION:
            self._move(RoomState.OPEN)
        if participant.entered or reason == "revoked":
            await self._write(reason, participant, participant)
        else:
            await self._write("lobby_left", participant, participant)
        self.quality.pop(participant_id, None)
        await self._changed()

    async def set_media_state(self, participant: Participant, *, audio: bool, video: bool) -> None:
        changes = [
            f"{kind}_{'on' if new else 'off'}"
            for kind, old, new in (
                ("audio", participant.audio, audio),
                ("video", participant.video, video),
            )
            if old != new
        ]
        participant.audio = audio
        participant.video = video
        if changes and participant.in_room:
            for what in changes:
                await self._write(what, participant, participant)
        await self._changed()

    # -- the lobby -------------------------------------------------------------------------

    async def consent(self, actor: Participant, accept: bool) -> None:
        if actor.role is Role.MEDIATOR:
            raise Forbidden("the mediator gives no consent; the parties do")
        if actor.consent is Consent.ACCEPTED:
            raise InvalidState("you have accepted already")
        await self._write(
            "consented" if accept else "consent_declined", actor, actor, required=True
        )
        actor.consent = Consent.ACCEPTED if accept else Consent.DECLINED
        await self._enter(actor)
        await self._changed()
        if actor.in_room:
            await self._send_agreement([actor])

    async def verify_identity(self, actor: Participant, last4: str) -> tuple[bool, int]:
        """Compare the last four digits a party typed with the case record; return whether they
        match and how many attempts are left."""
        if actor.role is Role.MEDIATOR:
            raise Forbidden("the parties verify their identity, not the mediator")
        if actor.in_room:
            raise InvalidState("you are in the room already")
        if actor.identity is Identity.MATCH:
            return True, IDENTITY_ATTEMPTS - actor.identity_attempts
        if actor.identity_attempts >= IDENTITY_ATTEMPTS:
            raise TooManyAttempts("too many attempts; the mediator can check your identity")
        match = None if self.record is None else await self.record.check_phone(actor.role, last4)
        if match is None:
            actor.identity = Identity.NO_PHONE_ON_FILE
            await self._changed()
            raise NoPhoneOnFile("the case has no phone number for you; the mediator will check")
        actor.identity_attempts += 1
        if match:
            actor.identity = Identity.MATCH
        elif actor.identity_attempts >= IDENTITY_ATTEMPTS:
            actor.identity = Identity.TOO_MANY_ATTEMPTS
        else:
            actor.identity = Identity.MISMATCH
        await self._write(
            "identity_checked", actor, actor, data={"result": actor.identity.value}, required=True
        )
        await self._changed()
        return match, IDENTITY_ATTEMPTS - actor.identity_attempts

    async def admit(self, actor: Participant, participant_id: str) -> None:
        self._require_mediator(actor, "admit participants")
        target = self._party(participant_id)
        if target.admitted:
            raise InvalidState(f"{target.name} is admitted already")
        await self._write("admitted", actor, target, required=True)
        target.admitted = True
        await self._enter(target)
        await self._changed()
        if target.in_room and target.connected:
            await self._send_agreement([target])

    async def reject(self, actor: Participant, participant_id: str, reason: str) -> None:
        self._require_mediator(actor, "turn participants away")
        target = self._party(participant_id)
        if target.in_room:
            raise InvalidState(f"{target.name} is in the room: remove them instead")
        await self._dismiss(actor, target, "rejected", reason)

    async def remove(self, actor: Participant, participant_id: str, reason: str) -> None:
        self._require_mediator(actor, "remove participants")
        target = self._party(participant_id)
        await self._dismiss(actor, target, "removed", reason)

    async def _dismiss(
        self, actor: Participant, target: Participant, kind: str, reason: str
    ) -> None:
        # The link is withdrawn first: if that fails, nothing has changed.
        if target.invitation_id is not None and self.record is not None:
            await self.record.revoke(target.invitation_id, actor.name)
        await self._write(kind, actor, target, data={"reason": reason}, required=True)
        connection = target.connection_id
        target.admitted = False
        target.departed = True
        target.hand_raised = False
        target.connection_id = None
        await self.sfu.disconnect(target.id)
        if connection is not None:
            await self._listener.dismissed(self, target, kind, reason, connection)
        await self._changed()

    async def lock_room(self, actor: Participant, locked: bool) -> None:
        self._require_mediator(actor, "lock the room")
        if self.locked != locked:
            await self._write("locked" if locked else "unlocked", actor, required=True)
            self.locked = locked
            await self._changed()

    # -- the caucus ------------------------------------------------------------------------

    async def start_caucus(self, actor: Participant, role: Role) -> None:
        self._require_mediator(actor, "start a private session")
        if role is Role.MEDIATOR:
            raise InvalidState("a private session is with the consumer or the business")
        if self.caucus_role is role:
            raise InvalidState(f"the private session with the {role} runs already")
        if self.caucus_role is not None:
            await self._write(
                "caucus_ended", actor, data={"role": self.caucus_role.value}, required=True
            )
        await self._write("caucus_started", actor, data={"role": role.value}, required=True)
        if self.recording is not None and not self.record_caucus and self.caucus_role is None:
            await self._write("recording_paused", actor)
        self.caucus_role = role
        self.caucus_started_at = now_ms()
        await self._changed()

    async def end_caucus(self, actor: Participant) -> None:
        self._require_mediator(actor, "end a private session")
        if self.caucus_role is None:
            raise InvalidState("no private session is running")
        await self._write(
            "caucus_ended", actor, data={"role": self.caucus_role.value}, required=True
        )
        if self.recording is not None and not self.record_caucus:
            await self._write("recording_resumed", actor)
        self.caucus_role = None
        self.caucus_started_at = None
        await self._changed()

    # -- keeping order ---------------------------------------------------------------------

    async def mute(self, actor: Participant, participant_id: str, kind: str, muted: bool) -> None:
        """Stop (or allow again) a party's audio or video at the server."""
        self._require_mediator(actor, "mute participants")
        target = self._party(participant_id)
        attribute = f"{kind}_blocked"
        if getattr(target, attribute) == muted:
            return
        names = {
            ("audio", True): "muted",
            ("audio", False): "unmuted",
            ("video", True): "video_stopped",
            ("video", False): "video_allowed",
        }
        await self._write(names[(kind, muted)], actor, target, required=True)
        setattr(target, attribute, muted)
        target.unmute_requested.discard(kind)
        await self._changed()

    async def request_unmute(self, actor: Participant, kind: str) -> None:
        blocked = actor.audio_blocked if kind == "audio" else actor.video_blocked
        if not blocked:
            raise InvalidState(f"your {kind} is not stopped by the mediator")
        if kind not in actor.unmute_requested:
            await self._write("unmute_requested", actor, actor, data={"kind": kind})
            actor.unmute_requested.add(kind)
            await self._changed()

    async def raise_hand(self, actor: Participant, raised: bool) -> None:
        self._require_in_room(actor)
        if actor.hand_raised != raised:
            await self._write("hand_raised" if raised else "hand_lowered", actor, actor)
            actor.hand_raised = raised
            await self._changed()

    async def lower_hand(self, actor: Participant, participant_id: str) -> None:
        self._require_mediator(actor, "lower a participant's hand")
        target = self._party(participant_id)
        if target.hand_raised:
            await self._write("hand_lowered", actor, target)
            target.hand_raised = False
            await self._changed()

    async def set_screen_share(self, actor: Participant, active: bool) -> None:
        self._require_mediator(actor, "share a screen")
        if self.screen_share != active:
            await self._write("screen_share_started" if active else "screen_share_stopped", actor)
            self.screen_share = active
            await self._changed()

    async def show_evidence(self, actor: Participant, evidence_id: int | None) -> None:
        self._require_mediator(actor, "show evidence")
        if evidence_id is None:
            if self.shown_evidence is not None:
                await self._write("evidence_hidden", actor)
                self.shown_evidence = None
                await self._changed()
            return
        view = None if self.record is None else await self.record.evidence(evidence_id)
        if view is None:
            raise EvidenceNotFound(f"this case has no evidence {evidence_id}")
        view = {k: v for k, v in view.items() if k != "participant_id"}
        audience = None if self.caucus_role is None else self.caucus_role.value
        await self._write(
            "evidence_shown",
            actor,
            audience=audience,
            data={"evidence": view},
            required=True,
        )
        self.shown_evidence = {"view": view, "audience": audience}
        self._shown_to.setdefault(evidence_id, set()).add(audience)
        await self._changed()

    # -- recording -------------------------------------------------------------------------

    async def start_recording(self, actor: Participant, include_caucus: bool) -> None:
        """Record everyone in the room, each to their own files, until stopped."""
        self._require_mediator(actor, "record the session")
        if self.recording is not None:
            raise AlreadyRecording("the session is being recorded already")
        if self.record is None or self.recordings_dir is None or self.info.case_id is None:
            raise RecordingUnavailable("this room keeps no case record, so it cannot record")
        unconsented = [
            p.name
            for p in self.participants.values()
            if p.in_room
            and p.connected
            and p.consent is not Consent.ACCEPTED
            and p.role is not Role.MEDIATOR
        ]
        if unconsented:
            raise ConsentMissing(f"not everyone present has consented: {', '.join(unconsented)}")
        await self._write(
            "recording_started", actor, data={"include_caucus": include_caucus}, required=True
        )
        directory = self._recording_directory()
        assert directory is not None
        self.recording = RoomRecording(
            directory, self._segment_closed, self._recording_failed, self.sfu.request_keyframe
        )
        self.recording_started_at = now_ms()
        self.record_caucus = include_caucus
        self.recording_failures = {}
        self.sfu.recording = self.recording
        await self._changed()

    async def stop_recording(self, actor: Participant | None, reason: str = "") -> None:
        """Stop the recording; its last segments are closed and on record when this returns.

        ``actor`` is ``None`` when the room stops it (``reason``: ``sitting_ended`` or
        ``server_stopped``)."""
        if actor is not None:
            self._require_mediator(actor, "stop the recording")
        recording = self.recording
        if recording is None:
            if actor is None:
                return
            raise NotRecording("the session is not being recorded")
        self.recording = None
        self.sfu.recording = None
        self.sfu.apply_policy()  # no packet goes to the recorders from here on
        mediator = actor or next(
            (p for p in self.participants.values() if p.role is Role.MEDIATOR), None
        )
        if mediator is not None:
            await self._write(
                "recording_stopped", mediator, data={"reason": reason} if reason else None
            )
        await recording.stop()
        if self.recording_failures:
            # A failed recorder left its segment open: seal what reached the disk.
            await self._seal_left_open(interrupted=False)
        await self._listener.room_changed(self)

    async def _segment_closed(self, segment: SegmentInfo) -> None:
        if self.record is None or self.recordings_dir is None:
            return
        path = str(segment.path.relative_to(self.recordings_dir.parent))
        try:
            await self.record.recording_segment(segment, path)
        except Exception:
            logger.exception("Room(%s) could not record segment %s", self.id, path)

    async def _recording_failed(self, participant_id: str, reason: str) -> None:
        """A recorder stopped itself (disk full, write error): the call goes on, the mediator
        is told, the record says so."""
        async with self.lock:
            self.recording_failures[participant_id] = reason
            subject = self.participants.get(participant_id)
            mediator = next(
                (p for p in self.participants.values() if p.role is Role.MEDIATOR), None
            )
            if mediator is not None:
                await self._write(
                    "recording_failed", mediator, subject, data={"reason": reason[:200]}
                )
            await self._changed()

    def _recording_directory(self) -> Path | None:
        if self.recordings_dir is None or self.info.case_id is None:
            return None
        return self.recordings_dir / f"case-{self.info.case_id}" / f"sitting-{self.info.sitting_id}"

    async def _seal_left_open(self, *, interrupted: bool) -> None:
        """Repair and put on record the segments a crash or a failed write left open; after a
        crash mid-recording (``interrupted``) also note the gap in the transcript."""
        directory = self._recording_directory()
        if directory is None or self.record is None:
            return
        for path in await asyncio.to_thread(find_unsealed, directory):
            try:
                segment = await asyncio.to_thread(seal, path)  # the marker names the participant
            except Exception:  # a full disk again, a damaged file: the next start retries
                logger.exception("Room(%s) could not seal %s (tried again later)", self.id, path)
                continue
            if segment is not None:
                await self._segment_closed(segment)
        mediator = next((p for p in self.participants.values() if p.role is Role.MEDIATOR), None)
        if interrupted and mediator is not None:
            await self._write("recording_interrupted", mediator)

    # -- chat ------------------------------------------------------------------------------

    def _remember_chat(self, message: dict[str, Any], client_id: str | None) -> None:
        self.chat_history.append(message)
        del self.chat_history[:-CHAT_HISTORY]
        self._chat_seq = max(self._chat_seq, int(message["id"]))
        if client_id:
            self._chat_ids[(message["author_id"], client_id)] = message

    async def send_chat(
        self, actor: Participant, text: str, client_id: str | None = None
    ) -> dict[str, Any]:
        """Store a message, then deliver it to its audience; return the stored message."""
        self._require_in_room(actor)
        if client_id and (actor.id, client_id) in self._chat_ids:
            return self._chat_ids[(actor.id, client_id)]
        if self.excluded(actor):
            raise InvalidState(
                "the mediator is talking with the other party alone; write when they are back"
            )
        text = text.strip()
        if not text or len(text) > CHAT_MAX_LENGTH:
            raise InvalidState(f"a message has 1 to {CHAT_MAX_LENGTH} characters")
        audience = None if self.caucus_role is None else self.caucus_role.value
        if self.record is not None:
            seq, at = await self.record.chat(_who(actor), text, audience, client_id)
        else:
            seq, at = self._chat_seq + 1, now_ms()
        message = {
            "id": seq,
            "at": at,
            "author_id": actor.id,
            "author": actor.name,
            "role": actor.role.value,
            "text": text,
            "audience": audience,
        }
        self._remember_chat(message, client_id)
        recipients = [p for p in self.present() if p.in_room and self._visible(audience, p)]
        await self._listener.chat(self, message, recipients)
        return message

    # -- the settlement agreement (调解协议书) ----------------------------------------------
    # The draft is the joint text of both parties: everyone in the room sees every version as
    # it is saved, a caucus included (the party left out of it still sees the draft; what is
    # said about it in the caucus stays there). The case record keeps it, so it survives a
    # reload and a restart; this is only the last view of it.

    def agreement_fact(self) -> dict[str, Any]:
        """The ``agreement`` fact: the view, and where to fetch the PDF once it is made."""
        view = self.agreement
        ready = view is not None and view.get("status") == "sealed" and view.get("pdf_available")
        return {
            "agreement": view,
            "pdf_url": f"/api/rooms/{self.id}/agreement.pdf" if ready else None,
        }

    async def _send_agreement(self, to: list[Participant]) -> None:
        if self.record is not None and to:
            await self._listener.agreement(self, self.agreement_fact(), to)

    async def _agreement_changed(self) -> None:
        await self._send_agreement([p for p in self.present() if p.in_room])

    def _agreement_record(self) -> RoomRecord:
        if self.record is None:
            raise InvalidState("this room keeps no case record, so it cannot keep an agreement")
        return self.record

    def _data_dir(self) -> Path:
        """Where signature images and the PDF go (the data directory, as for recordings)."""
        if self.recordings_dir is None:
            raise InvalidState("this room has no data directory for signatures")
        return self.recordings_dir.parent

    def _templates_dir(self) -> Path | None:
        """The data directory, where an office may keep its own agreement templates."""
        return None if self.recordings_dir is None else self.recordings_dir.parent

    async def _restore_agreement(self) -> None:
        assert self.record is not None
        try:
            self.agreement = await self.record.agreement()
        except Exception:
            logger.exception("Room(%s) could not load the agreement", self.id)
            return
        view = self.agreement
        if view is not None and view.get("status") == "sealed" and not view.get("pdf_available"):
            self._render_later(int(view["id"]))  # sealed before a crash: the PDF is still due

    async def agreement_start(self, actor: Participant) -> dict[str, Any]:
        """Start the agreement from the template (or take up the draft there is)."""
        self._require_mediator(actor, "draft the agreement")
        record = self._agreement_record()
        self.agreement = await record.agreement_start(_who(actor), self._templates_dir())
        await self._agreement_changed()
        return self.agreement_fact()

    async def agreement_update(
        self, actor: Participant, terms: dict[str, Any], version: int
    ) -> dict[str, Any]:
        """Save the mediator's edit of the terms as the next version (``version`` is the one
        the edit was made on: a stale one is refused and the editor gets the latest)."""
        self._require_mediator(actor, "edit the agreement")
        record = self._agreement_record()
        try:
            self.agreement = await record.agreement_update(
                _who(actor), terms, version, self._templates_dir()
            )
        except Exception as exc:
            if getattr(exc, "code", None) == "stale_version":
                # Changed elsewhere meanwhile (the console): the editor starts from the latest.
                self.agreement = await record.agreement()
                await self._send_agreement([actor])
            raise
        await self._agreement_changed()
        return self.agreement_fact()

    async def agreement_sign(
        self, actor: Participant, text_sha256: str, name: str, image_png: bytes
    ) -> dict[str, Any]:
        """Sign the text whose hash the signer was shown; the mediator's signature, last,
        seals it, and the PDF is made in the background (everyone is told when it is ready)."""
        self._require_in_room(actor)
        record = self._agreement_record()
        self.agreement, sealed = await record.agreement_sign(
            _who(actor),
            name=name,
            text_sha256=text_sha256,
            image_png=image_png,
            data_dir=self._data_dir(),
        )
        await self._agreement_changed()
        if sealed:
            self._render_later(int(self.agreement["id"]))
        return self.agreement_fact()

    async def agreement_abandon(self, actor: Participant, reason: str) -> dict[str, Any]:
        self._require_mediator(actor, "abandon the agreement")
        record = self._agreement_record()
        self.agreement = await record.agreement_abandon(_who(actor), reason)
        await self._agreement_changed()
        return self.agreement_fact()

    def _render_later(self, agreement_id: int) -> None:
        if self._agreement_render is not None and not self._agreement_render.done():
            return
        self._agreement_render = asyncio.ensure_future(self._render_agreement(agreement_id))

    async def _render_agreement(self, agreement_id: int) -> None:
        """Make the sealed agreement's PDF (a child process: seconds), outside the lock."""
        record = self._agreement_record()
        try:
            view = await record.agreement_render(agreement_id, self._data_dir(), AGREEMENT_PLACE)
        except Exception:
            # The agreement is sealed and on record all the same; a restart tries again.
            logger.exception("Room(%s) could not make the agreement's PDF", self.id)
            return
        async with self.lock:
            if self.agreement is None or self.agreement.get("id") == agreement_id:
                self.agreement = view
            await self._agreement_changed()

    # -- the end ---------------------------------------------------------------------------

    async def end_sitting(
        self,
        actor: Participant,
        outcome: str,
        note: str,
        *,
        reason: str | None = None,
        next_sitting_at: dt.datetime | None = None,
    ) -> None:
        """Record how the sitting ended; the caller then closes the room for everyone. A refusal
        (no sealed agreement, no reason…) leaves the room as it is."""
        self._require_mediator(actor, "end the sitting")
        if self.record is not None:
            await self.record.set_outcome(
                outcome,
                note,
                _who(actor),
                reason=reason,
                next_sitting_at=next_sitting_at,
                data_dir=None if self.recordings_dir is None else self.recordings_dir.parent,
            )

    async def close(self, ended: bool = True) -> None:
        """Close every peer connection; ``ended=False`` when only the server is stopping."""
        if self._quality_task is not None:
            self._quality_task.cancel()
            self._quality_task = None
        await self.stop_recording(None, "sitting_ended" if ended else "server_stopped")
        await self.sfu.close()
        for participant in self.participants.values():
            participant.connection_id = None
        if self.record is not None:
            try:
                await self.record.close(ended)
            except Exception:
                logger.exception("Room(%s) could not record its close", self.id)
        if self.state is not RoomState.CONCLUDED:
            self._move(RoomState.CONCLUDED)
