"""The Socket.IO server: connect-time auth, one dispatch point, one handler per command.

Every command goes through :meth:`Gateway._dispatch`, which validates the payload against its
schema, runs the handler under the room's lock (so an ICE candidate can't overtake the answer it
follows), and turns any failure into an ``error`` event to the sender only — the room goes on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import socketio
from aiohttp import web
from pydantic import ValidationError

from cases import db
from cases.agreement import AgreementError
from cases.errors import CaseError, InvitationError
from cases.invitations import Invitation, verify_token
from rooms.errors import AlreadyJoined, NotJoined, RoomError
from rooms.model import Participant, Role
from rooms.registry import RoomRegistry
from rooms.room import Room
from signaling import schemas

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=schemas.Message)
Handler = Callable[["Connection", Any], Awaitable[dict[str, Any] | None]]


class ProtocolError(Exception):
    """A command that makes no sense on the wire (unknown, not an object)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Connection:
    """One authenticated Socket.IO connection."""

    sid: str
    invitation: Invitation
    joined: bool = False


def error_body(
    code: str, message: str, event: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """The one error shape of the product (HTTP and Socket.IO); ``field`` only when one input
    was wrong."""
    body = schemas.ErrorBody(code=code, message=message, event=event, field=field)
    return body.model_dump(exclude=None if field else {"field"})


def describe_validation_error(event: str, exc: ValidationError) -> str:
    """``answer.sdp: Field required; …`` — names the field, for the developer reading it."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{event}.{where}: {err['msg']}" if where else f"{event}: {err['msg']}")
    return "; ".join(parts)


class Gateway:
    """Signaling for every room of this process; implements :class:`rooms.room.RoomListener`."""

    def __init__(
        self,
        registry: RoomRegistry,
        secret: bytes | tuple[bytes, ...],
        ice_servers: list[dict[str, Any]] | Callable[[str], list[dict[str, Any]]],
    ) -> None:
        self.registry = registry
        self._secret = secret
        """The invitation keys: the current one, then any being rotated out."""
        self._ice_servers = ice_servers
        """The ``joined`` reply's ICE servers: a list, or ``participant id → list`` (fresh TURN
        credentials for each join)."""
        self._connections: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # A phone that vanishes (no FIN: out of coverage, Wi-Fi → mobile data) is noticed within
        # ~15 s rather than Engine.IO's default 45 s, so the others see "reconnecting" in time.
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            logger=False,
            engineio_logger=False,
            ping_interval=5,
            ping_timeout=10,
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_unknown)
        handlers: dict[str, Handler] = {
            "join": self._join,
            "answer": self._answer,
            "ice_candidate": self._ice_candidate,
            "set_media_state": self._set_media_state,
            "leave": self._leave,
            "consent": self._consent,
            "verify_identity": self._verify_identity,
            "admit": self._admit,
            "reject": self._reject,
            "remove_participant": self._remove_participant,
            "start_caucus": self._start_caucus,
            "end_caucus": self._end_caucus,
            "mute_participant": self._mute_participant,
            "lower_hand": self._lower_hand,
            "lock_room": self._lock_room,
            "show_evidence": self._show_evidence,
            "set_screen_share": self._set_screen_share,
            "end_sitting": self._end_sitting,
            "raise_hand": self._raise_hand,
            "request_unmute": self._request_unmute,
            "chat": self._chat,
            "start_recording": self._start_recording,
            "stop_recording": self._stop_recording,
            "agreement_start": self._agreement_start,
            "agreement_update": self._agreement_update,
            "agreement_sign": self._agreement_sign,
            "agreement_abandon": self._agreement_abandon,
        }
        assert set(handlers) == set(schemas.COMMANDS), "every command needs a handler"
        for event, handler in handlers.items():
            self.sio.on(event, self._bind(event, handler))
        registry.set_listener(self)

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app)
        app.on_shutdown.append(self._on_shutdown)

    async def disconnect_invitation(self, invitation_id: str) -> int:
        """Close every connection that came in with a now revoked link; return how many.

        The page's automatic reconnect is then refused with ``token_revoked`` and says so.
        """
        sids = [
            sid
            for sid, conn in self._connections.items()
            if conn.invitation.invitation_id == invitation_id
        ]
        for sid in sids:
            conn = self._connections[sid]
            if conn.joined and self.registry.has_room(conn.invitation.room_id):
                # Gone for good, not "reconnecting": the others' views drop them.
                conn.joined = False
                room = self.registry.get_room(conn.invitation.room_id)
                async with room.lock:
                    await room.leave(conn.invitation.participant_id, sid, "revoked")
            await self.sio.disconnect(sid)
        return len(sids)

    async def evidence_added(
        self, room_id: str, evidence: dict[str, Any], uploader_id: str | None
    ) -> None:
        """A file was uploaded: the mediator (and the uploader) get it in their list."""
        if not self.registry.has_room(room_id):
            return
        room = self.registry.get_room(room_id)
        for p in room.present():
            if p.role is Role.MEDIATOR or p.id == uploader_id:
                await self._emit("evidence_added", {"evidence": evidence}, p.connection_id)

    async def disconnect_room(self, room_id: str) -> None:
        """Tell everyone in an ending room (``room_closed``), then close their connections."""
        body = error_body("room_closed", "the mediator ended this sitting")
        for sid in [
            sid for sid, conn in self._connections.items() if conn.invitation.room_id == room_id
        ]:
            await self.sio.emit("error", body, to=sid)
            await self.sio.disconnect(sid)

    async def move_room(self, room_id: str) -> None:
        """Another node holds this room now: its participants reconnect (and reach it there)."""
        body = error_body("room_elsewhere", "this room moved to another server; reconnecting to it")
        for sid in [
            sid for sid, conn in self._connections.items() if conn.invitation.room_id == room_id
        ]:
            self._connections[sid].joined = False
            await self.sio.emit("error", body, to=sid)
            await self.sio.disconnect(sid)

    async def _on_shutdown(self, app: web.Application) -> None:
        """Close every client connection, so shutting down does not wait for browsers to go."""
        for sid in list(self._connections):
            await self.sio.disconnect(sid)
        # Socket.IO's disconnect leaves the Engine.IO transport open until the client drops it;
        # close those too, or the server's shutdown waits seconds for each websocket.
        if self.sio.eio.sockets:  # (engineio's disconnect-all fails on an empty set)
            await self.sio.eio.disconnect()

    def _bind(self, event: str, handler: Handler) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def _on_event(sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
            return await self._dispatch(event, handler, sid, data, extra)

        return _on_event

    # -- connect / disconnect --------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        token, room_id = auth.get("token"), auth.get("room_id")
        try:
            invitation = verify_token(
                self._secret,
                token if isinstance(token, str) else None,
                room_id if isinstance(room_id, str) else None,
            )
            room = await self.registry.find_room(invitation.room_id)
            if room.record is not None:
                request = environ.get("aiohttp.request")
                await room.record.admit(
                    invitation.invitation_id,
                    request.remote if request is not None else "",
                    environ.get("HTTP_USER_AGENT", ""),
                )
        except (InvitationError, RoomError) as exc:
            logger.info("connection %s refused: %s", sid, exc.code)
            # Reaches the browser as connect_error with err.message and err.data (the body).
            raise socketio.exceptions.ConnectionRefusedError(
                exc.message, error_body(exc.code, exc.message)
            ) from None
        except Exception as exc:
            if db.is_unavailable(exc):
                db.log_unavailable(logger, "a connection", exc)
                code, message = "database_unavailable", db.UNAVAILABLE_MESSAGE
            else:
                logger.exception("connection %s: checking the invitation failed", sid)
                code = "internal"
                message = "the server could not check the link just now; try again in a moment"
            raise socketio.exceptions.ConnectionRefusedError(
                message, error_body(code, message)
            ) from None
        self._connections[sid] = Connection(sid=sid, invitation=invitation)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self._connections.pop(sid, None)
        if conn is None or not conn.joined:
            return
        conn.joined = False
        if not self.registry.has_room(conn.invitation.room_id):
            return
        room = self.registry.get_room(conn.invitation.room_id)
        async with room.lock:
            await room.leave(conn.invitation.participant_id, sid, "disconnected")

    async def _on_unknown(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        body = error_body("unknown_event", f"there is no command {event!r}", event)
        await self.sio.emit("error", body, to=sid)
        return {"ok": False, "error": body}

    # -- the one dispatch point ------------------------------------------------------------

    async def _dispatch(
        self, event: str, handler: Handler, sid: str, data: Any, extra: tuple[Any, ...]
    ) -> dict[str, Any]:
        try:
            conn = self._connections.get(sid)
            if conn is None:
                raise NotJoined("this connection was closed; reconnect")
            if extra:
                raise ProtocolError("invalid_payload", f"{event} takes one JSON object")
            payload = {} if data is None else data
            if not isinstance(payload, dict):
                raise ProtocolError("invalid_payload", f"{event}: the payload must be an object")
            message = schemas.COMMANDS[event].model_validate(payload)
            result = await handler(conn, message)
            return {"ok": True, **(result or {})}
        except ValidationError as exc:
            body = error_body("invalid_payload", describe_validation_error(event, exc), event)
        except AgreementError as exc:
            body = error_body(exc.code, exc.message, event, exc.field)
        except (RoomError, CaseError, ProtocolError) as exc:
            body = error_body(exc.code, exc.message, event)
        except Exception as exc:
            if db.is_unavailable(exc):  # the case record is down: not a bug, the room goes on
                db.log_unavailable(logger, f"command {event}", exc)
                body = error_body("database_unavailable", db.UNAVAILABLE_MESSAGE, event)
            else:
                logger.exception("command %s from %s failed", event, sid)
                body = error_body(
                    "internal", "the server failed on this command; it was logged", event
                )
        await self.sio.emit("error", body, to=sid)
        return {"ok": False, "error": body}

    def _room_of(self, conn: Connection) -> Room:
        return self.registry.get_room(conn.invitation.room_id)

    def _member(self, conn: Connection, room: Room) -> Participant:
        if not conn.joined:
            raise NotJoined("send join first")
        return room.member(conn.invitation.participant_id, conn.sid)

    # -- command handlers ------------------------------------------------------------------

    async def _join(self, conn: Connection, msg: schemas.Join) -> dict[str, Any]:
        if conn.joined:
            raise AlreadyJoined("this connection has joined already")
        room = self._room_of(conn)
        inv = conn.invitation
        async with room.lock:
            conn.joined = True
            try:
                await room.join(
                    inv.participant_id,
                    Role(inv.role),
                    msg.name or inv.name,
                    conn.sid,
                    audio=msg.audio,
                    video=msg.video,
                    invitation_id=inv.invitation_id,
                )
            except BaseException:
                conn.joined = False
                raise
        return {}

    async def _answer(self, conn: Connection, msg: schemas.Answer) -> None:
        room = self._room_of(conn)
        async with room.lock:
            participant = self._member(conn, room)
            await room.sfu.apply_answer(participant.id, msg.sdp, msg.revision)

    async def _ice_candidate(self, conn: Connection, msg: schemas.IceCandidate) -> None:
        room = self._room_of(conn)
        async with room.lock:
            participant = self._member(conn, room)
            await room.sfu.add_candidate(
                participant.id, msg.candidate, msg.sdpMid, msg.sdpMLineIndex
            )

    async def _set_media_state(self, conn: Connection, msg: schemas.SetMediaState) -> None:
        room = self._room_of(conn)
        async with room.lock:
            participant = self._member(conn, room)
            await room.set_media_state(participant, audio=msg.audio, video=msg.video)

    async def _leave(self, conn: Connection, msg: schemas.Leave) -> None:
        room = self._room_of(conn)
        async with room.lock:
            participant = self._member(conn, room)
            conn.joined = False
            await room.leave(participant.id, conn.sid, "left")

    async def _command(
        self, conn: Connection, act: Callable[[Room, Participant], Awaitable[Any]]
    ) -> Any:
        """Run one room command for the participant this connection speaks for."""
        room = self._room_of(conn)
        async with room.lock:
            return await act(room, self._member(conn, room))

    async def _consent(self, conn: Connection, msg: schemas.Consent) -> None:
        await self._command(conn, lambda room, p: room.consent(p, msg.accept))

    async def _verify_identity(
        self, conn: Connection, msg: schemas.VerifyIdentity
    ) -> dict[str, Any]:
        match, left = await self._command(
            conn, lambda room, p: room.verify_identity(p, msg.phone_last4)
        )
        return {"match": match, "attempts_left": left}

    async def _admit(self, conn: Connection, msg: schemas.Admit) -> None:
        await self._command(conn, lambda room, p: room.admit(p, msg.participant_id))

    async def _reject(self, conn: Connection, msg: schemas.Reject) -> None:
        await self._command(conn, lambda room, p: room.reject(p, msg.participant_id, msg.reason))

    async def _remove_participant(self, conn: Connection, msg: schemas.RemoveParticipant) -> None:
        await self._command(conn, lambda room, p: room.remove(p, msg.participant_id, msg.reason))

    async def _start_caucus(self, conn: Connection, msg: schemas.StartCaucus) -> None:
        await self._command(conn, lambda room, p: room.start_caucus(p, Role(msg.role)))

    async def _end_caucus(self, conn: Connection, msg: schemas.EndCaucus) -> None:
        await self._command(conn, lambda room, p: room.end_caucus(p))

    async def _mute_participant(self, conn: Connection, msg: schemas.MuteParticipant) -> None:
        await self._command(
            conn, lambda room, p: room.mute(p, msg.participant_id, msg.kind, msg.muted)
        )

    async def _lower_hand(self, conn: Connection, msg: schemas.LowerHand) -> None:
        await self._command(conn, lambda room, p: room.lower_hand(p, msg.participant_id))

    async def _lock_room(self, conn: Connection, msg: schemas.LockRoom) -> None:
        await self._command(conn, lambda room, p: room.lock_room(p, msg.locked))

    async def _show_evidence(self, conn: Connection, msg: schemas.ShowEvidence) -> None:
        await self._command(conn, lambda room, p: room.show_evidence(p, msg.evidence_id))

    async def _set_screen_share(self, conn: Connection, msg: schemas.SetScreenShare) -> None:
        await self._command(conn, lambda room, p: room.set_screen_share(p, msg.active))

    async def _raise_hand(self, conn: Connection, msg: schemas.RaiseHand) -> None:
        await self._command(conn, lambda room, p: room.raise_hand(p, msg.raised))

    async def _request_unmute(self, conn: Connection, msg: schemas.RequestUnmute) -> None:
        await self._command(conn, lambda room, p: room.request_unmute(p, msg.kind))

    async def _chat(self, conn: Connection, msg: schemas.Chat) -> dict[str, Any]:
        message = await self._command(
            conn, lambda room, p: room.send_chat(p, msg.text, msg.client_id)
        )
        return {"message": message}

    async def _start_recording(self, conn: Connection, msg: schemas.StartRecording) -> None:
        await self._command(conn, lambda room, p: room.start_recording(p, msg.include_caucus))

    async def _stop_recording(self, conn: Connection, msg: schemas.StopRecording) -> None:
        await self._command(conn, lambda room, p: room.stop_recording(p))

    async def _agreement_start(
        self, conn: Connection, msg: schemas.AgreementStart
    ) -> dict[str, Any]:
        fact: dict[str, Any] = await self._command(conn, lambda room, p: room.agreement_start(p))
        return fact

    async def _agreement_update(
        self, conn: Connection, msg: schemas.AgreementUpdate
    ) -> dict[str, Any]:
        fact: dict[str, Any] = await self._command(
            conn, lambda room, p: room.agreement_update(p, dict(msg.terms), msg.version)
        )
        return fact

    async def _agreement_sign(self, conn: Connection, msg: schemas.AgreementSign) -> dict[str, Any]:
        data = msg.image.removeprefix("data:image/png;base64,")
        try:
            image = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise ProtocolError(
                "invalid_payload", "agreement_sign.image: not base64 PNG data"
            ) from None
        fact: dict[str, Any] = await self._command(
            conn, lambda room, p: room.agreement_sign(p, msg.text_sha256, msg.name.strip(), image)
        )
        return fact

    async def _agreement_abandon(
        self, conn: Connection, msg: schemas.AgreementAbandon
    ) -> dict[str, Any]:
        fact: dict[str, Any] = await self._command(
            conn, lambda room, p: room.agreement_abandon(p, msg.reason.strip())
        )
        return fact

    async def _end_sitting(self, conn: Connection, msg: schemas.EndSitting) -> None:
        room = self._room_of(conn)
        async with room.lock:
            await room.end_sitting(
                self._member(conn, room),
                msg.outcome,
                msg.note,
                reason=msg.reason,
                next_sitting_at=msg.next_sitting_at,
            )
        # Closing takes the room's lock and disconnects everyone, the sender too: after the ack.
        self._spawn(self._close_room(room.id))

    async def _close_room(self, room_id: str) -> None:
        await self.disconnect_room(room_id)
        await self.registry.close_room(room_id)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- RoomListener: room facts → emits --------------------------------------------------

    async def _emit(self, event: str, payload: dict[str, Any], sid: str | None) -> None:
        if sid is not None:
            await self.sio.emit(event, payload, to=sid)

    async def _emit_others(
        self, room: Room, subject: Participant, event: str, payload: Any
    ) -> None:
        for other in room.present():
            if other.id != subject.id:
                await self._emit(event, payload, other.connection_id)

    async def welcome(self, room: Room, participant: Participant) -> None:
        joined = {
            **room.view_for(participant),
            "chat": room.chat_for(participant),
            "ice_servers": (
                self._ice_servers(participant.id)
                if callable(self._ice_servers)
                else self._ice_servers
            ),
        }
        await self._emit("joined", joined, participant.connection_id)

    async def room_changed(self, room: Room) -> None:
        for participant in room.present():
            await self._emit("room_view", room.view_for(participant), participant.connection_id)

    async def chat(self, room: Room, message: dict[str, Any], to: list[Participant]) -> None:
        for participant in to:
            await self._emit("chat", {"message": message}, participant.connection_id)

    async def dismissed(
        self, room: Room, participant: Participant, kind: str, reason: str, connection_id: str
    ) -> None:
        await self._emit("dismissed", {"kind": kind, "reason": reason}, connection_id)
        # Every connection of that link goes (a second tab too); not inline: we hold the lock.
        sids = [connection_id] + [
            sid
            for sid, conn in self._connections.items()
            if participant.invitation_id is not None
            and conn.invitation.invitation_id == participant.invitation_id
            and sid != connection_id
        ]
        for sid in sids:
            conn = self._connections.get(sid)
            if conn is not None:
                conn.joined = False
            self._spawn(self.sio.disconnect(sid))

    async def offer(self, room: Room, participant: Participant, offer: dict[str, Any]) -> None:
        await self._emit("offer", offer, participant.connection_id)

    async def agreement(self, room: Room, fact: dict[str, Any], to: list[Participant]) -> None:
        for participant in to:
            await self._emit("agreement", fact, participant.connection_id)

    async def replaced(self, room: Room, participant: Participant, old_connection: str) -> None:
        old = self._connections.get(old_connection)
        if old is not None:
            old.joined = False
        message = "this participant joined from another tab or device; this one was closed"
        await self._emit("replaced", {"message": message}, old_connection)
        # Disconnecting runs our disconnect handler inline; not under the room lock we hold.
        self._spawn(self.sio.disconnect(old_connection))
