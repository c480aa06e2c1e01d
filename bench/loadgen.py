"""A client process of the benchmark: the three participants of some rooms (``bench/sfu.py``
starts one or more of these; each room lives whole in one process).

``python -m bench.loadgen CONFIG.json``, then a line protocol on stdin/stdout:

- it joins its rooms, waits (bounded) until every remote video track delivers and prints
  ``READY <flowing> <expected>``;
- ``MARK`` → it notes its senders' counters (start of the window), prints ``MARKED``;
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import client as bench_client
from bench.client import ROLES, BenchClient
from bench.media import cached_video_clip, encode_audio_clip


def say(line: str) -> None:
    print(line, flush=True)


def counters(clients: list[BenchClient]) -> dict[str, int]:
    return {
        "sender_skipped": sum(c.video.skipped + c.audio.skipped for c in clients),
        "keyframe_requests": sum(c.video.keyframe_requests for c in clients),
        "video_sent": sum(c.video.sent for c in clients),
    }


def dump(clients: list[BenchClient], mark: dict[str, int], path: Path) -> None:
    data = {
        "clients": [
            {
                "name": c.name,
                "join_started": c.join_started,
                "joined_at": c.joined_at,
                "errors": [str(e) for e in c.errors][:5],
                "tracks": [asdict(t) for t in c.tracks],
            }
            for c in clients
        ],
        "counters_mark": mark,
        "counters_dump": counters(clients),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


async def read_line(reader: asyncio.StreamReader) -> str | None:
    line = await reader.readline()
    return line.decode().strip() if line else None


async def run(config: dict[str, Any]) -> None:
    bench_client.install(int(config.get("receive_buffer", 0)))
    cache = Path(config["clip_cache"])
    video_clip = await asyncio.to_thread(cached_video_clip, cache)
    audio_clip = await asyncio.to_thread(encode_audio_clip)
    sender_ids: dict[str, int] = config["sender_ids"]
    probes = {(sub, pub) for sub, pub in config["probes"]}
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    clients: list[BenchClient] = []
    try:
        for room in config["rooms"]:
            room_clients = [
                BenchClient(
                    config["url"],
                    room["room_id"],
                    role,
                    room["tokens"][role],
                    sender_ids[f"{room['room_id']}/{role}"],
                    video_clip,
                    audio_clip,
                    sender_ids,
                    probes,
                )
                for role in ROLES
            ]
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
        expected = len(config["rooms"]) * 6
        deadline = time.monotonic() + config["setup_timeout"]
        flowing = 0
        while time.monotonic() < deadline:
            video = [t for c in clients for t in c.tracks if t.kind == "video"]
            flowing = sum(1 for t in video if t.arrivals)
            if flowing >= expected:
                break
            await asyncio.sleep(0.2)
        say(f"READY {flowing} {expected}")
        mark = counters(clients)
        while True:
            line = await read_line(reader)
            if line is None or line == "STOP":
                break
            if line == "MARK":
                mark = counters(clients)
                say("MARKED")
            elif line.startswith("DUMP "):
                dump(clients, mark, Path(line[5:]))
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
