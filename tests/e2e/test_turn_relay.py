"""Media through coturn: Chromium pages whose peer connection may only use relay candidates.

A real ``turnserver`` on loopback with a shared secret; the server is started with its URL and
secret and hands each participant a short-lived credential in the join reply. Before the page's
scripts run, an init script makes every ``RTCPeerConnection`` of the page use
``iceTransportPolicy: 'relay'`` (no product option for it): the browser can then reach the SFU
only through a TURN allocation — a browser behind a firewall that lets nothing else out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e import room_support as room
from tests.e2e.room_support import NewPage, debug_dump, through_lobby, wait_video_rising
from tests.support.server import RunningServer, run_server
from tests.support.turn import TurnServer, run_turnserver

pytestmark = pytest.mark.e2e

FORCE_RELAY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcConfigs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super({ ...(config ?? {}), iceTransportPolicy: "relay" }, ...rest);
      window.__pcConfigs.push(this.getConfiguration());
    }
  };
})();
"""

SELECTED_LOCAL_CANDIDATE = """
async () => {
  const stats = await window.__roomStats();
  const byId = new Map(stats.map((s) => [s.id, s]));
  const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
  const pair = transport && byId.get(transport.selectedCandidatePairId);
  const local = pair && byId.get(pair.localCandidateId);
  return local ? { type: local.candidateType, address: local.address, url: local.url ?? null,
                   relayProtocol: local.relayProtocol ?? null, pairState: pair.state } : null;
}
"""


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[TurnServer]:
    with run_turnserver(tmp_path / "turn") as running:
        yield running
        print(f"\n--- turnserver log ({running.log_path}) ---\n{running.log()[-3000:]}")


@pytest.fixture
def turn_server(tmp_path: Path, turn: TurnServer) -> Iterator[RunningServer]:
    """Our server with coturn's URL and secret (a file: run_server drops MEDIATION_ROOM_*)."""
    with run_server(
        tmp_path / "server",
        "--turn-url",
        turn.url("udp"),
        "--turn-secret-file",
        str(turn.secret_file),
    ) as running:
        yield running


def open_relayed(server: RunningServer, new_page: NewPage, role: str) -> Page:
    page = new_page()
    page.add_init_script(FORCE_RELAY)
    page.goto(server.links[role])
    page.get_by_test_id("join-button").click()
    return page


def selected_local(page: Page) -> dict[str, Any]:
    """The local candidate of the selected pair, once the connection has one."""
    found: dict[str, Any] | None = None

    def has_pair(_room: room.Snapshot) -> bool:
        nonlocal found
        found = page.evaluate(SELECTED_LOCAL_CANDIDATE)
        return found is not None

    room.wait_for(page, has_pair, "a selected candidate pair")
    assert found is not None
    return found


def test_relay_only_pages_get_media_through_coturn(
    turn_server: RunningServer, turn: TurnServer, new_page: NewPage
) -> None:
    pages = {role: open_relayed(turn_server, new_page, role) for role in ("mediator", "consumer")}
    through_lobby(pages["mediator"], pages["consumer"], "consumer")

    usernames = []
    for role, page in pages.items():
        other = "consumer" if role == "mediator" else "mediator"
        wait_video_rising(page, [other])

        # The page's peer connection was built from the join reply: coturn's URL, a TURN REST
        # credential ("<expiry>:<user>"), and the relay-only policy of the init script.
        configs = page.evaluate("window.__pcConfigs")
        assert configs, "the page made no RTCPeerConnection"
        config = configs[-1]
        assert config["iceTransportPolicy"] == "relay", config
        (ice,) = [s for s in config["iceServers"] if turn.url("udp") in s["urls"]]
        expiry, _, _user = ice["username"].partition(":")
        assert expiry.isdigit(), ice
        usernames.append(ice["username"])

        local = selected_local(page)
        assert local["type"] == "relay", f"{local}\n{debug_dump(page)}"
        assert local["address"] == "127.0.0.1", local
        print(f"{role}: selected local candidate {json.dumps(local)}")

    # coturn allocated for the pages' own credentials (the SFU has allocations of its own).
    log = turn.log()
    for username in usernames:
        assert f"user <{username}>: incoming packet ALLOCATE processed, success" in log, log[-3000:]
