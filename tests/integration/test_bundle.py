"""The case bundle from a real case (evidence, transcript, recording, sealed agreement,
satisfaction; a terminated case for the notice), on both databases: every file in the manifest
with its hash, verify says intact; then a file altered, deleted or added, the audit JSON edited,
or a file altered together with its manifest line — verify names each and exits non-zero."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.bundle import build_bundle, verify_bundle
from cases.evidence import store_evidence
from cases.models import utcnow
from cases.outcome import conclude_sitting
from cases.recordings import add_recording
from cases.satisfaction import Rater, record_answer
from tests.integration.outcome_support import TODAY, Built, build_case, seal_agreement

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PHOTO = b"\xff\xd8\xff\xe0" + b"receipt photo " * 200
MEDIA = b"\x1a\x45\xdf\xa3" + b"webm segment " * 500


def put(data_dir: Path, relative: str, data: bytes) -> str:
    path = data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


async def a_settled_case(engine: AsyncEngine, data: Path) -> Built:
    built = await build_case(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        sha = put(data, f"evidence/case-{built.case_id}/receipt.jpg", PHOTO)
        await store_evidence(
            session, case_id=built.case_id, sitting_id=built.sitting_id,
            participant_id="consumer", role="consumer", submitted_by="李女士",
            filename="购物/小票.jpg", content_type="image/jpeg", size=len(PHOTO), sha256=sha,
            path=f"evidence/case-{built.case_id}/receipt.jpg",
        )  # fmt: skip
        await repo.append_transcript(
            session, built.case_id, kind="chat", author="李女士", author_role="consumer",
            text="空调装好第二天就不制冷了。", sitting_id=built.sitting_id, event="chat",
        )  # fmt: skip
        relative = f"recordings/case-{built.case_id}/consumer-1.webm"
        now = utcnow()
        await add_recording(
            session, built.case_id, sitting_id=built.sitting_id, participant_id="consumer",
            path=relative, started_at=now - dt.timedelta(minutes=5), ended_at=now,
            codecs="opus,vp8", size=len(MEDIA), sha256=put(data, relative, MEDIA), duration=300.0,
        )  # fmt: skip
    await seal_agreement(engine, built, data, amount="3000.00")
    async with sessions() as session, session.begin():
        await conclude_sitting(
            session, built.case_id, built.sitting_id, outcome="settled", actor="王调解员",
            today=TODAY, data_dir=data,
        )  # fmt: skip
        rater = Rater(built.case_id, built.sitting_id, "consumer", "inv1")
        await record_answer(session, rater, 5, "很满意")
    return built


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True
    )


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None], add: dict[str, bytes]) -> None:
    """A copy of the zip with members replaced (``None``: removed) and added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    zout.writestr(info.filename, change[info.filename] or b"")
            else:
                zout.writestr(info, zin.read(info))
        for name, content in add.items():
            zout.writestr(name, content)


async def test_bundle_holds_everything_and_verify_finds_every_tampering(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    built = await a_settled_case(engine, data)
    out = tmp_path / "out" / "bundle.zip"
    async with db.session_factory(engine)() as session:
        plain = await build_bundle(session, built.case_id, out, data_dir=data)
        full = await build_bundle(
            session, built.case_id, tmp_path / "full.zip", data_dir=data, include_recordings=True
        )
    assert list(out.parent.iterdir()) == [out]  # no temporary file left beside it
    manifest = plain.manifest
    assert (manifest["case_number"], manifest["format"]) == (
        built.number,
        "mediation-room/bundle@1",
    )
    assert manifest["generator"].startswith("mediation-room") and manifest["generated_at"]
    kinds = sorted(f["kind"] for f in manifest["files"])
    assert kinds == sorted(
        ["transcript_json", "transcript_pdf", "agreement_pdf", "evidence", "recording_manifest",
         "audit_chain", "satisfaction"]
    )  # fmt: skip
    assert manifest["notes"] == []
    with zipfile.ZipFile(out) as zf:
        for entry in manifest["files"]:
            content = zf.read(entry["path"])
            assert (len(content), hashlib.sha256(content).hexdigest()) == (
                entry["size"],
                entry["sha256"],
            )
        assert zf.read("evidence/1-小票.jpg") == PHOTO
        assert zf.read("transcript/transcript.pdf").startswith(b"%PDF")
        assert zf.read("agreement/agreement.pdf").startswith(b"%PDF")
        segments = json.loads(zf.read("recordings/recordings.json"))["segments"]
        seen = [
            (s["participant_id"], s["codecs"], s["size"], s["deleted"], s["file"]) for s in segments
        ]
        assert seen == [("consumer", "opus,vp8", len(MEDIA), False, None)]
        assert json.loads(zf.read("satisfaction.json"))[0]["rating"] == 5
        chain = json.loads(zf.read("audit/audit-chain.json"))
        assert {"sitting_concluded", "agreement_sealed", "satisfaction_answered"} <= {
            e["kind"] for e in chain
        }
    with zipfile.ZipFile(full.path) as zf:
        (recording,) = [f for f in full.manifest["files"] if f["kind"] == "recording"]
        assert zf.read(recording["path"]) == MEDIA

    report = verify_bundle(out)
    assert report.intact, report.problems
    assert (report.case_number, report.files, report.events) == (
        built.number, len(manifest["files"]), len(chain)
    )  # fmt: skip
    assert verify_bundle(full.path).intact

    # Each tampering, named; the manifest line of an altered file may be "fixed" too.
    with zipfile.ZipFile(out) as zf:
        edited_chain = json.loads(zf.read("audit/audit-chain.json"))
        listed = json.loads(zf.read("manifest.json"))
    edited_chain[3]["actor"] = "somebody else"
    forged = b"\xff\xd8\xff\xe0 a different photo"
    fixed = json.loads(json.dumps(listed))
    for entry in fixed["files"]:
        if entry["path"] == "evidence/1-小票.jpg":
            entry.update(size=len(forged), sha256=hashlib.sha256(forged).hexdigest())
    cases: list[tuple[dict[str, bytes | None], dict[str, bytes], str]] = [
        ({"evidence/1-小票.jpg": forged}, {}, "altered: evidence/1-小票.jpg"),
        ({"agreement/agreement.pdf": None}, {}, "missing: agreement/agreement.pdf"),
        ({}, {"evidence/99-extra.jpg": b"x"}, "extra: evidence/99-extra.jpg"),
        (
            {"audit/audit-chain.json": json.dumps(edited_chain).encode()},
            {},
            "audit chain: event 4 its content was changed after it was written",
        ),
        (
            {"evidence/1-小票.jpg": forged, "manifest.json": json.dumps(fixed).encode()},
            {},
            "altered: evidence/1-小票.jpg is not the file the audit chain recorded",
        ),
    ]
    for n, (change, add, expected) in enumerate(cases):
        bad = tmp_path / f"bad-{n}.zip"
        rewrite(out, bad, change, add)
        problems = verify_bundle(bad).problems
        assert any(p.startswith(expected) for p in problems), (expected, problems)
        if n == len(cases) - 1:  # the command says the same (one run: each costs a start-up)
            run = cli("verify", str(bad))
            assert run.returncode == 1, run.stdout + run.stderr
            assert expected in run.stdout and "NOT INTACT" in run.stdout

    ok = cli("verify", str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout
    assert "cannot open" in verify_bundle(tmp_path / "nothing.zip").problems[0]


async def test_a_terminated_case_carries_its_notice(engine: AsyncEngine, tmp_path: Path) -> None:
    built = await build_case(engine)
    async with db.session_factory(engine)() as session, session.begin():
        await conclude_sitting(
            session, built.case_id, built.sitting_id, outcome="not_settled", actor="王调解员",
            reason="商家已停业，无法联系。", today=TODAY, data_dir=tmp_path,
        )  # fmt: skip
    async with db.session_factory(engine)() as session:
        result = await build_bundle(session, built.case_id, tmp_path / "b.zip", data_dir=tmp_path)
    (notice,) = [f for f in result.manifest["files"] if f["kind"] == "termination_notice"]
    assert notice["path"] == f"notices/termination-sitting-{built.sitting_id}.pdf"
    assert not any(f["kind"] == "agreement_pdf" for f in result.manifest["files"])
    assert verify_bundle(result.path).intact


def test_the_cli_writes_a_bundle(tmp_path: Path) -> None:
    """``mediation-room bundle`` against a SQLite data directory, then ``verify``."""
    import asyncio

    data = tmp_path / "data"

    async def make() -> str:
        engine = db.create_engine(db.sqlite_url(data))
        await db.upgrade(engine)
        try:
            return (await build_case(engine)).number
        finally:
            await engine.dispose()

    data.mkdir()
    number = asyncio.run(make())
    out = tmp_path / "案件.zip"
    made = cli("bundle", number, str(out), "--data-dir", str(data))
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"wrote {out}" in made.stdout
    assert cli("verify", str(out)).returncode == 0
    missing = cli("bundle", "1999-000001", str(tmp_path / "x.zip"), "--data-dir", str(data))
    assert missing.returncode != 0 and "no case numbered" in missing.stderr
    assert not (tmp_path / "x.zip").exists()
