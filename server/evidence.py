"""Evidence over HTTP: upload into a room, list, download; and the mediator console's view.

Room requests carry the participant's invitation token (``Authorization: Bearer``); who may
submit or see a file is the room's answer (:meth:`rooms.room.Room.may_submit_evidence`,
:meth:`~rooms.room.Room.may_view_evidence`). An upload is streamed to a temporary file beside
its final place and hashed on the way; it is renamed into place only when complete and
recognised, inside the transaction that records it, so a half-written or refused upload never
appears.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from cases import db
from cases import repository as repo
from cases.errors import InvitationError
from cases.evidence import (
    CONTENT_TYPES,
    MAX_EVIDENCE_BYTES,
    SNIFF_BYTES,
    clean_filename,
    evidence_path,
    evidence_view,
    get_evidence,
    list_evidence,
    sniff,
    store_evidence,
)
from cases.invitations import Invitation as InvitationClaims
from cases.invitations import verify_token
from cases.models import Evidence
from rooms.errors import RoomNotFound
from rooms.room import Room
from server import api_schemas as s
from server.api import office_case, respond
from server.auth import current_mediator
from server.errors import ApiError
from server.keys import DATABASE, GATEWAY, ROOMS, SETTINGS

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
MULTIPART_SLACK = 64 * 1024
"""Room for the multipart framing around the file: a body longer than the largest file plus
this is refused from its Content-Length, before a byte of it is read."""

ACCEPTED = "JPEG, PNG or HEIC/HEIF photos and PDF documents (recognised by their content)"


def _not_found(evidence_id: object) -> ApiError:
    return ApiError(404, "evidence_not_found", f"no evidence {evidence_id} that you may see")


def _evidence_id(request: web.Request) -> int:
    raw = request.match_info["evidence_id"]
    if not raw.isdigit():
        raise _not_found(raw)
    return int(raw)


# -- who is asking (room requests) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    """A room request's verified participant."""

    room: Room
    claims: InvitationClaims
    case_id: int


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def _caller(request: web.Request) -> Caller:
    """The participant whose token this is — or 401 with the token's code, 404 for the room."""
    room_id = request.match_info["room_id"]
    try:
        claims = verify_token(request.app[SETTINGS].secrets, _bearer(request), room_id)
    except InvitationError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    try:
        room = await request.app[ROOMS].find_room(room_id)
    except RoomNotFound as exc:
        raise ApiError(404, exc.code, exc.message) from None
    case_id = room.info.case_id
    if case_id is None:
        raise ApiError(404, "room_not_found", "this room keeps no case record, so no evidence")
    async with db.session_factory(request.app[DATABASE])() as session:
        try:
            await repo.check_invitation(
                session, claims.invitation_id, case_id, room.info.sitting_id
            )
        except InvitationError as exc:
            raise ApiError(401, exc.code, exc.message) from None
    return Caller(room, claims, case_id)


# -- upload --------------------------------------------------------------------------------


class Spool:
    """An upload being written to a temporary file in the directory it will be renamed in.

    Blocking calls: run its methods in a thread (``asyncio.to_thread``), except :meth:`discard`.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
        self.path: Path | None = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)

    def finish(self) -> str:
        """Flush the file to disk and close it; its SHA-256 (hex)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hash.hexdigest()

    def commit(self, final: Path) -> bool:
        """Rename into ``final``; whether the file is new there (the same content may be kept
        already: same name, same bytes, then the copy is dropped)."""
        assert self.path is not None
        if final.exists():
            self.discard()
            return False
        os.replace(self.path, final)
        self.path = None
        # The rename itself must reach the disk too (fsync(2) on the directory).
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def discard(self) -> None:
        """Drop the temporary file (nothing after a commit); safe to call more than once."""
        self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


@dataclass(slots=True)
class Received:
    """A completely received, recognised upload, still in its spool."""

    spool: Spool
    filename: str
    content_type: str
    extension: str
    size: int
    sha256: str


async def _file_part(request: web.Request) -> tuple[MultipartReader, BodyPartReader]:
    if request.content_type != "multipart/form-data":
        raise ApiError(400, "invalid_upload", "send multipart/form-data with one 'file' field")
    length = request.content_length
    if length is not None and length > MAX_EVIDENCE_BYTES + MULTIPART_SLACK:
        raise ApiError(413, "evidence_too_large", "the file is larger than 20 MiB")
    try:
        reader = await request.multipart()
        part = await reader.next()
    except (ValueError, KeyError, BadHttpMessage) as exc:
        raise ApiError(400, "invalid_upload", f"the multipart body cannot be read: {exc}") from exc
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise ApiError(400, "invalid_upload", "the body's first field must be 'file'")
    encoding = part.headers.get("Content-Transfer-Encoding", "binary").lower()
    if encoding not in ("binary", "8bit", "7bit") or "Content-Encoding" in part.headers:
        raise ApiError(400, "invalid_upload", "send the file as it is, not encoded")
    return reader, part


def _recognise(head: bytes) -> tuple[str, str]:
    kind = sniff(head)
    if kind is None:
        raise ApiError(415, "evidence_type_unsupported", f"accepted: {ACCEPTED}")
    return kind


async def receive_upload(request: web.Request, directory: Path) -> Received:
    """Stream the ``file`` field into a spool in ``directory``: counted (413 past the limit),
    recognised by its first bytes (415) before anything is written, hashed on the way."""
    reader, part = await _file_part(request)
    head = bytearray()
    spool: Spool | None = None
    kind: tuple[str, str] | None = None
    size = 0
    try:
        try:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > MAX_EVIDENCE_BYTES:
                    raise ApiError(413, "evidence_too_large", "the file is larger than 20 MiB")
                if spool is None:
                    head += chunk
                    if len(head) < SNIFF_BYTES:
                        continue
                    kind = _recognise(bytes(head))
                    spool = await asyncio.to_thread(Spool, directory)
                    chunk = bytes(head)
                await asyncio.to_thread(spool.write, chunk)
            if spool is None:  # shorter than SNIFF_BYTES
                kind = _recognise(bytes(head))
                spool = await asyncio.to_thread(Spool, directory)
                await asyncio.to_thread(spool.write, bytes(head))
            if await reader.next() is not None:
                raise ApiError(400, "invalid_upload", "send one file per request")
        except (ValueError, BadHttpMessage) as exc:
            raise ApiError(400, "invalid_upload", f"the upload was cut off: {exc}") from exc
        assert kind is not None
        sha256 = await asyncio.to_thread(spool.finish)
    except BaseException:
        if spool is not None:
            spool.discard()
        raise
    content_type, extension = kind
    return Received(
        spool=spool,
        # Browsers escape '"', CR and LF in the name as %22, %0D, %0A (HTML, "multipart/form-data
        # encoding algorithm"); some clients escape every byte: both read back the same.
        filename=clean_filename(unquote(part.filename or ""), extension),
        content_type=content_type,
        extension=extension,
        size=size,
        sha256=sha256,
    )


async def upload_evidence(request: web.Request) -> web.Response:
    """``POST /api/rooms/{room_id}/evidence``: put a file on the case record."""
    caller = await _caller(request)
    participant_id = caller.claims.participant_id
    if not caller.room.may_submit_evidence(participant_id):
        raise ApiError(
            403, "not_admitted", "only the mediator and parties in the room may submit evidence"
        )
    data_dir = request.app[SETTINGS].data_dir
    directory = data_dir / "evidence" / f"case-{caller.case_id}"
    received = await receive_upload(request, directory)
    created = False
    final: Path | None = None
    try:
        # Removed from the room while the file was on its way: not on the record.
        if not caller.room.may_submit_evidence(participant_id):
            raise ApiError(403, "not_admitted", "you are no longer in the room")
        relative = evidence_path(caller.case_id, received.sha256, received.extension)
        final = data_dir / relative
        async with db.session_factory(request.app[DATABASE])() as session, session.begin():
            # Under the case's lock: another upload of the same bytes sees the file or not,
            # never a file whose row is about to be rolled back.
            await repo.lock_case(session, caller.case_id)
            created = await asyncio.to_thread(received.spool.commit, final)
            evidence = await store_evidence(
                session,
                case_id=caller.case_id,
                sitting_id=caller.room.info.sitting_id,
                participant_id=participant_id,
                role=caller.claims.role,
                submitted_by=caller.claims.name,
                filename=received.filename,
                content_type=received.content_type,
                size=received.size,
                sha256=received.sha256,
                path=relative,
            )
            view = evidence_view(evidence, caller.room.id)
    except BaseException:
        if created and final is not None:
            final.unlink(missing_ok=True)
        raise
    finally:
        received.spool.discard()
    logger.info(
        "Room(%s) evidence %s from %s: %s, %d bytes",
        caller.room.id,
        view["id"],
        participant_id,
        received.content_type,
        received.size,
    )
    try:
        await request.app[GATEWAY].evidence_added(caller.room.id, view, participant_id)
    except Exception:
        # The file is on the record; the page's list shows it even if this notice is lost.
        logger.exception("Room(%s) could not announce evidence %s", caller.room.id, view["id"])
    return respond(s.EvidenceUploaded(evidence=s.EvidenceOut.model_validate(view)), status=201)


# -- list and download (room) --------------------------------------------------------------


async def list_room_evidence(request: web.Request) -> web.Response:
    """``GET /api/rooms/{room_id}/evidence``: the files this participant may see."""
    caller = await _caller(request)
    async with db.session_factory(request.app[DATABASE])() as session:
        rows = await list_evidence(session, caller.case_id)
    who = caller.claims.participant_id
    views = [
        s.EvidenceOut.model_validate(evidence_view(ev, caller.room.id))
        for ev in rows
        if caller.room.may_view_evidence(who, ev.id, ev.participant_id)
    ]
    return respond(s.EvidenceList(evidence=views))


async def room_evidence_file(request: web.Request) -> web.StreamResponse:
    """``GET /api/rooms/{room_id}/evidence/{evidence_id}``: the file, to those who may see it."""
    caller = await _caller(request)
    evidence_id = _evidence_id(request)
    async with db.session_factory(request.app[DATABASE])() as session:
        evidence = await get_evidence(session, caller.case_id, evidence_id)
    if evidence is None or not caller.room.may_view_evidence(
        caller.claims.participant_id, evidence.id, evidence.participant_id
    ):
        raise _not_found(evidence_id)
    return await file_response(request, evidence)


def _disposition(filename: str) -> str:
    """``inline`` with the name in RFC 6266 / RFC 8187 form and a plain ASCII fallback."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _stored_file(data_dir: Path, relative: str) -> Path | None:
    root = (data_dir / "evidence").resolve()
    path = (data_dir / relative).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


async def file_response(request: web.Request, evidence: Evidence) -> web.StreamResponse:
    """The stored file (aiohttp answers Range requests), served so a browser never takes it
    for anything but the type it was recognised as."""
    path = await asyncio.to_thread(_stored_file, request.app[SETTINGS].data_dir, evidence.path)
    if path is None:
        logger.error("evidence %s: its file %s is missing", evidence.id, evidence.path)
        raise ApiError(404, "evidence_not_found", f"the file of evidence {evidence.id} is missing")
    content_type = (
        evidence.content_type
        if evidence.content_type in CONTENT_TYPES
        else "application/octet-stream"
    )
    headers = {
        "Content-Type": content_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": _disposition(evidence.filename),
        "Cache-Control": "private, no-store",
    }
    if content_type == "application/pdf":
        # A PDF opened on its own runs in a sandbox: no script, no same-origin access.
        headers["Content-Security-Policy"] = "sandbox"
    return web.FileResponse(path, headers=headers)


# -- the mediator console ------------------------------------------------------------------


def _console_url(number: str, evidence_id: int) -> str:
    return f"/api/cases/{quote(number, safe='')}/evidence/{evidence_id}/file"


async def list_case_evidence(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/evidence``: every file of a case, for its office's mediators."""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, number)
        rows = await list_evidence(session, case.id)
    views = [
        s.EvidenceOut.model_validate(evidence_view(ev, "", url=_console_url(number, ev.id)))
        for ev in rows
    ]
    return respond(s.EvidenceList(evidence=views))


async def case_evidence_file(request: web.Request) -> web.StreamResponse:
    """``GET /api/cases/{number}/evidence/{evidence_id}/file``: one file, for the console."""
    mediator = await current_mediator(request)
    evidence_id = _evidence_id(request)
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, request.match_info["number"])
        evidence = await get_evidence(session, case.id, evidence_id)
    if evidence is None:
        raise _not_found(evidence_id)
    return await file_response(request, evidence)
