"""``db.is_unavailable``: which failures mean "the database can't be reached" (503, try again)
and which are bugs (500) — judged on real exceptions, from a real refused connection."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cases import db
from tests.support.server import free_port


async def refused(url: str) -> BaseException:
    engine = db.create_engine(db.normalize_url(url))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("connected to a port where nothing listens")


async def test_a_refused_postgresql_connection_is_unavailable() -> None:
    for host in ("127.0.0.1", "localhost"):
        exc = await refused(f"postgresql://postgres@{host}:{free_port()}/gone")
        assert isinstance(exc, OSError), repr(exc)
        assert db.is_unavailable(exc)


async def test_the_drivers_own_refusal_is_unavailable() -> None:
    with pytest.raises(OSError) as info:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), user="postgres", timeout=5)
    assert db.is_unavailable(info.value)


async def test_a_wrapped_refusal_is_unavailable() -> None:
    cause = await refused(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    try:
        raise RuntimeError("writing the record failed") from cause
    except RuntimeError as exc:
        assert db.is_unavailable(exc)


async def test_an_exhausted_pool_is_unavailable(tmp_path: Path) -> None:
    engine = create_async_engine(
        db.sqlite_url(tmp_path), pool_size=1, max_overflow=0, pool_timeout=0.1
    )
    try:
        async with engine.connect():
            with pytest.raises(sa_exc.TimeoutError) as info:
                async with engine.connect():
                    pass
        assert db.is_unavailable(info.value)
    finally:
        await engine.dispose()


async def test_sql_errors_are_not_unavailable(tmp_path: Path) -> None:
    engine = db.create_engine(db.sqlite_url(tmp_path))
    try:
        async with engine.connect() as conn:
            with pytest.raises(sa_exc.OperationalError) as missing:
                await conn.execute(text("SELECT * FROM no_such_table"))
        assert not db.is_unavailable(missing.value)  # a bug, not an outage
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.begin() as conn:
            with pytest.raises(sa_exc.IntegrityError) as duplicate:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not db.is_unavailable(duplicate.value)
    finally:
        await engine.dispose()


def test_socket_and_file_errors_elsewhere_are_not_unavailable(tmp_path: Path) -> None:
    # The same classes from a browser gone or a full disk are not the database's.
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError as exc:
        assert not db.is_unavailable(exc)
    with pytest.raises(OSError) as info:
        (tmp_path / "missing" / "file").read_bytes()
    assert not db.is_unavailable(info.value)
    try:
        raise TimeoutError
    except TimeoutError as exc:
        assert not db.is_unavailable(exc)
    assert not db.is_unavailable(ValueError("x"))


async def test_one_warning_not_a_storm(caplog: pytest.LogCaptureFixture) -> None:
    exc = await refused(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    log = logging.getLogger("test.unavailable")
    db._last_logged = None
    with caplog.at_level(logging.WARNING, logger="test.unavailable"):
        for _ in range(50):
            db.log_unavailable(log, "GET /api/cases", exc)
    lines = [r for r in caplog.records if r.name == "test.unavailable"]
    assert len(lines) == 1
    assert "ConnectionRefusedError" in lines[0].getMessage()
    assert lines[0].exc_info is None  # no stack trace
