"""A sitting of the demo room leaves its trace in the case record, and it survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cases import db
from cases import repository as repo
from cases.models import Attendance, Case, Sitting
from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import run_server

pytestmark = pytest.mark.integration


async def test_joins_and_leaves_are_in_the_record_after_a_restart(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        mediator = RoomClient(server.url, server.token("mediator"), "mediator")
        consumer = RoomClient(server.url, server.token("consumer"), "consumer")
        try:
            for client in (mediator, consumer):
                await client.connect()
            assert await mediator.join() == {"ok": True}
            await enter_room(mediator, consumer)
            assert await wait_for(lambda: "consumer" in mediator.remote, 20)
            ack = await consumer.sio.call("set_media_state", {"audio": False, "video": True})
            assert ack == {"ok": True}
            ack = await consumer.sio.call("set_media_state", {"audio": False, "video": True})
            assert ack == {"ok": True}  # no change: no entry
            assert await consumer.sio.call("leave", {}, timeout=10) == {"ok": True}
        finally:
            await consumer.close()
            await mediator.close()
    # A second run of the server opens a new sitting of the same case.
    with run_server(tmp_path) as server:
        assert server.process.poll() is None

    engine = db.create_engine(db.sqlite_url(tmp_path / "data"))
    try:
        async with db.session_factory(engine)() as session:
            case = (await session.execute(select(Case))).scalar_one()
            sittings = (await session.execute(select(Sitting).order_by(Sitting.id))).scalars().all()
            assert len(sittings) == 2
            # Stopping the server does not end a sitting; the next demo run did end the first.
            assert sittings[0].closed_at is not None
            assert sittings[1].closed_at is None
            texts = [
                (e.kind, e.author_role, e.text) for e in await repo.transcript(session, case.id)
            ]
            assert texts == [
                ("system", "mediator", "王调解员（调解员）进入调解室"),
                ("system", "consumer", "李女士（消费者）进入等候区"),
                ("system", "consumer", "李女士（消费者）同意本次调解录音录像并存入案件记录"),
                ("system", "mediator", "王调解员（调解员）准许李女士（消费者）进入调解室"),
                ("system", "consumer", "李女士（消费者）进入调解室"),
                ("system", "consumer", "李女士（消费者）关闭麦克风"),
                ("system", "consumer", "李女士（消费者）离开调解室"),
                ("system", "mediator", "王调解员（调解员）连接中断"),
            ]
            attendance = (await session.execute(select(Attendance))).scalars().all()
            assert {a.participant_id for a in attendance} == {"mediator", "consumer"}
            assert all(a.left_at is not None and a.left_at >= a.joined_at for a in attendance)
            assert all(a.sitting_id == sittings[0].id for a in attendance)
            assert await repo.verify_case(session, case.id) == []
    finally:
        await engine.dispose()
