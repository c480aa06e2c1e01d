"""After a sitting: the termination notice, the parties' satisfaction, and the case bundle.

The notice and the answers are read by the office's mediators; the bundle (everything, caucus
talk included) by the case's own mediator only. A party rates the mediation on their own link
(``Authorization: Bearer <token>``) once the sitting has ended — the room is gone by then, so the
link is checked against the case record alone (:func:`cases.satisfaction.rating_invitation`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cases import db
from cases import satisfaction as sat
from cases.bundle import build_bundle
from cases.errors import InvitationError
from cases.invitations import verify_token
from cases.models import Satisfaction, Sitting
from cases.outcome import termination_notices
from cases.pdf import PdfError
from server import api_schemas as s
from server.api import office_case, read_body, respond
from server.auth import current_mediator
from server.errors import ApiError
from server.keys import DATABASE, OFFICE, SETTINGS

logger = logging.getLogger(__name__)

_SATISFACTION_STATUS = {
    "room_not_found": 404,
    "forbidden": 403,
    "sitting_not_ended": 409,
    "already_answered": 409,
}


def _attachment(ascii_name: str, name: str) -> str:
    """RFC 6266: an ASCII fallback and the real (Chinese) name."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _ascii(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "_" for c in text)


# -- the termination notice ----------------------------------------------------------------


def _read_checked(path: Path, sha256: str) -> bytes | None:
    """The file's bytes if it is there and has the recorded hash; ``None`` if it is gone."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ApiError(
            409,
            "notice_altered",
            "the stored notice does not match its SHA-256 in the audit chain: it was changed "
            "on the server; run `mediation-room verify` and tell the administrator",
        )
    return data


async def termination_pdf(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/sittings/{sitting_id}/termination.pdf``: 调解终止通知书."""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    raw = request.match_info["sitting_id"]
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, number)
        sitting = await session.get(Sitting, int(raw)) if raw.isdigit() else None
        if sitting is None or sitting.case_id != case.id:
            raise ApiError(404, "sitting_not_found", f"case {number} has no sitting {raw}")
        notice = (await termination_notices(session, case.id)).get(sitting.id)
    if notice is None:
        raise ApiError(
            404,
            "notice_not_found",
            f"sitting {raw} of case {number} did not end with mediation terminated, so it has "
            "no termination notice",
        )
    data_dir = request.app[SETTINGS].data_dir
    data = await asyncio.to_thread(_read_checked, data_dir / notice.path, notice.sha256)
    if data is None:
        logger.error("termination notice %s of case %s is missing", notice.path, number)
        raise ApiError(
            404,
            "notice_missing",
            "the notice's file is not on the server; run `mediation-room verify` and tell the "
            "administrator",
        )
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Disposition": _attachment(
                f"termination-{_ascii(number)}-{sitting.id}.pdf",
                f"调解终止通知书-{number}-{sitting.id}.pdf",
            ),
        },
    )


# -- satisfaction --------------------------------------------------------------------------


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def _rater(request: web.Request, session: AsyncSession) -> sat.Rater:
    room_id = request.match_info["room_id"]
    try:
        claims = verify_token(request.app[SETTINGS].secrets, _bearer(request), room_id)
        return await sat.rating_invitation(session, room_id, claims.invitation_id)
    except InvitationError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    except sat.SatisfactionError as exc:
        raise ApiError(_SATISFACTION_STATUS.get(exc.code, 409), exc.code, exc.message) from None


def _out(answer: Satisfaction) -> s.SatisfactionOut:
    return s.SatisfactionOut.model_validate(answer, from_attributes=True)


async def get_satisfaction(request: web.Request) -> web.Response:
    """``GET /api/rooms/{room_id}/satisfaction``: the asking party's answer, or null."""
    async with db.session_factory(request.app[DATABASE])() as session:
        rater = await _rater(request, session)
        answer = await sat.answer_of(session, rater.case_id, rater.role)
        return respond(s.SatisfactionAnswer(answer=None if answer is None else _out(answer)))


async def post_satisfaction(request: web.Request) -> web.Response:
    """``POST /api/rooms/{room_id}/satisfaction``: the party's one answer (audited)."""
    async with db.session_factory(request.app[DATABASE])() as session:
        await _rater(request, session)  # who it is, before the body is even read
    body = await read_body(request, s.SatisfactionIn)
    async with db.session_factory(request.app[DATABASE])() as session, session.begin():
        rater = await _rater(request, session)
        try:
            answer = await sat.record_answer(session, rater, body.rating, body.comment)
        except sat.SatisfactionError as exc:
            raise ApiError(_SATISFACTION_STATUS.get(exc.code, 409), exc.code, exc.message) from None
        out = _out(answer)
    return respond(out, status=201)


async def case_satisfaction(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/satisfaction``: both parties' answers, as given."""
    mediator = await current_mediator(request)
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, request.match_info["number"])
        answers = [_out(a) for a in await sat.list_answers(session, case.id)]
    return respond(s.SatisfactionList(answers=answers))


# -- the case bundle -----------------------------------------------------------------------


async def bundle_zip(request: web.Request) -> web.StreamResponse:
    """``GET /api/cases/{number}/bundle.zip[?recordings=1]``: the case bundle, for the case's
    own mediator; made in a temporary file, streamed, then deleted."""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    recordings = request.query.get("recordings", "0")
    if recordings not in ("0", "1"):
        raise ApiError(422, "invalid_payload", "recordings: give 1 to include the files, or 0")
    settings = request.app[SETTINGS]
    work = Path(
        await asyncio.to_thread(tempfile.mkdtemp, prefix="bundle-", dir=_tmp_dir(settings.data_dir))
    )
    out = work / "bundle.zip"
    try:
        async with db.session_factory(request.app[DATABASE])() as session:
            case = await office_case(session, mediator, number, own=True)
            try:
                await build_bundle(
                    session,
                    case.id,
                    out,
                    data_dir=settings.data_dir,
                    include_recordings=recordings == "1",
                    timezone=request.app[OFFICE].timezone,
                )
            except PdfError as exc:
                raise ApiError(500, exc.code, exc.message) from exc
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Length": str(out.stat().st_size),
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": _attachment(
                    f"case-bundle-{_ascii(number)}.zip", f"案件材料-{number}.zip"
                ),
            }
        )
        await response.prepare(request)
        with out.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, 1024 * 1024):
                await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(_remove, work)


def _tmp_dir(data_dir: Path) -> Path:
    path = data_dir / "tmp"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _remove(work: Path) -> None:
    for child in work.iterdir():
        child.unlink(missing_ok=True)
    work.rmdir()
