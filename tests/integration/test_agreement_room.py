"""The settlement agreement in the room, through the real server with aiortc clients: drafting,
live updates to both parties (a caucus too), validation, signing bound to the text, voiding by an
edit, sealing by the mediator, the PDF, and the state surviving a reconnect and a restart."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Agreement, Case, Signature
from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.integration

TOMORROW_PLUS = "2099-12-31"
DEMO_CASE = "DEMO-2026-0001"


def terms(**changes: Any) -> dict[str, Any]:
    """A complete set of terms (the demo case: 李女士 against 某某电器商行)."""
    base: dict[str, Any] = {
        "consumer": {"name": "李女士", "phone": "13812341234"},
        "business": {"name": "某某电器商行", "contact_person": "张经理"},
        "facts": "消费者购买的空调安装后不制冷，商家上门检修未能修复。",
        "remedy": ["refund", "return"],
        "amount": "3299.00",
        "method": "原路退回",
        "due_on": TOMORROW_PLUS,
        "breach": "商家逾期未退款的，每日按应退金额的千分之一向消费者支付违约金。",
        "other": "",
    }
    base.update(changes)
    return base


def signature_png(width: int = 300, height: int = 100) -> bytes:
    """A drawn signature: dark strokes on white."""
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    pen.line([(20, 70), (80, 20), (140, 80), (200, 25), (280, 60)], fill="black", width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(out, format="PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode()


def watch(client: RoomClient) -> None:
    """Record the ``agreement`` facts too (checked against their schema like the others)."""
    client.sio.on("agreement", client._recorder("agreement"))


def facts(client: RoomClient) -> list[dict[str, Any]]:
    return [data for event, data in client.events if event == "agreement"]


def latest(client: RoomClient) -> dict[str, Any] | None:
    seen = facts(client)
    return seen[-1]["agreement"] if seen else None


def current(client: RoomClient) -> dict[str, Any]:
    found = latest(client)
    assert found is not None, f"{client.role} has no agreement"
    return found


async def until(client: RoomClient, check: Callable[[dict[str, Any]], bool], what: str) -> Any:
    ok = await wait_for(lambda: (a := latest(client)) is not None and check(a), 15)
    assert ok, f"{client.role}: {what}; last agreement fact: {latest(client)}"
    return latest(client)


async def three(make_client: Callable[[str], RoomClient]) -> tuple[RoomClient, ...]:
    """The three in the room (no media needed for the agreement)."""
    clients = tuple(make_client(role) for role in ("mediator", "consumer", "business"))
    for client in clients:
        watch(client)
        await client.connect()
    assert await clients[0].join(audio=False, video=False) == {"ok": True}
    for party in clients[1:]:
        assert await party.join(audio=False, video=False) == {"ok": True}
        assert await party.call("consent", {"accept": True}) == {"ok": True}
        assert await wait_for(lambda p=party: clients[0].seen(p.role) is not None, 10)
        assert await clients[0].call("admit", {"participant_id": party.role}) == {"ok": True}
        assert await wait_for(lambda p=party: p.view and p.me()["stage"] == "room", 10)
    return clients


def refused(ack: dict[str, Any], code: str, field: str | None = None) -> dict[str, Any]:
    assert ack["ok"] is False, ack
    error: dict[str, Any] = ack["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    assert error["message"], error
    return error


async def record(server: RunningServer) -> tuple[list[Any], list[Agreement], list[Signature]]:
    """The demo case's transcript entries, agreements and signatures; its audit chain verified."""
    engine = db.create_engine(db.sqlite_url(server.data_dir))
    try:
        async with db.session_factory(engine)() as session:
            case = (
                await session.execute(select(Case).where(Case.number == DEMO_CASE))
            ).scalar_one()
            entries = list(await repo.transcript(session, case.id))
            assert await repo.verify_case(session, case.id) == []
            agreements = list(
                (
                    await session.execute(
                        select(Agreement).where(Agreement.case_id == case.id).order_by(Agreement.id)
                    )
                ).scalars()
            )
            ids = [a.id for a in agreements]
            sigs = list(
                (
                    await session.execute(
                        select(Signature)
                        .where(Signature.agreement_id.in_(ids))
                        .order_by(Signature.id)
                    )
                ).scalars()
            )
            return entries, agreements, sigs
    finally:
        await engine.dispose()


async def test_draft_update_sign_void_seal(
    server: RunningServer, make_client: Callable[[str], RoomClient]
) -> None:
    mediator, consumer, business = await three(make_client)
    for client in (mediator, consumer, business):
        assert latest(client) is None and facts(client), "joining sends the (empty) agreement"

    # ---- only the mediator drafts; the draft reaches both parties, pre-filled from the case
    refused(await consumer.call("agreement_start"), "forbidden")
    ack = await mediator.call("agreement_start")
    assert ack["ok"] is True and ack["agreement"]["version"] == 1, ack
    for party in (consumer, business):
        draft = await until(party, lambda a: a["version"] == 1, "sees the draft")
        assert draft["status"] == "draft"
        assert "李女士" in draft["text"] and "某某电器商行" in draft["text"]
    again = await mediator.call("agreement_start")
    assert again["agreement"]["id"] == ack["agreement"]["id"], "a second start keeps the draft"

    # ---- an edit: both parties get the new version, its text rendered from the terms
    ack = await mediator.call("agreement_update", {"terms": terms(), "version": 1})
    assert ack["ok"] is True, ack
    v2 = ack["agreement"]
    assert v2["version"] == 2 and "3,299.00" in v2["text"] and "叁仟贰佰玖拾玖元整" in v2["text"]
    for party in (consumer, business):
        seen = await until(party, lambda a: a["version"] == 2, "sees version 2")
        assert seen["text_sha256"] == v2["text_sha256"]

    # ---- bad terms: refused with the field, nothing changed
    before = len(facts(consumer))
    for bad, field in [
        (terms(amount="-1"), "amount"),
        (terms(amount="1e309"), "amount"),
        (terms(amount="abc"), "amount"),
        (terms(due_on="2000-01-01"), "due_on"),
        (terms(remedy=["gift"]), "remedy"),
    ]:
        refused(
            await mediator.call("agreement_update", {"terms": bad, "version": 2}),
            "invalid_terms",
            field,
        )
    refused(await consumer.call("agreement_update", {"terms": terms(), "version": 2}), "forbidden")
    refused(
        await mediator.call("agreement_update", {"terms": terms(), "version": 0}), "invalid_payload"
    )
    assert len(facts(consumer)) == before, "a refused edit sends nobody anything"
    assert current(mediator)["version"] == 2

    # ---- an edit made on an old version: refused, the editor gets the latest
    mediator_facts = len(facts(mediator))
    refused(
        await mediator.call("agreement_update", {"terms": terms(), "version": 1}), "stale_version"
    )
    assert await wait_for(lambda: len(facts(mediator)) > mediator_facts, 5)
    assert current(mediator)["version"] == 2

    # ---- signing binds to the text shown
    good = data_url(signature_png())
    sign = {"text_sha256": "0" * 64, "name": "李女士", "image": good}
    refused(await consumer.call("agreement_sign", sign), "text_changed")
    sign["text_sha256"] = v2["text_sha256"]
    refused(
        await consumer.call("agreement_sign", {**sign, "image": data_url(blank_png())}),
        "invalid_signature",
    )
    refused(
        await consumer.call(
            "agreement_sign", {**sign, "image": "data:image/png;base64,R0lGODlhAQABAAAAACw="}
        ),
        "invalid_signature",
    )
    refused(
        await consumer.call("agreement_sign", {**sign, "image": "not base64 at all!"}),
        "invalid_payload",
    )
    refused(
        await mediator.call("agreement_sign", {**sign, "name": "王调解员"}),
        "parties_must_sign_first",
    )
    ack = await consumer.call("agreement_sign", sign)
    assert ack["ok"] is True, ack
    assert [s["role"] for s in ack["agreement"]["signatures"]] == ["consumer"]
    await until(business, lambda a: [s["role"] for s in a["signatures"]] == ["consumer"], "sees it")
    refused(await consumer.call("agreement_sign", sign), "already_signed")

    # ---- an edit after a signature voids it; during a caucus the left-out party still sees it
    assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
    ack = await mediator.call("agreement_update", {"terms": terms(amount="3000"), "version": 2})
    assert ack["ok"] is True, ack
    v3 = ack["agreement"]
    assert v3["signatures"] == [] and [s["role"] for s in v3["voided"]] == ["consumer"]
    for party in (consumer, business):
        seen = await until(party, lambda a: a["version"] == 3, "sees version 3 during the caucus")
        assert seen["signatures"] == [] and seen["voided"][0]["role"] == "consumer"
    assert await mediator.call("end_caucus") == {"ok": True}
    refused(await consumer.call("agreement_sign", sign), "text_changed")

    # ---- both parties sign version 3, then the mediator: sealed, then the PDF
    for party, name in ((consumer, "李女士"), (business, "张经理")):
        payload = {"text_sha256": v3["text_sha256"], "name": name, "image": good}
        assert (await party.call("agreement_sign", payload))["ok"] is True
    payload = {"text_sha256": v3["text_sha256"], "name": "王调解员", "image": good}
    ack = await mediator.call("agreement_sign", payload)
    assert ack["ok"] is True, ack
    assert ack["agreement"]["status"] == "sealed" and ack["agreement"]["verification_code"]
    for client in (mediator, consumer, business):
        await until(client, lambda a: a["status"] == "sealed", "sees it sealed")
    ok = await wait_for(lambda: facts(consumer)[-1]["pdf_url"] is not None, 120)
    assert ok, f"no PDF announced: {facts(consumer)[-1]}"
    assert facts(consumer)[-1]["pdf_url"] == "/api/rooms/demo/agreement.pdf"
    assert current(consumer)["pdf_available"] is True

    # ---- sealed: every change refused, on every path
    refused(
        await mediator.call("agreement_update", {"terms": terms(), "version": 3}),
        "agreement_sealed",
    )
    refused(await mediator.call("agreement_abandon", {"reason": "重来"}), "agreement_sealed")
    refused(
        await business.call("agreement_sign", {**payload, "name": "张经理"}), "agreement_sealed"
    )
    refused(await mediator.call("agreement_start"), "agreement_sealed")

    # ---- a reconnecting party gets the agreement as it stands
    again_consumer = make_client("consumer")
    watch(again_consumer)
    await again_consumer.connect()
    assert await again_consumer.join(audio=False, video=False) == {"ok": True}
    seen = await until(again_consumer, lambda a: a["status"] == "sealed", "gets it on rejoin")
    assert facts(again_consumer)[-1]["pdf_url"] is not None
    assert seen["version"] == 3

    # ---- the record: a line for each step, and the audit chain holds
    entries, agreements, sigs = await record(server)
    events = [e.event for e in entries if (e.event or "").startswith("agreement_")]
    assert events == [
        "agreement_started",
        "agreement_updated",
        "agreement_signed",
        "agreement_updated",
        "agreement_signatures_voided",
        "agreement_signed",
        "agreement_signed",
        "agreement_signed",
        "agreement_sealed",
    ], events
    texts = [e.text for e in entries if (e.event or "").startswith("agreement_")]
    assert "王调解员（调解员）开始起草调解协议书" in texts[0]
    assert "第2稿" in texts[1] and "此前的1个签名作废" in texts[4]
    assert texts[-1].startswith("各方签署完毕，调解协议书第3稿封存")
    (agreement,) = agreements
    assert agreement.status == "sealed" and agreement.amount is not None
    assert str(agreement.amount) == "3000.00"
    assert [(s.role, s.voided_at is None) for s in sigs] == [
        ("consumer", False),
        ("consumer", True),
        ("business", True),
        ("mediator", True),
    ]
    assert (
        agreement.pdf_path and (server.data_dir / agreement.pdf_path).read_bytes()[:5] == b"%PDF-"
    )


async def test_lobby_parties_neither_see_nor_sign(
    server: RunningServer, make_client: Callable[[str], RoomClient]
) -> None:
    mediator, consumer = make_client("mediator"), make_client("consumer")
    for client in (mediator, consumer):
        watch(client)
        await client.connect()
    assert await mediator.join(audio=False, video=False) == {"ok": True}
    ack = await mediator.call("agreement_start")
    assert ack["ok"] is True, ack
    assert await consumer.join(audio=False, video=False) == {"ok": True}
    assert await wait_for(lambda: mediator.seen("consumer") is not None, 10)
    sign = {
        "text_sha256": ack["agreement"]["text_sha256"],
        "name": "李女士",
        "image": data_url(signature_png()),
    }
    refused(await consumer.call("agreement_sign", sign), "not_admitted")
    assert facts(consumer) == [], "nothing of the agreement reaches the lobby"
    # Admitted and consented: in the room, the draft arrives at once.
    assert await consumer.call("consent", {"accept": True}) == {"ok": True}
    assert await mediator.call("admit", {"participant_id": "consumer"}) == {"ok": True}
    await until(consumer, lambda a: a["version"] == 1, "gets the draft on entering")
    # An unfinished draft (no remedy, no date) cannot be signed yet.
    refused(await consumer.call("agreement_sign", sign), "invalid_terms")
    ack = await mediator.call("agreement_abandon", {"reason": "双方未达成一致"})
    assert ack["ok"] is True and ack["agreement"]["status"] == "abandoned", ack
    await until(consumer, lambda a: a["status"] == "abandoned", "sees it abandoned")
    fresh = await mediator.call("agreement_start")
    assert fresh["agreement"]["id"] != ack["agreement"]["id"], "a new draft after abandoning"


async def test_the_draft_survives_a_restart(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        tokens = {role: server.token(role) for role in ("mediator", "consumer")}
        mediator = RoomClient(server.url, server.token("mediator"), "mediator")
        watch(mediator)
        await mediator.connect()
        assert await mediator.join(audio=False, video=False) == {"ok": True}
        assert (await mediator.call("agreement_start"))["ok"] is True
        ack = await mediator.call("agreement_update", {"terms": terms(), "version": 1})
        assert ack["ok"] is True, ack
        await mediator.close()
    with run_server(tmp_path, demo=False) as again:
        mediator = RoomClient(again.url, tokens["mediator"], "mediator")
        consumer = RoomClient(again.url, tokens["consumer"], "consumer")
        try:
            for client in (mediator, consumer):
                watch(client)
                await client.connect()
            assert await mediator.join(audio=False, video=False) == {"ok": True}
            await until(mediator, lambda a: a["version"] == 2, "the mediator gets version 2")
            await enter_room(mediator, consumer)
            seen = await until(consumer, lambda a: a["version"] == 2, "the consumer gets it")
            assert seen["text_sha256"] == ack["agreement"]["text_sha256"]
            assert seen["terms"]["amount"] == "3299.00"
            assert not mediator.schema_violations and not consumer.schema_violations
        finally:
            await mediator.close()
            await consumer.close()


async def test_a_party_of_another_case_cannot_sign_this_one(
    server: RunningServer, make_client: Callable[[str], RoomClient]
) -> None:
    import asyncio
    from urllib.parse import parse_qs, urlsplit

    import socketio

    from tests.e2e.room_support import new_sitting

    mediator, consumer, _business = await three(make_client)
    assert (await mediator.call("agreement_start"))["ok"] is True
    ack = await mediator.call("agreement_update", {"terms": terms(), "version": 1})
    text_sha256 = ack["agreement"]["text_sha256"]

    # Another case's consumer, with a valid link of their own.
    links = await asyncio.to_thread(
        new_sitting, server, consumer_phone="13900001111", business_phone=None
    )
    others: list[RoomClient] = []
    try:

        def client_of(link: str, role: str) -> RoomClient:
            parts = urlsplit(link)
            token = parse_qs(parts.query)["t"][0]
            client = RoomClient(server.url, token, role, room_id=parts.path.rsplit("/", 1)[1])
            others.append(client)
            return client

        stranger = client_of(links["consumer"], "consumer")
        # Their link does not open this room at all.
        refusals: list[Any] = []
        stranger.sio.on("connect_error", refusals.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await stranger.connect(room_id="demo")
        assert refusals and refusals[0]["data"]["code"] == "token_foreign", refusals
        # In their own room, admitted by their own mediator, this case's text is not theirs.
        stranger = client_of(links["consumer"], "consumer")
        their_mediator = client_of(links["mediator"], "mediator")
        await their_mediator.connect()
        assert await their_mediator.join(audio=False, video=False) == {"ok": True}
        await stranger.connect()
        assert await stranger.join(audio=False, video=False) == {"ok": True}
        assert await stranger.call("consent", {"accept": True}) == {"ok": True}
        assert await wait_for(lambda: their_mediator.seen("consumer") is not None, 10)
        assert await their_mediator.call("admit", {"participant_id": "consumer"}) == {"ok": True}
        assert await wait_for(lambda: stranger.view and stranger.me()["stage"] == "room", 10)
        sign = {"text_sha256": text_sha256, "name": "陈先生", "image": data_url(signature_png())}
        error = refused(await stranger.call("agreement_sign", sign), "no_draft")
        assert error["message"]
    finally:
        for client in others:
            await client.close()

    # Nothing reached this case's agreement: no signature, the chain intact.
    _, agreements, sigs = await record(server)
    assert [a.status for a in agreements] == ["draft"] and sigs == []
    assert current(consumer)["signatures"] == []
