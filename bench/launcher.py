"""Bench-only server launcher: the real app (``server.app.create_app``) with N rooms in ONE
process, so the benchmark can read that one process's CPU and divide by N.

``python -m bench.launcher --rooms N --forwarding packet|relay [--record] --info-file F`` writes
``{"pid", "url", "rooms": [{"room_id", "tokens": {role: token}}]}`` to F once it listens, then
serves until SIGTERM/SIGINT, until its parent dies, or for at most ``--max-seconds``.
SIGUSR1 writes every room's SFU counters (``Sfu.stats()``) to ``<info-file>.stats.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from cases import db
from cases import repository as repo
from cases.invitations import Invitation, issue_token
from cases.models import Sitting
from recordings.transcript import SittingRecord
from rooms.room import RoomInfo
from server.app import create_app
from server.config import Settings
from server.database import open_database
from server.keys import DATABASE, ROOMS
from server.loop import CHOICES as LOOPS
from server.loop import run as run_loop

ROLES = ("mediator", "consumer", "business")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


async def build_app(settings: Settings) -> web.Application:
    """``create_app`` as ``python -m server serve`` calls it, on the embedded SQLite file in the
    bench's temporary data directory."""
    return create_app(settings, await open_database(settings))


async def case_record(
    app: web.Application, room_id: str, i: int, expires: int
) -> tuple[RoomInfo, SittingRecord, dict[str, str]]:
    """A case, a sitting and its stored invitations for one bench room (``--record``: a room
    records only into a case record)."""
    sessions = db.session_factory(app[DATABASE])
    async with sessions() as session, session.begin():
        office = await repo.create_office(session, f"bench office {i}")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number=f"BENCH-{i:04d}",
            title="benchmark room",
            category="其他",
            received_on=dt.date.today(),
            actor="bench",
        )
        sitting = Sitting(case_id=case.id, room_id=room_id)
        session.add(sitting)
        await session.flush()
        invitations = {
            role: (
                await repo.issue_invitation(
                    session,
                    case.id,
                    role=role,
                    name=role,
                    expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
                    actor="bench",
                    sitting_id=sitting.id,
                )
            ).id
            for role in ROLES
        }
    info = RoomInfo(
        room_id=room_id,
        case_number=case.number,
        title=case.title,
        case_id=case.id,
        sitting_id=sitting.id,
    )
    return info, SittingRecord(sessions, case.id, sitting.id), invitations


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        data_dir=args.data_dir,
        secret=secrets.token_hex(32).encode("ascii"),
        ice_hosts=("127.0.0.1",),
        forwarding=args.forwarding,
    )
    app = await build_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    registry = app[ROOMS]
    expires = int(time.time()) + 24 * 3600
    rooms = []
    for i in range(args.rooms):
        room_id = f"bench-{i}"
        invitation_ids: dict[str, str] = {}
        if args.record:
            info, record, invitation_ids = await case_record(app, room_id, i, expires)
            registry.create_room(info, record)
        else:
            registry.create_room(
                RoomInfo(room_id=room_id, case_number=f"BENCH-{i:04d}", title="benchmark room")
            )
        tokens = {
            role: issue_token(
                settings.secret,
                Invitation(
                    room_id=room_id,
                    participant_id=role,
                    role=role,
                    name=role,
                    expires_at=expires,
                    invitation_id=invitation_ids.get(role),
                ),
            )
            for role in ROLES
        }
        rooms.append({"room_id": room_id, "tokens": tokens})
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    _write_json(
        args.info_file,
        {
            "pid": os.getpid(),
            "url": f"http://{host}:{port}",
            "rooms": rooms,
            "record": args.record,
        },
    )

    def dump_stats() -> None:
        stats = {room.id: room.sfu.stats() for room in registry.rooms()}
        _write_json(args.info_file.with_name(args.info_file.name + ".stats.json"), stats)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump_stats)
    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds
    while not stop.is_set():
        if os.getppid() != parent or time.monotonic() > deadline:
            break  # orphaned or overdue: never outlive the benchmark
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    try:
        await asyncio.wait_for(runner.cleanup(), 20)
    except TimeoutError:
        logging.getLogger(__name__).warning("cleanup took longer than 20 s; exiting anyway")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.launcher", description=__doc__)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--forwarding", choices=["packet", "relay"], default="packet")
    parser.add_argument(
        "--record", action="store_true", help="rooms keep a case record and can record"
    )
    parser.add_argument("--info-file", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--event-loop", choices=LOOPS, default="uvloop", help="as `mediation-room serve`"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_loop(serve(args), args.event_loop)


if __name__ == "__main__":
    main()
