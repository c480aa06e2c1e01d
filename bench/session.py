"""How fast the session's moves take effect for real aiortc participants.

Run by hand (not in CI), from the repository root::

    .venv/bin/python bench/session.py --cycles 10

One demo server, the three participants of the demo room (aiortc clients of
``tests/support/peer.py``: 30 fps VP8 pattern video and an Opus tone), then ``--cycles`` times:

- **caucus on**: from the ``start_caucus`` ack to the last RTP packet (audio or video) the
  excluded business receives from the others (what was already on the wire);
- **caucus off**: from the ``end_caucus`` ack until the business decodes a new frame from both
  the mediator and the consumer (a keyframe is asked for at once);
- **reconnect**: the consumer's client vanishes (socket and peer connection closed, as when a
  phone loses its network); a new client with the same link joins: time from ``connect`` to the
  first decoded frame from the mediator, with no admission;

and prints p50 and max of each, plus the server's CPU seconds over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import RunningServer, run_server


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def frames(client: RoomClient, owner: str) -> int:
    media = client.remote.get(owner)
    return 0 if media is None else media.video_frames


async def packets(client: RoomClient) -> int:
    return await client.packets_from("mediator") + await client.packets_from("consumer")


async def run(server: RunningServer, cycles: int) -> dict[str, list[float]]:
    clients = {r: RoomClient(server.url, server.token(r), r) for r in ("mediator", "consumer")}
    clients["business"] = RoomClient(server.url, server.token("business"), "business")
    mediator, business = clients["mediator"], clients["business"]
    out: dict[str, list[float]] = {"caucus_on": [], "caucus_off": [], "reconnect": []}
    try:
        for c in clients.values():
            await c.connect()
        assert await mediator.join() == {"ok": True}
        await enter_room(mediator, clients["consumer"], business)
        assert await wait_for(
            lambda: frames(business, "mediator") > 0 and frames(business, "consumer") > 0, 20
        )
        for _ in range(cycles):
            await asyncio.sleep(1)
            t0 = time.monotonic()
            assert await mediator.call("start_caucus", {"role": "consumer"}) == {"ok": True}
            last = t0
            seen = await packets(business)
            while time.monotonic() - t0 < 2:
                now = await packets(business)
                if now != seen:
                    seen, last = now, time.monotonic()
                await asyncio.sleep(0.005)
            out["caucus_on"].append(last - t0)
            before = {o: frames(business, o) for o in ("mediator", "consumer")}
            t0 = time.monotonic()
            assert await mediator.call("end_caucus", {}) == {"ok": True}
            assert await wait_for(
                lambda b=before: all(frames(business, o) > n for o, n in b.items()),
                10,
                interval=0.005,
            )
            out["caucus_off"].append(time.monotonic() - t0)

            await clients["consumer"].close()
            assert await wait_for(
                lambda: (mediator.seen("consumer") or {}).get("connected") is False, 20
            )
            again = RoomClient(server.url, server.token("consumer"), "consumer")
            t0 = time.monotonic()
            await again.connect()
            assert await again.join() == {"ok": True}
            assert await wait_for(lambda a=again: frames(a, "mediator") > 0, 10, interval=0.005)
            out["reconnect"].append(time.monotonic() - t0)
            clients["consumer"] = again
    finally:
        for c in clients.values():
            await c.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, run_server(Path(tmp)) as server:
        cpu0, t0 = cpu_seconds(server.process.pid), time.monotonic()
        results = asyncio.run(run(server, args.cycles))
        cpu, wall = cpu_seconds(server.process.pid) - cpu0, time.monotonic() - t0
    print(f"{'move':<12} {'p50 ms':>8} {'max ms':>8}  (n={args.cycles})")
    for name, values in results.items():
        ms = [v * 1000 for v in values]
        print(f"{name:<12} {statistics.median(ms):8.0f} {max(ms):8.0f}")
    print(f"server CPU {cpu:.1f} s over {wall:.0f} s wall ({cpu / wall:.2f} cores)")


if __name__ == "__main__":
    main()
