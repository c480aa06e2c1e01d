"""`serve` and `db upgrade` against real databases, as an operator runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cases import db
from tests.support.database import fresh_database
from tests.support.server import ROOT, run_server

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_ROOM_")}
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


async def test_embedded_sqlite_is_migrated_by_serve(tmp_path: Path) -> None:
    with run_server(tmp_path) as server:
        assert (server.data_dir / "mediation.db").exists()
    again = cli("db", "upgrade", "--data-dir", str(tmp_path / "data"))
    assert again.returncode == 0, again.stderr
    assert f"→ {db.head_revision()}" in again.stdout


async def test_postgres_must_be_migrated_explicitly(tmp_path: Path) -> None:
    url = (await fresh_database("postgresql", tmp_path)).replace("+asyncpg", "")
    refused = cli("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--database-url", url)
    assert refused.returncode != 0
    assert "run `mediation-room db upgrade --database-url" in refused.stderr
    assert "schema is empty" in refused.stderr

    upgraded = cli("db", "upgrade", "--database-url", url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"database schema: empty → {db.head_revision()}"

    with run_server(tmp_path / "ok", "--database-url", url) as server:
        assert server.process.poll() is None


def test_unsupported_database_is_refused_clearly(tmp_path: Path) -> None:
    result = cli("db", "upgrade", "--database-url", "mysql://root@127.0.0.1/test")
    assert result.returncode != 0
    assert "unsupported database 'mysql'" in result.stderr


def test_verify_reports_an_intact_and_a_tampered_case(tmp_path: Path) -> None:
    with run_server(tmp_path):
        pass  # the demo case is written on start
    data = str(tmp_path / "data")
    ok = cli("verify", "DEMO-2026-0001", "--data-dir", data)
    assert ok.returncode == 0, ok.stderr
    # Created, two parties, accepted, in mediation, the sitting's three invitations.
    assert ok.stdout.startswith("case DEMO-2026-0001: intact (8 audit events)")
    with sqlite3.connect(tmp_path / "data" / "mediation.db") as conn:
        conn.execute("UPDATE parties SET phone = '13900000000' WHERE role = 'consumer'")
    bad = cli("verify", "DEMO-2026-0001", "--data-dir", data)
    assert bad.returncode == 1
    assert "was edited" in bad.stdout
    missing = cli("verify", "NOPE", "--data-dir", data)
    assert missing.returncode != 0
    assert "no case numbered 'NOPE'" in missing.stderr


def test_create_mediator_account(tmp_path: Path) -> None:
    args = (
        "admin",
        "create-mediator",
        "--username",
        "wang",
        "--display-name",
        "王调解员",
        "--office",
        "某市消协",
        "--data-dir",
        str(tmp_path),
    )
    no_password = cli(*args)
    assert no_password.returncode != 0
    assert "MEDIATION_ROOM_PASSWORD" in no_password.stderr
    made = cli(*args, env={"MEDIATION_ROOM_PASSWORD": "a long passphrase"})
    assert made.returncode == 0, made.stderr
    again = cli(*args, env={"MEDIATION_ROOM_PASSWORD": "a long passphrase"})
    assert again.returncode != 0
    assert "taken" in again.stderr
    short = cli(*args[:3], "li", *args[4:], env={"MEDIATION_ROOM_PASSWORD": "short"})
    assert short.returncode != 0
    assert "at least 8 characters" in short.stderr
