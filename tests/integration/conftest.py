"""Fixtures of the integration tests that drive the real server with aiortc clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from tests.support.database import BACKENDS, fresh_database
from tests.support.peer import RoomClient
from tests.support.server import RunningServer


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty case record at the current schema, once on SQLite and once on PostgreSQL."""
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def make_client(server: RunningServer) -> AsyncIterator[Callable[[str], RoomClient]]:
    """Makes clients of the demo room by role; closes them and checks every event they got
    against its documented schema at the end."""
    clients: list[RoomClient] = []

    def _make(role: str) -> RoomClient:
        client = RoomClient(server.url, server.token(role), role)
        clients.append(client)
        return client

    yield _make
    for client in clients:
        await client.close()
    for client in clients:
        assert not client.schema_violations, client.schema_violations
