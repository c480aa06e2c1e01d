"""`serve` and `db upgrade` against real databases, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.database import fresh_database
from tests.support.server import ROOT, run_server

pytestmark = pytest.mark.integration


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_embedded_sqlite_is_migrated_by_serve(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        assert (server.data_dir / "mediation.db").exists()
    again = cli("db", "upgrade", "--data-dir", str(tmp_path / "data"))
    assert again.returncode == 0, again.stderr
    assert "→ 0001" in again.stdout


async def test_postgres_must_be_migrated_explicitly(tmp_path: Path) -> None:
    url = (await fresh_database("postgresql", tmp_path)).replace("+asyncpg", "")
    refused = cli("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--database-url", url)
    assert refused.returncode != 0
    assert "run `mediation-room db upgrade --database-url" in refused.stderr
    assert "schema is empty" in refused.stderr

    upgraded = cli("db", "upgrade", "--database-url", url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == "database schema: empty → 0001"

    with run_server(tmp_path / "ok", "--database-url", url) as server:
        assert server.process.poll() is None


def test_unsupported_database_is_refused_clearly(tmp_path: Path) -> None:
    result = cli("db", "upgrade", "--database-url", "mysql://root@127.0.0.1/test")
    assert result.returncode != 0
    assert "unsupported database 'mysql'" in result.stderr
