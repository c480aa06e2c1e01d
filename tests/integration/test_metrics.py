"""``/metrics`` during a real call: three aiortc clients through the real server."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.peer import RoomClient, enter_room, wait_for
from tests.support.server import RunningServer

pytestmark = pytest.mark.integration


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by (name, labels)."""
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def participants(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, int]:
    return {
        dict(labels)["role"]: int(value)
        for (name, labels), value in samples.items()
        if name == "mediation_participants" and dict(labels)["stage"] == "room"
    }


async def test_counters_grow_and_gauges_follow_the_call(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    before = await scrape(server.url)
    assert before[("mediation_rooms", ())] == 1  # the demo room
    assert participants(before) == {"mediator": 0, "consumer": 0, "business": 0}
    assert before[("mediation_forwarded_packets_total", ())] == 0
    assert before[("mediation_dependency_up", (("dependency", "database"),))] == 1
    assert before[("mediation_dependency_latency_seconds", (("dependency", "database"),))] > 0

    mediator, consumer, business = (make_client(r) for r in ("mediator", "consumer", "business"))
    for client in (mediator, consumer, business):
        await client.connect()
    assert await mediator.join() == {"ok": True}
    await enter_room(mediator, consumer, business)
    clients = (mediator, consumer, business)
    assert await wait_for(
        lambda: all(
            c.remote.get(o) and c.remote[o].video_frames > 0
            for c in clients
            for o in ("mediator", "consumer", "business")
            if o != c.role
        ),
        20,
    )
    during = await scrape(server.url)
    assert participants(during) == {"mediator": 1, "consumer": 1, "business": 1}
    assert during[("mediation_peer_connections", ())] == 3
    first = during[("mediation_forwarded_packets_total", ())]
    assert first > 100
    assert during[("mediation_forwarded_bytes_total", ())] > first * 20
    assert during[("mediation_received_packets_total", ())] > 100
    # Every late subscriber's video waited for a keyframe that was asked for.
    assert during[("mediation_keyframe_requests_total", ())] >= 1
    assert during[("mediation_event_loop_lag_seconds_count", ())] > 0

    async def grew() -> bool:
        later = await scrape(server.url)
        return later[("mediation_forwarded_packets_total", ())] > first + 200

    for _ in range(30):
        if await grew():
            break
        await wait_for(lambda: False, 0.2)
    else:
        pytest.fail("forwarded packets did not grow while media flowed")

    # A reload (new peer connection for a participant seen before) counts as a reconnect.
    await consumer.close()
    assert await wait_for(lambda: (mediator.seen("consumer") or {}).get("connected") is False, 20)
    after_leave = await scrape(server.url)
    assert participants(after_leave)["consumer"] == 0
    assert after_leave[("mediation_peer_connections", ())] == 2
    again = RoomClient(server.url, server.token("consumer"), "consumer")
    try:
        await again.connect()
        assert await again.join() == {"ok": True}
        assert await wait_for(lambda: again.view and again.me()["stage"] == "room", 10)
        back = await scrape(server.url)
        assert participants(back)["consumer"] == 1
        assert back[("mediation_reconnects_total", ())] >= 1
        # Congestion feedback both ways: the publishers' REMB out (every second), subscribers'
        # estimates in (aiortc's first one after ~3 s of video).
        assert back[("mediation_remb_sent_total", ())] >= 1
        for _ in range(50):
            if (await scrape(server.url))[("mediation_remb_received_total", ())] >= 1:
                break
            await wait_for(lambda: False, 0.2)
        else:
            pytest.fail("no subscriber's bandwidth estimate (REMB) reached the server")
    finally:
        await again.close()
