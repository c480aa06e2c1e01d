"""The settlement agreement over HTTP: the console's view, each party's copy, the public check.

- Console (a mediator's session, own cases only): the current agreement with every signature,
  its PDF (made on first request), and "performed".
- Party (``Authorization: Bearer`` invitation token of the room): their copy of the sealed PDF,
  for :data:`PARTY_COPY_DAYS` after sealing — the link does not need the room to be open.
- Public (``/verify``): the minimal facts of a sealed agreement by its verification code, and
  whether an uploaded PDF is the sealed one. Names are masked; nothing else is shown.

Drafting and signing happen live in the room (the room's engineer calls
:mod:`cases.agreement`); nothing here changes an agreement's text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from cases import agreement as ag
from cases import db
from cases import repository as repo
from cases.errors import InvitationError
from cases.invitations import verify_token
from cases.models import Agreement, AgreementStatus, Case, Invitation, Signature, utcnow
from server import api_schemas as s
from server.api import office_case, read_body, respond
from server.auth import current_mediator
from server.errors import ApiError
from server.keys import DATABASE, OFFICE, SETTINGS

logger = logging.getLogger(__name__)

PLACE = "云端调解室（线上）"
"""Where an agreement signed in the room was signed, as printed on its PDF."""

PARTY_COPY_DAYS = 30
"""How long after sealing a party may download their copy with their link."""

MAX_VERIFY_BYTES = 10 * 1024 * 1024
"""The largest PDF the public check accepts (an agreement is ≈ 0.3 MB)."""

CHUNK = 64 * 1024

_STATUS = {
    "agreement_not_found": 404,
    "not_sealed": 409,
    "agreement_sealed": 409,
    "no_draft": 409,
    "stale_version": 409,
    "text_changed": 409,
    "already_signed": 409,
    "parties_must_sign_first": 409,
    "signature_file_changed": 500,
}


def agreement_error(exc: ag.AgreementError) -> ApiError:
    """The HTTP answer to an agreement rule: 404, 409 for a state conflict, else 422."""
    return ApiError(_STATUS.get(exc.code, 422), exc.code, exc.message)


def _not_found(number: str) -> ApiError:
    return ApiError(
        404,
        "agreement_not_found",
        f"case {number} has no agreement yet: draft it in the room with the parties",
    )


def _pdf_response(data_dir: Path, agreement: Agreement, number: str) -> web.StreamResponse:
    assert agreement.pdf_path is not None
    name = f"agreement-{''.join(c if c.isalnum() or c == '-' else '_' for c in number)}.pdf"
    return web.FileResponse(
        data_dir / agreement.pdf_path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


async def _ensure_pdf(request: web.Request, agreement_id: int) -> Agreement:
    """The sealed agreement with its PDF made (once; later calls find it in place)."""
    settings = request.app[SETTINGS]
    async with db.session_factory(request.app[DATABASE])() as session, session.begin():
        try:
            return await ag.render_pdf(
                session,
                agreement_id,
                data_dir=settings.data_dir,
                place=PLACE,
                verify_url=f"{settings.base_url.rstrip('/')}/verify",
                timezone=request.app[OFFICE].timezone,
            )
        except ag.AgreementError as exc:
            raise agreement_error(exc) from None


# -- console -------------------------------------------------------------------------------


def _utc(at: dt.datetime | None) -> str | None:
    return None if at is None else at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _signature_out(sig: Signature) -> s.AgreementSignatureOut:
    return s.AgreementSignatureOut(
        id=sig.id,
        role=sig.role,
        name=sig.name,
        signed_at=_utc(sig.signed_at),
        voided_at=_utc(sig.voided_at),
        text_sha256=sig.text_sha256,
        image_sha256=sig.image_sha256,
    )


async def get_agreement(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/agreement``: the current agreement and every signature."""
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, number, own=True)
        agreement = await ag.current_agreement(session, case.id)
        if agreement is None:
            raise _not_found(number)
        every = await ag.signatures(session, agreement.id, include_voided=True)
    view = ag.agreement_view(agreement, every)
    return respond(s.AgreementOut(**view, signature_history=[_signature_out(sig) for sig in every]))


async def _sealed_of(request: web.Request) -> tuple[Case, Agreement]:
    mediator = await current_mediator(request)
    number = request.match_info["number"]
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, number, own=True)
        agreement = await ag.current_agreement(session, case.id)
    if agreement is None:
        raise _not_found(number)
    if agreement.status != AgreementStatus.SEALED.value:
        raise ApiError(
            409,
            "not_sealed",
            "the agreement is not signed yet: both parties and then the mediator sign it in "
            "the room",
        )
    return case, agreement


async def agreement_pdf(request: web.Request) -> web.StreamResponse:
    """``GET /api/cases/{number}/agreement.pdf``: the sealed agreement's PDF."""
    case, agreement = await _sealed_of(request)
    agreement = await _ensure_pdf(request, agreement.id)
    return _pdf_response(request.app[SETTINGS].data_dir, agreement, case.number)


async def mark_performed(request: web.Request) -> web.Response:
    """``POST /api/cases/{number}/agreement/performed``: the business did what it agreed."""
    mediator = await current_mediator(request)
    body = await read_body(request, s.PerformedIn)
    _case, agreement = await _sealed_of(request)
    today = request.app[OFFICE].today()
    async with db.session_factory(request.app[DATABASE])() as session, session.begin():
        try:
            agreement = await ag.mark_performed(
                session,
                agreement.id,
                performed_on=body.performed_on or today,
                actor=mediator.display_name,
                today=today,
            )
        except ag.AgreementError as exc:
            raise agreement_error(exc) from None
        every = await ag.signatures(session, agreement.id, include_voided=True)
        view = ag.agreement_view(agreement, every)
    return respond(s.AgreementOut(**view, signature_history=[_signature_out(sig) for sig in every]))


# -- a party's copy ------------------------------------------------------------------------


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def room_agreement_pdf(request: web.Request) -> web.StreamResponse:
    """``GET /api/rooms/{room_id}/agreement.pdf``: the party's copy of the sealed agreement.

    The token is checked against the stored invitation (revoked links are refused) but not
    against the live room: a party downloads the copy after the sitting has closed.
    """
    room_id = request.match_info["room_id"]
    try:
        claims = verify_token(request.app[SETTINGS].secrets, _bearer(request), room_id)
    except InvitationError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    async with db.session_factory(request.app[DATABASE])() as session:
        invitation = (
            None
            if claims.invitation_id is None
            else await session.get(Invitation, claims.invitation_id)
        )
        if invitation is None:
            raise ApiError(401, "token_unknown", "this link is not one of the case's invitations")
        try:
            await repo.check_invitation(session, invitation.id, invitation.case_id)
        except InvitationError as exc:
            raise ApiError(401, exc.code, exc.message) from None
        agreement = await ag.current_agreement(session, invitation.case_id)
        case = await session.get(Case, invitation.case_id)
    assert case is not None
    if agreement is None or agreement.status != AgreementStatus.SEALED.value:
        raise ApiError(
            404,
            "agreement_not_found",
            "there is no signed agreement in this case yet; the copy is ready once everyone "
            "has signed",
        )
    assert agreement.sealed_at is not None
    if utcnow() > agreement.sealed_at + dt.timedelta(days=PARTY_COPY_DAYS):
        raise ApiError(
            410,
            "copy_expired",
            f"the copy could be downloaded for {PARTY_COPY_DAYS} days after signing; "
            "ask the office that mediated your case for a copy",
        )
    agreement = await _ensure_pdf(request, agreement.id)
    return _pdf_response(request.app[SETTINGS].data_dir, agreement, case.number)


# -- the public check ----------------------------------------------------------------------


async def _by_code(request: web.Request) -> tuple[Agreement, Case]:
    code = request.match_info["code"]
    async with db.session_factory(request.app[DATABASE])() as session:
        agreement = await ag.find_by_code(session, code)
        case = None if agreement is None else await session.get(Case, agreement.case_id)
    normalized = ag.normalize_code(code) or ""
    stored = "" if agreement is None else (agreement.verification_code or "")
    # Compared in constant time as well, so an answer never depends on how much of a guess
    # was right (the database lookup above is by exact, unique value).
    if agreement is None or case is None or not hmac.compare_digest(normalized, stored):
        raise ApiError(
            404,
            "verification_code_unknown",
            "no signed agreement has this verification code: check the code printed at the "
            "bottom of the agreement (10 letters and digits, e.g. 7K3QD-9XW2M)",
        )
    return agreement, case


def _masked_parties(agreement: Agreement) -> list[s.VerifyParty]:
    terms = agreement.terms or {}
    out = []
    for role in ag.PARTY_ROLES:
        given = terms.get(role)
        name = given.get("name", "") if isinstance(given, dict) else ""
        out.append(s.VerifyParty(role=role, name=ag.mask_name(str(name))))
    return out


async def verify_code(request: web.Request) -> web.Response:
    """``GET /api/verify/{code}``: the facts anyone with the code may see."""
    agreement, case = await _by_code(request)
    assert agreement.sealed_at is not None and agreement.verification_code is not None
    sealed = agreement.sealed_at.astimezone(ZoneInfo(request.app[OFFICE].timezone))
    return respond(
        s.VerifyOut(
            verification_code=agreement.verification_code,
            case_number=case.number,
            sealed_on=sealed.date().isoformat(),
            text_sha256=agreement.text_sha256,
            pdf_sha256=agreement.pdf_sha256,
            parties=_masked_parties(agreement),
        )
    )


async def verify_pdf(request: web.Request) -> web.Response:
    """``POST /api/verify/{code}``: is this uploaded PDF the sealed agreement's?"""
    agreement, _case = await _by_code(request)
    if request.content_length is not None and request.content_length > MAX_VERIFY_BYTES + CHUNK:
        raise _too_large()
    if not request.content_type.startswith("multipart/"):
        raise ApiError(
            415, "unsupported_media_type", "send the PDF as multipart/form-data, field 'file'"
        )
    try:
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and (not isinstance(part, BodyPartReader) or part.name != "file"):
            part = await reader.next()
        if part is None:
            raise ApiError(422, "invalid_payload", "file: missing; choose the PDF to check")
        digest = hashlib.sha256()
        size = 0
        head = b""
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > MAX_VERIFY_BYTES:
                raise _too_large()
            if len(head) < 5:
                head += chunk[:5]
            digest.update(chunk)
    except (BadHttpMessage, ValueError) as exc:
        raise ApiError(400, "invalid_upload", f"the upload could not be read: {exc}") from None
    if not head.startswith(b"%PDF-"):
        raise ApiError(422, "not_a_pdf", "the file is not a PDF: choose the agreement's PDF")
    uploaded = digest.hexdigest()
    stored = agreement.pdf_sha256
    matches = stored is not None and hmac.compare_digest(uploaded, stored)
    return respond(s.VerifyPdfOut(matches=matches, sha256=uploaded, pdf_sha256=stored))


def _too_large() -> ApiError:
    return ApiError(
        413,
        "file_too_large",
        f"the file is larger than {MAX_VERIFY_BYTES // (1024 * 1024)} MiB; an agreement's PDF "
        "is far smaller: choose the right file",
    )
