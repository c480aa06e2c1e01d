"""The case bundle: one zip with everything a court or a supervisor needs to check a case.

Inside: the sealed agreement's PDF, the transcript document (调解笔录) as JSON and PDF, any
termination notice, every evidence file, a manifest of the recorded segments (and the files
themselves when asked for), the audit chain as JSON, the satisfaction answers, and
``manifest.json`` naming every other file with its size and SHA-256.

:func:`verify_bundle` needs nothing but the zip: it checks every file against the manifest
(missing, altered, extra), recomputes the audit chain's hashes, and checks the files the chain
vouches for (evidence, recordings, notices, the agreement PDF, transcript lines, satisfaction
answers) against the hashes recorded in it — so a file altered together with its manifest line
still shows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cases import repository as repo
from cases import transcript_doc as doc
from cases.agreement import current_agreement
from cases.audit import verify_chain
from cases.evidence import list_evidence
from cases.models import AgreementStatus, AuditEvent, Case, utcnow
from cases.outcome import termination_notices
from cases.recordings import list_recordings
from cases.satisfaction import answer_view, comment_digest, list_answers

FORMAT = "mediation-room/bundle@1"
MANIFEST = "manifest.json"
AUDIT_PATH = "audit/audit-chain.json"
CHUNK = 1024 * 1024


def generator() -> str:
    """``mediation-room 0.1.0``: what made the bundle."""
    try:
        return f"mediation-room {metadata.version('mediation-room')}"
    except metadata.PackageNotFoundError:
        return "mediation-room"


@dataclass(frozen=True, slots=True)
class _Item:
    """One file to put in the zip: from disk (``source``) or made now (``data``)."""

    path: str
    kind: str
    source: Path | None = None
    data: bytes | None = None
    ref: int | None = None
    """The record it stands for: the evidence or recording id, the notice's sitting id."""


@dataclass(slots=True)
class BundleResult:
    """What :func:`build_bundle` wrote."""

    path: Path
    manifest: dict[str, Any]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode()


def _safe_name(name: str) -> str:
    """A file name safe inside a zip: no folders, no control characters, not empty."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip(" .") or "file"
    return base[:120]


def _utc(at: dt.datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def audit_json(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """The chain as JSON: ``at`` exactly as it was hashed (UTC, microseconds)."""
    return [
        {
            "case_id": ev.case_id,
            "seq": ev.seq,
            "at": _utc(ev.at),
            "actor": ev.actor,
            "kind": ev.kind,
            "payload": ev.payload,
            "prev_hash": ev.prev_hash,
            "hash": ev.hash,
        }
        for ev in events
    ]


async def build_bundle(
    session: AsyncSession,
    case_id: int,
    out: Path,
    *,
    data_dir: Path,
    include_recordings: bool = False,
    timezone: str = doc.DEFAULT_TIMEZONE,
    now: dt.datetime | None = None,
) -> BundleResult:
    """Write the case's bundle to ``out`` (through a temporary file beside it and a rename).

    Raises :class:`cases.repository.CaseNotFound` for an unknown case and
    :class:`cases.pdf.PdfError` if the transcript's PDF cannot be made.
    """
    case = await session.get(Case, case_id)
    if case is None:
        raise repo.CaseNotFound(f"no case {case_id}")
    now = now or utcnow()
    timeline = await doc.build_timeline(session, case_id, timezone=timezone, now=now)
    transcript_pdf = await doc.render_pdf_async(doc.render_html(timeline))
    events = await repo.audit_events(session, case_id)
    notes: list[str] = []
    items: list[_Item] = [
        _Item("transcript/transcript.json", "transcript_json", data=_json(timeline)),
        _Item("transcript/transcript.pdf", "transcript_pdf", data=transcript_pdf),
    ]

    agreement = await current_agreement(session, case_id)
    if agreement is not None and agreement.status == AgreementStatus.SEALED.value:
        if agreement.pdf_path:
            items.append(
                _Item(
                    "agreement/agreement.pdf",
                    "agreement_pdf",
                    source=data_dir / agreement.pdf_path,
                    ref=agreement.id,
                )
            )
        else:
            notes.append(f"agreement {agreement.id} is sealed but its PDF was not made yet")

    for sitting_id, notice in sorted((await termination_notices(session, case_id)).items()):
        items.append(
            _Item(
                f"notices/termination-sitting-{sitting_id}.pdf",
                "termination_notice",
                source=data_dir / notice.path,
                ref=sitting_id,
            )
        )

    for ev in await list_evidence(session, case_id):
        items.append(
            _Item(
                f"evidence/{ev.id}-{_safe_name(ev.filename)}",
                "evidence",
                source=data_dir / ev.path,
                ref=ev.id,
            )
        )

    segments = []
    for r in await list_recordings(session, case_id):
        in_bundle = None
        if include_recordings and r.deleted_at is None:
            in_bundle = f"recordings/{r.id}-{_safe_name(r.path)}"
            items.append(_Item(in_bundle, "recording", source=data_dir / r.path, ref=r.id))
        segments.append(
            {
                "id": r.id,
                "sitting_id": r.sitting_id,
                "participant_id": r.participant_id,
                "started_at": _utc(r.started_at),
                "ended_at": _utc(r.ended_at),
                "duration": r.duration,
                "codecs": r.codecs,
                "size": r.size,
                "sha256": r.sha256,
                "sealed_after_crash": r.sealed_after_crash,
                "deleted": r.deleted_at is not None,
                "deleted_at": _utc(r.deleted_at),
                "file": in_bundle,
            }
        )
    items.append(
        _Item(
            "recordings/recordings.json",
            "recording_manifest",
            data=_json({"included": include_recordings, "segments": segments}),
        )
    )
    items.append(_Item(AUDIT_PATH, "audit_chain", data=_json(audit_json(events))))
    answers = [answer_view(a) for a in await list_answers(session, case_id)]
    items.append(_Item("satisfaction.json", "satisfaction", data=_json(answers)))

    head = {
        "format": FORMAT,
        "case_number": case.number,
        "generated_at": _utc(now),
        "generator": generator(),
        "include_recordings": include_recordings,
        "audit_chain": AUDIT_PATH,
        "audit_events": len(events),
        "audit_last_hash": events[-1].hash if events else None,
    }
    manifest = await asyncio.to_thread(_write_zip, out, items, head, notes)
    return BundleResult(out, manifest)


def _chunks(item: _Item) -> Iterator[bytes]:
    if item.data is not None:
        yield item.data
        return
    assert item.source is not None
    with item.source.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


_STORED = {"evidence", "recording"}
"""Already compressed (photos, PDFs, WebM): deflating them again only costs time."""


def _write_zip(
    out: Path, items: list[_Item], head: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    """Blocking: stream every item into a temporary zip, hash it on the way, add the manifest,
    then rename the zip into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-", suffix=".part")
    files: list[dict[str, Any]] = []
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            for item in items:
                if item.source is not None and not item.source.is_file():
                    notes.append(f"{item.kind} {item.ref}: its file is missing on the server")
                    continue
                compress = zipfile.ZIP_STORED if item.kind in _STORED else zipfile.ZIP_DEFLATED
                info = zipfile.ZipInfo(item.path, date_time=_zip_time(head["generated_at"]))
                info.compress_type = compress
                digest = hashlib.sha256()
                size = 0
                big = item.source is not None and item.source.stat().st_size > 1 << 30
                with zf.open(info, "w", force_zip64=big) as dest:
                    for chunk in _chunks(item):
                        dest.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                entry: dict[str, Any] = {
                    "path": item.path,
                    "kind": item.kind,
                    "size": size,
                    "sha256": digest.hexdigest(),
                }
                if item.ref is not None:
                    entry["ref"] = item.ref
                files.append(entry)
            manifest = {**head, "files": files, "notes": notes}
            manifest_info = zipfile.ZipInfo(MANIFEST, date_time=_zip_time(head["generated_at"]))
            manifest_info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(manifest_info, _json(manifest))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return manifest


def _zip_time(iso: str) -> tuple[int, int, int, int, int, int]:
    at = dt.datetime.fromisoformat(iso)
    return (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)


# -- verifying a bundle --------------------------------------------------------------------


@dataclass(slots=True)
class BundleReport:
    """What :func:`verify_bundle` found; ``intact`` when ``problems`` is empty."""

    case_number: str | None = None
    generated_at: str | None = None
    generator: str | None = None
    files: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(info) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_json(zf: zipfile.ZipFile, name: str) -> Any:
    return json.loads(zf.read(name).decode("utf-8"))


def verify_bundle(path: Path) -> BundleReport:
    """Check a bundle on its own (no database): each problem named, in words."""
    report = BundleReport()
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"cannot open {path} as a zip file: {exc}")
        return report
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        for name in sorted({n for n in names if names.count(n) > 1}):
            report.problems.append(f"duplicate: {name} is in the zip more than once")
        if MANIFEST not in names:
            report.problems.append(f"missing: {MANIFEST} (without it nothing can be checked)")
            return report
        try:
            manifest = _read_json(zf, MANIFEST)
            entries = list(manifest["files"])
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            report.problems.append(f"{MANIFEST} is not a readable manifest: {exc}")
            return report
        report.case_number = manifest.get("case_number")
        report.generated_at = manifest.get("generated_at")
        report.generator = manifest.get("generator")
        report.files = len(entries)
        if manifest.get("format") != FORMAT:
            report.problems.append(f"{MANIFEST}: unknown format {manifest.get('format')!r}")
        listed: dict[str, dict[str, Any]] = {}
        actual: dict[str, str] = {}
        for entry in entries:
            name = str(entry.get("path"))
            listed[name] = entry
            if name not in names:
                report.problems.append(f"missing: {name} is in the manifest but not in the zip")
                continue
            try:
                sha256, size = _hash_member(zf, zf.getinfo(name))
            except (zipfile.BadZipFile, OSError) as exc:
                report.problems.append(f"unreadable: {name}: {exc}")
                continue
            actual[name] = sha256
            if sha256 != entry.get("sha256") or size != entry.get("size"):
                report.problems.append(
                    f"altered: {name} ({size} bytes, SHA-256 {sha256[:12]}…) is not the file the "
                    f"manifest lists ({entry.get('size')} bytes, SHA-256 "
                    f"{str(entry.get('sha256'))[:12]}…)"
                )
        for name in sorted(set(names) - set(listed) - {MANIFEST}):
            report.problems.append(f"extra: {name} is in the zip but not in the manifest")
        audit_name = str(manifest.get("audit_chain") or AUDIT_PATH)
        if audit_name in names:
            try:
                chain = _read_json(zf, audit_name)
            except ValueError as exc:
                report.problems.append(f"{audit_name} is not JSON: {exc}")
                return report
            _check_chain(report, chain, manifest)
            _check_against_chain(report, zf, chain, listed, actual)
        else:
            report.problems.append(f"missing: {audit_name} (the audit chain)")
    return report


def _check_chain(report: BundleReport, chain: Any, manifest: dict[str, Any]) -> None:
    """Recompute every event's hash (:func:`cases.audit.verify_chain`)."""
    try:
        events = [
            SimpleNamespace(
                case_id=int(e["case_id"]),
                seq=int(e["seq"]),
                at=dt.datetime.fromisoformat(e["at"]),
                actor=e["actor"],
                kind=e["kind"],
                payload=e["payload"],
                prev_hash=e["prev_hash"],
                hash=e["hash"],
            )
            for e in chain
        ]
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"audit chain: an event is not readable ({exc})")
        return
    report.events = len(events)
    for problem in verify_chain(events):
        report.problems.append(f"audit chain: event {problem.seq} {problem.reason}")
    if len({e.case_id for e in events}) > 1:
        report.problems.append("audit chain: events of more than one case")
    last = events[-1].hash if events else None
    if manifest.get("audit_last_hash") not in (None, last):
        report.problems.append(
            "audit chain: its last hash is not the one the manifest recorded (events were "
            "removed or replaced)"
        )
    elif "audit_events" in manifest and manifest["audit_events"] != len(events):
        report.problems.append(
            f"audit chain: {len(events)} events, the manifest recorded {manifest['audit_events']}"
        )


def _check_against_chain(
    report: BundleReport,
    zf: zipfile.ZipFile,
    chain: list[dict[str, Any]],
    listed: dict[str, dict[str, Any]],
    actual: dict[str, str],
) -> None:
    """Files the chain vouches for must have the hash it recorded."""
    recorded: dict[tuple[str, int], str] = {}
    agreement_pdfs: set[str] = set()
    lines: dict[int, str] = {}
    answers: dict[str, dict[str, Any]] = {}
    for e in chain:
        p = e.get("payload") or {}
        kind = e.get("kind")
        if kind == "evidence_added":
            recorded[("evidence", int(p["evidence_id"]))] = str(p.get("sha256"))
        elif kind == "recording_added":
            recorded[("recording", int(p["recording_id"]))] = str(p.get("sha256"))
        elif kind == "termination_notice":
            recorded[("termination_notice", int(p["sitting_id"]))] = str(p.get("sha256"))
        elif kind == "agreement_pdf" and p.get("pdf_sha256"):
            agreement_pdfs.add(str(p["pdf_sha256"]))
        elif kind == "transcript":
            lines[int(p["seq"])] = str(p.get("text_sha256"))
        elif kind == "satisfaction_answered":
            answers[str(p.get("role"))] = p
    for name, entry in listed.items():
        sha256 = actual.get(name)
        if sha256 is None:
            continue
        kind = entry.get("kind")
        ref = entry.get("ref")
        if kind in ("evidence", "recording", "termination_notice") and ref is not None:
            expected = recorded.get((str(kind), int(ref)))
            if expected is None:
                report.problems.append(f"unvouched: {name} has no {kind} event in the audit chain")
            elif expected != sha256:
                report.problems.append(
                    f"altered: {name} is not the file the audit chain recorded "
                    f"(SHA-256 {expected[:12]}…)"
                )
        elif kind == "agreement_pdf" and sha256 not in agreement_pdfs:
            report.problems.append(f"altered: {name} is not the PDF the audit chain recorded")
    transcript = next((n for n, e in listed.items() if e.get("kind") == "transcript_json"), None)
    if transcript is not None and transcript in actual:
        _check_lines(report, _read_json(zf, transcript), lines, transcript)
    satisfaction = next((n for n, e in listed.items() if e.get("kind") == "satisfaction"), None)
    if satisfaction is not None and satisfaction in actual:
        for answer in _read_json(zf, satisfaction):
            p = answers.get(str(answer.get("role")))
            if p is None or (
                p.get("rating") != answer.get("rating")
                or p.get("comment_sha256") != comment_digest(str(answer.get("comment", "")))
            ):
                report.problems.append(
                    f"altered: {satisfaction}: the {answer.get('role')}'s answer is not the one "
                    "the audit chain recorded"
                )


def _check_lines(
    report: BundleReport, timeline: dict[str, Any], lines: dict[int, str], name: str
) -> None:
    entries = [e for s in timeline.get("sittings", []) for e in s.get("entries", [])]
    entries += list(timeline.get("notes", []))
    entries += [x for x in [timeline.get("summary"), *timeline.get("summary_history", [])] if x]
    for entry in entries:
        seq = int(entry["seq"])
        text_sha256 = hashlib.sha256(str(entry["text"]).encode("utf-8")).hexdigest()
        if lines.get(seq) != text_sha256:
            report.problems.append(
                f"altered: {name}: transcript line {seq} is not the text the audit chain recorded"
            )
