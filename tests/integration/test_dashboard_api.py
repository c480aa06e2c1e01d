"""The office's view over HTTP (server/dashboard_api.py), on both databases: who may see which
figures, bad input, the cases behind a figure, the exports read back, and "my work"."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Agreement, Case, CaseStatus, Satisfaction
from server.app import create_app
from server.config import Settings
from server.keys import DATABASE
from server.office import OfficeRules
from tests.support.database import BACKENDS, fresh_database
from tests.support.pdf import pdf_text, require_poppler

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
Client = TestClient  # type: ignore[type-arg]
TODAY = OfficeRules().today()
# Last year's first half and the one before it: well before today, whole months.
YEAR = TODAY.year - 1
PERIOD = f"from={YEAR}-01-01&to={YEAR}-06-30"

# (mediator, category, received, outcome, amount recovered, consumer rating)
CASES = [
    ("wang", "餐饮", dt.date(YEAR, 1, 5), "settled", "100.00", 5),
    ("wang", "餐饮", dt.date(YEAR, 2, 9), "settled", "300.50", 3),
    ("wang", "预付卡", dt.date(YEAR, 3, 2), "not_settled", None, 2),
    ("wang", "预付卡", dt.date(YEAR, 3, 20), "withdrawn", None, None),
    ("wang", "家用电器", dt.date(YEAR, 5, 11), "received", None, None),
    ("li", "餐饮", dt.date(YEAR, 1, 15), "settled", "1000.00", 4),
    ("li", "家用电器", dt.date(YEAR, 4, 1), "settled", "50.00", None),
    ("li", "家用电器", dt.date(YEAR - 1, 4, 1), "settled", "70.00", None),  # a year earlier
]


async def seed(engine: Any) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with db.session_factory(engine)() as session, session.begin():
        office = await repo.create_office(session, "甲市消协")
        for username, role in (("chen", "supervisor"), ("wang", "mediator"), ("li", "mediator")):
            m = await repo.create_mediator(session, office, username, f"{username}调解员", PASSWORD)
            m.role = role
            ids[username] = m.id
        other = await repo.create_office(session, "乙市消协")
        ids["zhao"] = (await repo.create_mediator(session, other, "zhao", "赵", PASSWORD)).id
        for n, (who, category, received, outcome, amount, rating) in enumerate(CASES):
            case = await repo.create_case(
                session,
                office_id=office.id,
                mediator_id=ids[who],
                number=f"S-{n:03d}",
                title=f"统计案件{n}",
                category=category,
                received_on=received,
                actor="test",
            )
            if outcome == "received":
                continue
            day = received + dt.timedelta(days=3)
            for to in ("accepted", "in_mediation", outcome):
                await repo.change_status(
                    session,
                    case.id,
                    CaseStatus(to),
                    "test",
                    today=day if to != outcome else day + dt.timedelta(days=10),
                    amount_recovered=amount if to == "settled" else None,
                )
            if rating is not None:
                at = dt.datetime.combine(day + dt.timedelta(days=10), dt.time(12), dt.UTC)
                session.add(Satisfaction(case_id=case.id, role="consumer", rating=rating, at=at))
    return ids


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    aiohttp_client: Callable[[Any], Awaitable[Client]],
) -> AsyncIterator[Client]:
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    ids = await seed(engine)
    settings = Settings(data_dir=tmp_path, secret=b"s" * 32, ice_hosts=("127.0.0.1",))
    app_client = await aiohttp_client(create_app(settings, engine))
    app_client.ids = ids  # type: ignore[attr-defined]
    yield app_client


async def login(client: Client, username: str) -> None:
    resp = await client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()


async def error(resp: Any, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "message", "event"}, body
    assert body["code"] == code, body
    return body


async def get_stats(client: Client, query: str = PERIOD) -> dict[str, Any]:
    resp = await client.get(f"/api/stats?{query}")
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def figures(body: dict[str, Any]) -> dict[str, Any]:
    return {row["key"]: row["current"] for row in body["rows"]}


async def test_a_supervisor_sees_the_office_a_mediator_only_their_own(client: Client) -> None:
    ids: dict[str, int] = client.ids  # type: ignore[attr-defined]
    await login(client, "chen")
    office = await get_stats(client)
    got = figures(office)
    assert (got["received"], got["concluded"], got["settled"]) == (7, 6, 4)
    assert (got["not_settled"], got["withdrawn"]) == (1, 1)
    assert Decimal(got["money_recovered"]) == Decimal("1450.50")
    assert got["success_rate"] == pytest.approx(4 / 6)
    assert Decimal(got["money_median"]) == Decimal("200.25")
    assert (got["consumer_count"], got["consumer_share"]) == (4, 0.5)
    previous = {row["key"]: row["previous"] for row in office["rows"]}
    assert previous["settled"] == 1 and Decimal(previous["money_recovered"]) == Decimal("70")
    change = {row["key"]: row["change"] for row in office["rows"]}
    assert change["settled"] == 3
    assert office["scope"] == "office" and office["office_name"] == "甲市消协"
    assert {m["id"] for m in office["mediators"]} == {ids["chen"], ids["wang"], ids["li"]}
    months = {m["month"]: m for m in office["months"]}
    assert list(months) == [f"{YEAR}-{m:02d}" for m in range(1, 7)]
    assert (months[f"{YEAR}-01"]["received"], months[f"{YEAR}-01"]["concluded"]) == (2, 2)
    assert months[f"{YEAR}-04"]["concluded"] == 2 and months[f"{YEAR}-03"]["concluded"] == 1
    categories = {c["category"]: c for c in office["categories"]}
    assert categories["餐饮"]["settled"] == 3 and categories["汽车"]["received"] == 0

    one = figures(await get_stats(client, f"{PERIOD}&mediator={ids['li']}"))
    assert (one["received"], one["settled"]) == (2, 2)

    await login(client, "wang")
    own = await get_stats(client)
    assert own["scope"] == "mediator" and own["mediator"]["id"] == ids["wang"]
    assert figures(own)["received"] == 5 and figures(own)["settled"] == 2
    assert [m["id"] for m in own["mediators"]] == [ids["wang"]]
    same = await get_stats(client, f"{PERIOD}&mediator={ids['wang']}")
    assert figures(same) == figures(own)
    for path in ("/api/stats", "/api/stats/cases", "/api/stats/export.csv"):
        resp = await client.get(f"{path}?{PERIOD}&figure=settled&mediator={ids['li']}")
        body = await error(resp, 403, "not_your_figures")
        assert "supervisor" in body["message"]
    listed = await (await client.get(f"/api/stats/cases?{PERIOD}&figure=settled")).json()
    assert sorted(c["number"] for c in listed["cases"]) == ["S-000", "S-001"]

    await login(client, "zhao")  # another office: nothing of 甲市
    assert figures(await get_stats(client))["received"] == 0
    await login(client, "chen")
    await error(
        await client.get(f"/api/stats?{PERIOD}&mediator={ids['zhao']}"), 400, "unknown_mediator"
    )


async def test_anonymous_and_parties_get_401(client: Client) -> None:
    paths = [
        "/api/stats",
        "/api/stats/cases?figure=received",
        "/api/stats/export.csv",
        "/api/stats/export.xlsx",
        "/api/stats/summary.pdf",
        "/api/my-work",
    ]
    for path in paths:
        await error(await client.get(path), 401, "not_logged_in")
    # A party's invitation token is no mediator session.
    await login(client, "wang")
    number = "S-004"
    for role, name in (("consumer", "李"), ("business", "店")):
        await client.post(f"/api/cases/{number}/parties", json={"role": role, "name": name})
    issued = await (await client.post(f"/api/cases/{number}/invitations", json={})).json()
    link = next(i["link"] for i in issued["invitations"] if i["role"] == "consumer")
    token = re.search(r"[?&]t=([^&]+)", link)
    assert token
    await client.delete("/api/session")
    for path in paths:
        resp = await client.get(path, headers={"Authorization": f"Bearer {token[1]}"})
        await error(resp, 401, "not_logged_in")


async def test_bad_input_is_a_400_naming_the_problem(client: Client) -> None:
    await login(client, "chen")
    for query, code in (
        ("from=2026-13-01", "invalid_date"),
        ("to=yesterday", "invalid_date"),
        ("from=2026-03-01&to=2026-02-01", "invalid_period"),
        ("from=1900-01-01&to=2026-01-01", "invalid_period"),
        ("category=飞船", "unknown_category"),
        ("mediator=abc", "invalid_mediator"),
        ("mediator=99999", "unknown_mediator"),
    ):
        for path in ("/api/stats", "/api/stats/export.xlsx", "/api/stats/summary.pdf"):
            await error(await client.get(f"{path}?{query}"), 400, code)
    await error(await client.get(f"/api/stats/cases?{PERIOD}&figure=x"), 400, "unknown_figure")
    await error(await client.get(f"/api/stats/cases?{PERIOD}"), 400, "unknown_figure")
    resp = await client.get(f"/api/stats/cases?{PERIOD}&figure=received&page=x")
    await error(resp, 400, "invalid_page")


async def test_every_figure_links_to_its_cases(client: Client) -> None:
    await login(client, "chen")
    body = await get_stats(client)
    for row in body["rows"]:
        listed = await (
            await client.get(f"/api/stats/cases?{PERIOD}&figure={row['figure']}&per_page=100")
        ).json()
        numbers = {c["number"] for c in listed["cases"]}
        assert listed["total"] == len(numbers)
        if row["key"] in ("received", "accepted", "concluded", "settled", "withdrawn"):
            assert listed["total"] == row["current"], row
    settled = await (await client.get(f"/api/stats/cases?{PERIOD}&figure=money")).json()
    assert sum(Decimal(c["amount_recovered"]) for c in settled["cases"]) == Decimal("1450.50")
    dining = await (
        await client.get(f"/api/stats/cases?{PERIOD}&figure=received&category=餐饮")
    ).json()
    assert sorted(c["number"] for c in dining["cases"]) == ["S-000", "S-001", "S-005"]


async def test_exports_hold_the_same_numbers(client: Client, tmp_path: Path) -> None:
    await login(client, "chen")
    body = await get_stats(client)
    rows = {row["label"]: row for row in body["rows"]}

    resp = await client.get(f"/api/stats/export.csv?{PERIOD}")
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0] == ["单位", "甲市消协"]
    assert lines[2] == ["期间", f"{YEAR}-01-01 至 {YEAR}-06-30"]
    start = lines.index(["概况"]) + 2
    summary = {line[0]: line for line in lines[start : start + len(body["rows"])]}
    assert summary["收到投诉（件）"][1:4] == ["7", "1", "+6"]
    assert summary["调解成功（件）"][1] == str(rows["调解成功（件）"]["current"])
    assert summary["挽回经济损失（元）"][1] == "1450.50"
    assert summary["调解成功率（成功÷办结）"][1] == "66.67%"
    month_start = lines.index(["按月"]) + 1
    assert lines[month_start][0] == "月份"
    assert lines[month_start + 1][:3] == [f"{YEAR}-01", "2", "2"]

    resp = await client.get(f"/api/stats/export.xlsx?{PERIOD}")
    assert resp.status == 200
    path = tmp_path / "stats.xlsx"
    path.write_bytes(await resp.read())
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["概况", "按月", "按类别", "说明"]
    sheet = list(book["概况"].iter_rows(values_only=True))
    assert sheet[0][0] == "指标"
    by_label = {r[0]: r for r in sheet[1:]}
    for row in body["rows"]:
        got = by_label[row["label"]]
        for value, want in zip(got[1:3], (row["current"], row["previous"]), strict=True):
            if want is None:
                assert value is None
            else:
                assert float(value) == pytest.approx(float(want)), row
    months = list(book["按月"].iter_rows(values_only=True))
    assert months[0][0] == "月份"
    assert [(m[0], m[1], m[2]) for m in months[1:]] == [
        (m["month"], m["received"], m["concluded"]) for m in body["months"]
    ]
    categories = list(book["按类别"].iter_rows(values_only=True))
    assert {c[0]: c[4] for c in categories[1:]} == {
        c["category"]: c["settled"] for c in body["categories"]
    }

    require_poppler()
    resp = await client.get(f"/api/stats/summary.pdf?{PERIOD}")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/pdf"
    pdf = tmp_path / "stats.pdf"
    pdf.write_bytes(await resp.read())
    text = pdf_text(pdf)
    for expected in ("甲市消协", f"{YEAR}-01-01至{YEAR}-06-30", "生成时间", "1450.50", "66.67%"):
        assert expected in text, expected
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)  # noqa: ASYNC221
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout


async def test_an_empty_period_gives_zeros_everywhere(client: Client, tmp_path: Path) -> None:
    await login(client, "chen")
    empty = "from=2001-01-01&to=2001-03-31"
    got = figures(await get_stats(client, empty))
    assert got["received"] == got["concluded"] == got["sittings"] == 0
    assert Decimal(got["money_recovered"]) == 0 and got["success_rate"] is None
    raw = await (await client.get(f"/api/stats/export.csv?{empty}")).read()
    assert "收到投诉（件）,0,0,+0" in raw.decode("utf-8-sig")
    resp = await client.get(f"/api/stats/export.xlsx?{empty}")
    assert resp.status == 200
    listed = await (await client.get(f"/api/stats/cases?{empty}&figure=settled")).json()
    assert listed["total"] == 0 and listed["cases"] == []


async def test_my_work_lists_what_is_due(client: Client) -> None:
    await login(client, "wang")
    # S-004 is still waiting for an acceptance decision (received long ago: overdue).
    zone = ZoneInfo("Asia/Shanghai")
    now = dt.datetime.now(zone)
    for role, name in (("consumer", "李"), ("business", "店")):
        await client.post("/api/cases/S-004/parties", json={"role": role, "name": name})
    later_today = now.replace(hour=23, minute=30, second=0, microsecond=0)
    next_week = now + dt.timedelta(days=7)
    for when in (later_today, next_week):
        resp = await client.post(
            "/api/cases/S-004/invitations", json={"scheduled_at": when.isoformat()}
        )
        assert resp.status == 201, await resp.text()
    resp = await client.post(
        "/api/cases/S-004/invitations", json={"scheduled_at": "2026-03-02T09:30:00"}
    )
    await error(resp, 422, "invalid_payload")

    async with db.session_factory(client.app[DATABASE])() as session, session.begin():
        case_id = (await session.execute(select(Case.id).where(Case.number == "S-000"))).scalar()
        session.add(
            Agreement(
                case_id=case_id,
                status="sealed",
                text="协议",
                text_sha256="0" * 64,
                amount=Decimal("100.00"),
                performance_due_on=TODAY + dt.timedelta(days=5),
            )
        )
        session.add(
            Agreement(
                case_id=case_id,
                status="sealed",
                text="协议",
                text_sha256="1" * 64,
                amount=Decimal("5.00"),
                performance_due_on=TODAY,
                performed_on=TODAY,
            )
        )

    work = await (await client.get("/api/my-work")).json()
    if later_today.date() == now.date() and later_today > now:
        assert [s["case_number"] for s in work["sittings_today"]] == ["S-004"], work
    assert [s["case_number"] for s in work["sittings_upcoming"]] == ["S-004"]
    assert work["sittings_upcoming"][0]["missing"] == ["consumer", "business"]
    assert len(work["waiting_for_parties"]) == 2
    assert [c["number"] for c in work["awaiting_acceptance"]] == ["S-004"]
    assert work["awaiting_acceptance"][0]["deadline"]["flag"] == "overdue"
    agreements = work["unperformed_agreements"]
    assert [(a["case_number"], a["amount"], a["days_left"]) for a in agreements] == [
        ("S-000", "100.00", 5)
    ]
    record = await (await client.get("/api/cases/S-004/record")).json()
    assert sum(s["scheduled_at"] is not None for s in record["sittings"]) == 2

    await login(client, "li")  # not li's cases
    work = await (await client.get("/api/my-work")).json()
    assert work["awaiting_acceptance"] == [] and work["waiting_for_parties"] == []
