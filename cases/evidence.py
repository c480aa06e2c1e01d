"""Evidence: files a party or the mediator puts on the case record.

A file is recognised by its first bytes only — the name and the browser's type are not trusted —
and kept under its SHA-256; the row, an ``evidence_added`` audit event and a transcript line are
written in one transaction, so :func:`cases.repository.verify_case` can vouch for the row.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases.models import Evidence

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
"""The largest file accepted (20 MiB): a phone photo or a scanned contract, not a video."""

SNIFF_BYTES = 64
"""How many first bytes :func:`sniff` needs to decide (an ISO-BMFF ``ftyp`` box with its brands)."""

MAX_FILENAME = 255

_PNG = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"})
# AVIF is HEIF too (compatible brand mif1) but is not a HEIC photo: labelled image/heic it would
# be shown wrongly, and it is not among the accepted types.
_NOT_HEIC = frozenset({b"avif", b"avis"})

CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/heic", "application/pdf"})
"""Every type :func:`sniff` can answer; nothing else is ever served as evidence."""

ROLE_LABELS = {"mediator": "调解员", "consumer": "消费者", "business": "商家"}


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(content type, extension)`` of an accepted file, from its first bytes; else ``None``.

    Accepted: JPEG, PNG, HEIC/HEIF and PDF. Anything else is refused, SVG included (it may
    carry script).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", ".jpg"
    if head.startswith(_PNG):
        return "image/png", ".png"
    if head.startswith(b"%PDF-"):
        return "application/pdf", ".pdf"
    if _is_heif(head):
        return "image/heic", ".heic"
    return None


def _is_heif(head: bytes) -> bool:
    """An ISO-BMFF file (ISO/IEC 14496-12 §4.3) whose ``ftyp`` box names a HEIF brand
    (ISO/IEC 23008-12 Annex B): size, ``ftyp``, major brand, minor version, compatible brands."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[0:4], "big")
    if size < 16 or size % 4:  # 0 ("to the end") and 1 (64-bit size) make no sense for ftyp
        return False
    major = head[8:12]
    compatible = [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    if major in _NOT_HEIC:
        return False
    return major in _HEIF_BRANDS or any(brand in _HEIF_BRANDS for brand in compatible)


def clean_filename(name: str | None, extension: str) -> str:
    """The uploader's file name, fit to show and to keep: no folders, no control characters,
    at most 255 characters; ``evidence<ext>`` when nothing is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    if not base:
        return f"evidence{extension}"
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            base = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_FILENAME]
    return base


def evidence_path(case_id: int, sha256: str, extension: str) -> str:
    """Where a file is kept, relative to the data directory: one folder per case, named by its
    content (the same file uploaded twice is stored once)."""
    return f"evidence/case-{case_id}/{sha256}{extension}"


async def store_evidence(
    session: AsyncSession,
    *,
    case_id: int,
    sitting_id: int | None,
    participant_id: str | None,
    role: str,
    submitted_by: str,
    filename: str,
    content_type: str,
    size: int,
    sha256: str,
    path: str,
) -> Evidence:
    """Put a stored file on the record: its row, the audit event that vouches for the row, and
    the transcript line that says who submitted what."""
    await repo.lock_case(session, case_id)
    evidence = Evidence(
        case_id=case_id,
        sitting_id=sitting_id,
        submitted_by=submitted_by,
        submitted_role=role,
        participant_id=participant_id,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        path=path,
    )
    session.add(evidence)
    await session.flush()
    # verify_case compares these fields of the row with the event.
    await repo.append_audit(
        session,
        case_id,
        submitted_by,
        "evidence_added",
        {
            "evidence_id": evidence.id,
            "sha256": sha256,
            "size": size,
            "content_type": content_type,
            "filename": filename,
            "path": path,
            "submitted_by": submitted_by,
            "submitted_role": role,
            "participant_id": participant_id,
        },
    )
    await repo.append_transcript(
        session,
        case_id,
        kind="system",
        author=submitted_by,
        author_role=role,
        text=(
            f"{submitted_by}（{ROLE_LABELS.get(role, role)}）提交证据：{filename}"
            f"（SHA-256 {sha256[:12]}…）"
        ),
        sitting_id=sitting_id,
        event="evidence_uploaded",
        participant_id=participant_id,
        data={"evidence_id": evidence.id, "sha256": sha256},
    )
    return evidence


async def get_evidence(session: AsyncSession, case_id: int, evidence_id: int) -> Evidence | None:
    """One file of a case (``None`` if the id names none of this case's)."""
    evidence = await session.get(Evidence, evidence_id)
    return evidence if evidence is not None and evidence.case_id == case_id else None


async def list_evidence(session: AsyncSession, case_id: int) -> Sequence[Evidence]:
    """Every file of a case, in the order it was submitted."""
    result = await session.execute(
        select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)
    )
    return result.scalars().all()


def evidence_view(ev: Evidence, room_id: str, *, url: str | None = None) -> dict[str, Any]:
    """What participants see of a file (``evidence_added``, the evidence list, ``room_view``);
    ``url`` defaults to the room's download address."""
    return {
        "id": ev.id,
        "filename": ev.filename,
        "content_type": ev.content_type,
        "size": ev.size,
        "sha256": ev.sha256,
        "submitted_by": ev.submitted_by,
        "role": ev.submitted_role,
        "at": ev.at.isoformat(),
        "url": url if url is not None else f"/api/rooms/{room_id}/evidence/{ev.id}",
    }
