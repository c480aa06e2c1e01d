"""Pages follow their room when its node dies: two nodes (private PostgreSQL and Redis), two
Chromium pages that reached node ``b`` while the room lived on node ``a``; ``kill -9`` of ``a``
and the pages are back in the room on ``b`` with video, by themselves."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from playwright.sync_api import expect

from tests.e2e.room_support import (
    NewPage,
    open_and_join,
    through_lobby,
    wait_back_in,
    wait_receiving,
)
from tests.integration.test_cluster import KEY, two_nodes

pytestmark = pytest.mark.e2e


def test_pages_reconnect_to_the_surviving_node_by_themselves(
    tmp_path: Path, new_page: NewPage
) -> None:
    with two_nodes(tmp_path) as (a, b, rds):
        # Links through node b (as a balancer could send them); the room is on node a.
        links = {role: url.replace(a.url, b.url) for role, url in a.links.items()}
        mediator = open_and_join(links, new_page, "mediator")
        consumer = open_and_join(links, new_page, "consumer", phone=True)
        through_lobby(mediator, consumer, "consumer")
        wait_receiving(mediator, ["consumer"])
        wait_receiving(consumer, ["mediator"])
        with redis.Redis.from_url(rds.url) as r:
            assert r.get(KEY) == b"a"  # the media went through node a all along

        a.process.kill()
        a.process.wait()
        killed = time.monotonic()
        for page in (mediator, consumer):
            expect(page.get_by_test_id("connection-state")).to_have_text("重新连接中")
        # No click, no reload: each page reconnects through b, which takes the room over from
        # the case record once a's key has expired; they join again on a new peer connection.
        for page in (mediator, consumer):
            wait_back_in(page, "back in on node b")
        wait_receiving(mediator, ["consumer"])
        wait_receiving(consumer, ["mediator"])
        took = time.monotonic() - killed
        assert took < 30, f"{took:.1f}s"
        for page in (mediator, consumer):
            expect(page.get_by_test_id("connection-state")).to_have_text("已连接")
        with redis.Redis.from_url(rds.url) as r:
            assert r.get(KEY) == b"b"
        assert "Room(demo) restored" in b.log(), b.log()[-3000:]
        print(f"pages back with video {took:.1f}s after kill -9")
