"""A client process of the benchmark: the three participants of some rooms (``bench/sfu.py``
starts one or more of these; each room lives whole in one process). The participants are cheap
ones (``bench/cheap.py``; default) or full aiortc peers (``bench/client.py``), against our server
or, cheap only, against Janus (``bench/janus.py``).

``python -m bench.loadgen CONFIG.json``, then a line protocol on stdin/stdout:

- it joins its rooms, waits (bounded) until every remote video track delivers and prints
  ``READY <flowing> <expected>``;
- ``MARK`` → it notes its senders' counters and the RTP packets received so far, with the
  time (start of the window), prints ``MARKED``; ``END`` → the same at the end, ``ENDED``;
- ``DUMP <path>`` → it writes what every track received (raw arrival times and latencies on
  ``time.perf_counter()``, i.e. ``CLOCK_MONOTONIC``, shared by every process of the machine) and
  the counters to ``path``, prints ``DUMPED``;
- ``STOP`` or the end of stdin → it leaves and exits. It never outlives ``max_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import cheap as bench_cheap
from bench import client as bench_client
from bench.cheap_client import CheapBenchClient
from bench.client import ROLES, BenchClient
from bench.media import cached_video_clip, encode_audio_clip
from bench.rtp_clip import packetize_video


def say(line: str) -> None:
    print(line, flush=True)


Participant = Any
"""A :class:`BenchClient`, :class:`CheapBenchClient` or :class:`JanusBenchClient`: all answer
``flowing_video``, ``counters``, ``packets_received``, ``track_dumps``, ``extra_errors``."""


def counters(clients: list[Participant]) -> dict[str, Any]:
    total = {"sender_skipped": 0, "keyframe_requests": 0, "video_sent": 0}
    for c in clients:
        for key, value in c.counters().items():
            total[key] += value
    total["packets_received"] = sum(c.packets_received() for c in clients)
    total["t"] = time.perf_counter()
    return total


def dump(clients: list[Participant], mark: dict[str, Any], end: dict[str, Any], path: Path) -> None:
    data = {
        "clients": [
            {
                "name": c.name,
                "join_started": c.join_started,
                "joined_at": c.joined_at,
                "errors": [str(e) for e in [*c.errors, *c.extra_errors()]][:5],
                "tracks": c.track_dumps(),
            }
            for c in clients
        ],
        "counters_mark": mark,
        "counters_end": end,
        "counters_dump": counters(clients),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


async def read_line(reader: asyncio.StreamReader) -> str | None:
    line = await reader.readline()
    return line.decode().strip() if line else None


async def join_ours(
    config: dict[str, Any], media: dict[str, Any], clients: list[Participant]
) -> None:
    """Our server: per room connect, join, admit (and record) in turn (into ``clients``, so
    they are closed whatever fails)."""
    cheap = config.get("clients", "cheap") == "cheap"
    sender_ids: dict[str, int] = config["sender_ids"]
    probes = {(sub, pub) for sub, pub in config["probes"]}
    for room in config["rooms"]:
        room_clients: list[Any] = []
        for role in ROLES:
            sid = sender_ids[f"{room['room_id']}/{role}"]
            args = (config["url"], room["room_id"], role, room["tokens"][role], sid)
            if cheap:
                client: Any = CheapBenchClient(
                    *args, media["video"], media["chunks"], media["audio"], sender_ids
                )
            else:
                client = BenchClient(*args, media["video"], media["audio"], sender_ids, probes)
            room_clients.append(client)
        clients += room_clients
        for c in room_clients:
            await c.connect()
        for c in room_clients:
            await c.join()
        mediator = next(c for c in room_clients if c.role == "mediator")
        for c in room_clients:
            if c is not mediator:
                await mediator.admit(c.role)
        if config.get("record"):
            await mediator.start_recording()


async def join_janus(
    config: dict[str, Any], media: dict[str, Any], clients: list[Participant]
) -> None:
    """Janus: per room the mediator creates it, all publish, then each subscribes to the two
    others."""
    from bench.janus import JanusBenchClient

    sender_ids: dict[str, int] = config["sender_ids"]
    for room in config["rooms"]:
        room_clients = [
            JanusBenchClient(
                config["url"],
                room["room_id"],
                int(room["janus_room"]),
                role,
                sender_ids[f"{room['room_id']}/{role}"],
                media["chunks"],
                media["audio"],
                sender_ids,
            )
            for role in ROLES
        ]
        clients += room_clients
        for c in room_clients:
            await c.connect()
        await room_clients[0].create_room()
        for c in room_clients:
            await c.join()
        for c in room_clients:
            await c.subscribe([o.sender_id for o in room_clients if o is not c])


async def run(config: dict[str, Any]) -> None:
    cheap = config.get("clients", "cheap") == "cheap"
    janus = config.get("sfu", "ours") == "janus"
    if cheap:
        bench_cheap.install([config.get("ice_host", "127.0.0.1")])
    else:
        bench_client.install(int(config.get("receive_buffer", 0)))
    cache = Path(config["clip_cache"])
    video_clip = await asyncio.to_thread(cached_video_clip, cache)
    audio_clip = await asyncio.to_thread(encode_audio_clip)
    media = {
        "video": video_clip,
        "audio": audio_clip,
        "chunks": packetize_video(video_clip.frames, video_clip.keyframes),
    }
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    clients: list[Participant] = []
    try:
        await (join_janus if janus else join_ours)(config, media, clients)
        expected = len(config["rooms"]) * 6
        deadline = time.monotonic() + config["setup_timeout"]
        flowing = 0
        while time.monotonic() < deadline:
            flowing = sum(c.flowing_video() for c in clients)
            if flowing >= expected:
                break
            await asyncio.sleep(0.2)
        say(f"READY {flowing} {expected}")
        mark = end = counters(clients)
        while True:
            line = await read_line(reader)
            if line is None or line == "STOP":
                break
            if line == "MARK":
                mark = counters(clients)
                say("MARKED")
            elif line == "END":
                end = counters(clients)
                say("ENDED")
            elif line.startswith("DUMP "):
                dump(clients, mark, end, Path(line[5:]))
                say("DUMPED")
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    if config.get("nice"):
        # The load generator yields the CPU to the server it measures (which in a deployment
        # would not share its cores with the participants' browsers).
        os.nice(int(config["nice"]))

    async def bounded() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run(config), config["max_seconds"])

    asyncio.run(bounded())


if __name__ == "__main__":
    main()
