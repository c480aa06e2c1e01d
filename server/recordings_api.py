"""Recorded segments over HTTP, for the mediator console only: a case's list, and each file.

Only a mediator's session reaches them (an invitation token does not: parties never see the
recordings), and only for a case of the mediator's office — another office's case answers 404
as if it did not exist, like every other case route. Files are served as stored, with range
requests, so the console's ``<video>`` can seek; a path on the record that resolves outside
``<data dir>/recordings`` is never served. A segment whose file the retention job deleted
(``server.retention``) stays listed, with its hash, and its file answers 410.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from cases import db
from cases.invitations import ROLES
from cases.models import Invitation, Recording
from cases.recordings import list_recordings
from server import api_schemas as s
from server.api import office_case, respond
from server.auth import current_mediator
from server.errors import ApiError
from server.keys import DATABASE, SETTINGS

logger = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
"""Under the data directory; every recording's path on the record must resolve inside it."""

CONTENT_TYPES = {".webm": "video/webm", ".mkv": "video/x-matroska"}


def _not_found(recording_id: object) -> ApiError:
    return ApiError(404, "recording_not_found", f"no recording {recording_id} in this case")


def _recording_id(request: web.Request) -> int:
    raw = request.match_info["recording_id"]
    if not raw.isdigit():
        raise _not_found(raw)
    return int(raw)


def file_url(number: str, recording_id: int) -> str:
    return f"/api/cases/{quote(number, safe='')}/recordings/{recording_id}/file"


async def list_case_recordings(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/recordings``: every recorded segment of a case, oldest first."""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, number, own=True)
        rows = await list_recordings(session, case.id)
        invitations = (
            (
                await session.execute(
                    select(Invitation)
                    .where(Invitation.case_id == case.id)
                    .order_by(Invitation.issued_at)
                )
            )
            .scalars()
            .all()
        )
    # The latest invitation of each sitting and role names who that participant was.
    names = {(inv.sitting_id, inv.role): inv.name for inv in invitations}
    views = []
    for row in rows:
        # Participant ids are the invitation's role (server.api.issue_invitations).
        role = row.participant_id if row.participant_id in ROLES else None
        views.append(
            s.RecordingOut(
                id=row.id,
                sitting_id=row.sitting_id,
                participant_id=row.participant_id,
                role=role,
                name=names.get((row.sitting_id, role)) if role else None,
                started_at=row.started_at,
                ended_at=row.ended_at,
                duration=row.duration,
                codecs=row.codecs,
                size=row.size,
                sha256=row.sha256,
                sealed_after_crash=row.sealed_after_crash,
                content_type=content_type(row.path),
                deleted_at=row.deleted_at,
                url=None if row.deleted_at else file_url(number, row.id),
            )
        )
    return respond(s.RecordingList(recordings=views))


async def case_recording_file(request: web.Request) -> web.StreamResponse:
    """``GET /api/cases/{number}/recordings/{recording_id}/file``: one segment's file."""
    mediator = await current_mediator(request)
    recording_id = _recording_id(request)
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, request.match_info["number"], own=True)
        recording = (
            await session.execute(
                select(Recording).where(Recording.id == recording_id, Recording.case_id == case.id)
            )
        ).scalar_one_or_none()
    if recording is None:
        raise _not_found(recording_id)
    if recording.deleted_at is not None:
        raise ApiError(
            410,
            "recording_deleted",
            f"the file of recording {recording.id} was deleted at the end of its retention "
            "period; its hash stays on record",
        )
    data_dir = request.app[SETTINGS].data_dir
    path, problem = await asyncio.to_thread(locate, data_dir, recording.path)
    if path is None:
        logger.error(
            "recording %s of case %s: its file %s is %s",
            recording.id,
            case.id,
            recording.path,
            problem,
        )
        raise ApiError(
            404,
            "recording_file_missing",
            f"the file of recording {recording.id} is not on the server",
        )
    # Stored names are ASCII (``<participant>-<UTC start>-<n>.webm``); anything else is masked.
    safe_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in path.name
    )
    headers = {
        "Content-Type": content_type(recording.path),
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{safe_name}"',
        "Cache-Control": "private, no-store",
    }
    return web.FileResponse(path, headers=headers)


def content_type(relative: str) -> str:
    return CONTENT_TYPES.get(Path(relative).suffix.lower(), "application/octet-stream")


def locate(data_dir: Path, relative: str) -> tuple[Path | None, str]:
    """The file of a recording and ``""``; or ``None`` and why not: ``outside`` the recordings
    directory (after resolving ``..`` and symbolic links: never served), or ``missing``."""
    root = (data_dir / RECORDINGS_DIR).resolve()
    path = (data_dir / relative).resolve()
    if not path.is_relative_to(root):
        return None, f"outside {root}: refused"
    if not path.is_file():
        return None, "missing"
    return path, ""
