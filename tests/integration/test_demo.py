"""The demo (``serve --demo``): its case is ready to be mediated to the end, and a run after one
that concluded it gets a new case, so every run can reach a signed agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Case, CaseStatus, Sitting
from tests.support.server import run_server

pytestmark = pytest.mark.integration


async def demo_cases(data_dir: Path) -> list[tuple[str, str, int]]:
    """(number, status, sittings) of every demo case."""
    engine = db.create_engine(db.sqlite_url(data_dir))
    try:
        async with db.session_factory(engine)() as session:
            cases = (
                await session.execute(
                    select(Case).where(Case.number.like("DEMO-2026-%")).order_by(Case.id)
                )
            ).scalars()
            out = []
            for case in cases:
                sittings = (
                    await session.execute(select(Sitting).where(Sitting.case_id == case.id))
                ).all()
                out.append((case.number, case.status, len(sittings)))
            return out
    finally:
        await engine.dispose()


async def test_the_demo_case_is_in_mediation_and_renewed_once_concluded(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        assert "/room/demo" in server.links["mediator"]
    assert await demo_cases(tmp_path / "data") == [("DEMO-2026-0001", "in_mediation", 1)]

    # A second run takes up the same case with a new sitting.
    with run_server(tmp_path):
        pass
    assert await demo_cases(tmp_path / "data") == [("DEMO-2026-0001", "in_mediation", 2)]

    # Once it concluded (here: withdrawn), the next run opens a new demo case.
    engine = db.create_engine(db.sqlite_url(tmp_path / "data"))
    try:
        async with db.session_factory(engine)() as session, session.begin():
            case_id = (
                await session.execute(select(Case.id).where(Case.number == "DEMO-2026-0001"))
            ).scalar_one()
            await repo.change_status(session, case_id, CaseStatus.WITHDRAWN, "王调解员", "撤回")
    finally:
        await engine.dispose()
    with run_server(tmp_path):
        pass
    assert await demo_cases(tmp_path / "data") == [
        ("DEMO-2026-0001", "withdrawn", 2),
        ("DEMO-2026-0002", "in_mediation", 1),
    ]
