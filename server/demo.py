"""``serve --demo``: one room of a made-up case and its three join links."""

from __future__ import annotations

import time
from urllib.parse import quote

from cases.invitations import Invitation, issue_token
from rooms.registry import RoomRegistry
from rooms.room import RoomInfo
from server.config import Settings

DEMO_ROOM = "demo"
DEMO_PARTIES = (
    ("mediator", "王调解员"),
    ("consumer", "李女士"),
    ("business", "某某电器商行"),
)


def join_link(settings: Settings, invitation: Invitation) -> str:
    token = issue_token(settings.secret, invitation)
    return f"{settings.base_url}/room/{quote(invitation.room_id)}?t={quote(token)}"


def seed_demo(settings: Settings, registry: RoomRegistry) -> dict[str, str]:
    """Create the demo room; return its join links by role."""
    registry.create_room(
        RoomInfo(room_id=DEMO_ROOM, case_number="DEMO-2026-0001", title="空调安装后不制冷退款纠纷")
    )
    expires = int(time.time()) + settings.token_ttl
    return {
        role: join_link(
            settings,
            Invitation(
                room_id=DEMO_ROOM, participant_id=role, role=role, name=name, expires_at=expires
            ),
        )
        for role, name in DEMO_PARTIES
    }
