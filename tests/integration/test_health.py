"""``/healthz`` and ``/readyz``: the real app with a real (unreachable) database, and a real
server subprocess."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cases import db
from server.app import create_app
from server.config import Settings
from tests.support.server import free_port, run_server

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_readyz_names_an_unreachable_database(tmp_path: Path, aiohttp_client: Any) -> None:
    # PostgreSQL on a port where nothing listens: the engine is real, the server is gone.
    url = db.normalize_url(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    engine = db.create_engine(url)
    settings = Settings(data_dir=tmp_path, secret=b"s" * 32, database_url=url)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, engine))
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503, body
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert "postgres@" not in json.dumps(body)  # no URL, no user name
    assert body["checks"]["disk"]["ok"] is True
    # The process itself is up: liveness does not depend on the database.
    assert (await client.get("/healthz")).status == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'mediation_dependency_up{dependency="database"} 0.0' in metrics


async def test_readyz_names_an_unreachable_redis(tmp_path: Path, aiohttp_client: Any) -> None:
    settings = Settings(
        data_dir=tmp_path, secret=b"s" * 32, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    engine = db.create_engine(db.sqlite_url(tmp_path))
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, engine))
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503, body
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_follows_the_free_disk_threshold(tmp_path: Path) -> None:
    with run_server(tmp_path / "ok") as server:
        status, body = get(server.url + "/readyz")
        assert status == 200, body
        assert body["failing"] == []
        assert set(body["checks"]) == {"database", "disk", "draining"}
        assert get(server.url + "/healthz")[0] == 200
    # 100 TB free needed: no machine here has it.
    with run_server(tmp_path / "full", "--min-free-disk-mb", str(100 * 1024 * 1024)) as server:
        status, body = get(server.url + "/readyz")
        assert status == 503
        assert body["failing"] == ["disk"]
        assert "MB needed" in body["checks"]["disk"]["detail"]
        assert get(server.url + "/healthz")[0] == 200
