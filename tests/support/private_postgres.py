"""A private PostgreSQL instance for one test: its own data directory, port and socket.

For tests that stop and start the database (an outage), which must never touch the machine's
shared server on 5432. Uses Debian's binaries (``/usr/lib/postgresql/<version>/bin``); as root,
runs them as the ``postgres`` user (``initdb`` refuses root) in a directory under ``/tmp`` that
user owns (pytest's ``tmp_path`` is private to root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's ``bin`` directory."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError("PostgreSQL's binaries are not installed (apt-get install postgresql)")
    return found[-1].parent


@dataclass
class PrivatePostgres:
    """A running (or stopped) instance; ``url`` names its database ``mediation``."""

    bin: Path
    root: Path
    port: int
    user: str | None
    """Whom to run the binaries as (``postgres`` when this process is root), or None: as is."""

    @property
    def data(self) -> Path:
        return self.root / "pg"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/mediation"

    def _argv(self, *cmd: str) -> list[str]:
        argv = [str(self.bin / cmd[0]), *cmd[1:]]
        return argv if self.user is None else ["runuser", "-u", self.user, "--", *argv]

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        result = subprocess.run(
            self._argv(*cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w",
            "-t", "30", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            self._argv("pg_ctl", "-D", str(self.data), "status"),
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        return status.returncode == 0


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """``initdb`` + start on a free loopback port, database ``mediation`` created; stopped and
    removed at the end, whatever happened."""
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="mediation-pg-"))
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(root, account.pw_uid, account.pw_gid)
    pg = PrivatePostgres(postgres_bin(), root, free_port(), user)
    try:
        init = ("-D", str(pg.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        pg._run("initdb", *init)
        pg.start()
        pg._run("createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "mediation")
        yield pg
    finally:
        try:
            if pg.data.exists() and pg.running():
                pg._run("pg_ctl", "-D", str(pg.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)
