"""Three real aiortc clients through the real server: every client must decode the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.peer import RoomClient, wait_for
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.integration

ROLES = ("mediator", "consumer", "business")


def receiving_video(client: RoomClient, owner: str) -> bool:
    media = client.remote.get(owner)
    return media is not None and media.video_frames > 0


async def join(client: RoomClient, mediator: RoomClient | None = None, **kwargs: bool) -> None:
    """Connect and join; a party also consents and, if ``mediator`` is given, is admitted (a
    party admitted before comes straight back in)."""
    await client.connect()
    ack = await client.join(**kwargs)
    assert ack == {"ok": True}, ack
    if client.role == "mediator":
        return
    if client.me()["consent"] != "accepted":
        assert await client.call("consent", {"accept": True}) == {"ok": True}
    if mediator is not None and not client.me()["admitted"]:
        assert await wait_for(lambda: mediator.seen(client.role) is not None, 10)
        assert await mediator.call("admit", {"participant_id": client.role}) == {"ok": True}
    assert await wait_for(lambda: client.me()["stage"] == "room", 10), client.view


def saw(client: RoomClient, participant_id: str, **state: Any) -> bool:
    """Whether any room view ``client`` received showed ``participant_id`` in that state."""
    return any(
        p["id"] == participant_id and all(p[k] == v for k, v in state.items())
        for event, data in client.events
        if event in ("joined", "room_view")
        for p in data["participants"]
    )


def describe(clients: list[RoomClient]) -> str:
    return "; ".join(
        f"{c.role}: "
        + ", ".join(
            f"{owner} video={m.video_frames} {m.video_by_sender} audio={m.audio_frames}"
            for owner, m in c.remote.items()
        )
        for c in clients
    )


async def test_three_parties_each_decode_the_other_two(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    clients = [make_client(role) for role in ROLES]
    for client in clients:
        await join(client, clients[0])
    everyone = lambda: all(  # noqa: E731
        receiving_video(c, other) for c in clients for other in ROLES if other != c.role
    )
    assert await wait_for(everyone, 20), describe(clients)

    # Count what arrives over the next 6 s, from a clean start.
    before = {
        (c.role, o): (m.video_frames, dict(m.video_by_sender), m.audio_frames)
        for c in clients
        for o, m in c.remote.items()
    }
    window = 6.0
    await asyncio.sleep(window)
    for client in clients:
        cameras = {o: m for o, m in client.remote.items() if not o.endswith(":screen")}
        assert set(cameras) == set(ROLES) - {client.role}
        for owner, media in cameras.items():
            frames0, senders0, audio0 = before[(client.role, owner)]
            frames = media.video_frames - frames0
            right = media.video_by_sender.get(owner, 0) - senders0.get(owner, 0)
            fps = frames / window
            assert fps >= 15, f"{client.role} got {fps:.1f} fps from {owner}: {describe(clients)}"
            assert right >= 0.95 * frames, f"{client.role}'s {owner} tile shows someone else"
            # 50 frames/s are sent; a client starved of CPU decodes fewer, so ask for a steady
            # flow, not the full rate (the video rate above is the demanding figure).
            assert media.audio_frames - audio0 >= 10 * window, f"{client.role} lost {owner}'s audio"
            assert media.audio_peak > 1000, f"{client.role} hears silence from {owner}"


async def test_late_joiner_sees_both_within_seconds(
    make_client: Callable[[str], RoomClient],
) -> None:
    early = [make_client("mediator"), make_client("consumer")]
    for client in early:
        await join(client, early[0])
    assert await wait_for(
        lambda: receiving_video(early[0], "consumer") and receiving_video(early[1], "mediator"), 20
    )
    await asyncio.sleep(2)  # the early streams are well past their first keyframe
    late = make_client("business")
    started = time.monotonic()
    await join(late, early[0])
    assert await wait_for(
        lambda: receiving_video(late, "mediator") and receiving_video(late, "consumer"), 10
    ), describe([late])
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the late joiner waited {elapsed:.1f}s for video"
    assert await wait_for(
        lambda: receiving_video(early[0], "business") and receiving_video(early[1], "business"), 10
    ), describe(early)


async def test_rejoin_after_disconnect_resumes_on_the_same_tile(
    make_client: Callable[[str], RoomClient], server: RunningServer
) -> None:
    mediator, consumer = make_client("mediator"), make_client("consumer")
    await join(mediator)
    await join(consumer, mediator)
    assert await wait_for(lambda: receiving_video(mediator, "consumer"), 20)
    offers_before = mediator.offers

    await consumer.close()  # the phone lost its network
    assert await wait_for(lambda: mediator.seen("consumer")["connected"] is False, 10)

    frames_before = mediator.remote["consumer"].video_frames
    again = make_client("consumer")
    await join(again)
    assert await wait_for(
        lambda: mediator.remote["consumer"].video_frames > frames_before + 30, 15
    ), describe([mediator])
    # The same mids carry the returning consumer: no renegotiation for the mediator.
    assert mediator.offers == offers_before
    assert await wait_for(lambda: receiving_video(again, "mediator"), 10)
    by_sender = mediator.remote["consumer"].video_by_sender
    assert by_sender.get("consumer", 0) >= 0.95 * sum(by_sender.values())


async def test_a_second_connection_replaces_the_first(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, first = make_client("mediator"), make_client("consumer")
    await join(mediator)
    await join(first, mediator)
    assert await wait_for(lambda: receiving_video(mediator, "consumer"), 20)
    second = make_client("consumer")
    await join(second)
    assert await wait_for(lambda: any(e == "replaced" for e, _ in first.events), 10)
    assert await wait_for(lambda: not first.sio.connected, 10)
    # The others never saw the consumer leave.
    assert not saw(mediator, "consumer", connected=False)
    frames = mediator.remote["consumer"].video_frames
    assert await wait_for(lambda: mediator.remote["consumer"].video_frames > frames + 30, 15)


async def test_camera_turned_on_after_joining(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, business = make_client("mediator"), make_client("business")
    await join(mediator)
    await join(business, mediator, video=False)
    assert await wait_for(lambda: receiving_video(business, "mediator"), 20)
    assert await wait_for(
        lambda: (
            mediator.remote.get("business") is not None
            and mediator.remote["business"].audio_frames > 20
        ),
        10,
    )
    assert not receiving_video(mediator, "business")
    offers = business.offers
    await business.camera_on()
    assert await wait_for(lambda: receiving_video(mediator, "business"), 10), describe([mediator])
    assert business.offers == offers, "turning the camera on needs no new offer"
    assert await wait_for(lambda: mediator.seen("business")["video"] is True, 5)


async def test_leaving_removes_the_participant_for_the_others(
    make_client: Callable[[str], RoomClient],
) -> None:
    mediator, consumer = make_client("mediator"), make_client("consumer")
    await join(mediator)
    await join(consumer, mediator)
    assert await wait_for(lambda: receiving_video(mediator, "consumer"), 20)
    ack = await consumer.sio.call("leave", {}, timeout=10)
    assert ack == {"ok": True}
    assert await wait_for(lambda: mediator.seen("consumer") is None, 10)
    # The consumer may come back on the same connection, and is seen again.
    await consumer.drop_media()
    frames = mediator.remote["consumer"].video_frames
    assert await consumer.join() == {"ok": True}
    assert consumer.me()["stage"] == "room"  # no new admission within the sitting
    assert await wait_for(lambda: receiving_video(consumer, "mediator"), 15)
    assert await wait_for(lambda: mediator.remote["consumer"].video_frames > frames + 30, 15)


async def test_h264_room_forwards_h264(tmp_path: Path) -> None:
    """``--video-codec h264`` (for browsers without VP8): the server's offer decides the codec."""
    with run_server(tmp_path, "--video-codec", "h264") as h264_server:
        clients = [
            RoomClient(h264_server.url, h264_server.token(role), role)
            for role in ("mediator", "consumer")
        ]
        try:
            for client in clients:
                await join(client, clients[0])
            mediator, consumer = clients
            assert await wait_for(
                lambda: (
                    receiving_video(mediator, "consumer") and receiving_video(consumer, "mediator")
                ),
                20,
            ), describe(clients)
            assert mediator.pc is not None
            codecs = {
                t.mid: [c.mimeType for c in t._codecs]  # what was negotiated, per m-line
                for t in mediator.pc.getTransceivers()
                if t.kind == "video"
            }
            assert all(mimes and set(mimes) == {"video/H264"} for mimes in codecs.values()), codecs
            await asyncio.sleep(2)
            by_sender = mediator.remote["consumer"].video_by_sender
            assert by_sender.get("consumer", 0) >= 0.95 * sum(by_sender.values())
        finally:
            for client in clients:
                await client.close()
