"""Structured logs (``--log-format json``): one JSON object per line, no personal data.

Each line has ``time``, ``level``, ``logger``, ``message`` and, when the line is about a room,
``room_id`` (from the ``Room(…)``/``Sfu(…)`` prefix our modules log with) and the ``case_id`` of
the room's case (the case record's id, no personal data) while the room is live here. Addresses and
invitation tokens are masked in every message: logs go to shared systems, the case record is
where personal data lives.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

_ROOM = re.compile(r"\b(?:Room|Sfu|RoomRecording)\(([A-Za-z0-9_.-]+)\)")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b")
_TOKEN = re.compile(r"\bv1\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def _no_case(room_id: str) -> int | None:
    return None


_case_of: Callable[[str], int | None] = _no_case


def set_case_lookup(case_of: Callable[[str], int | None]) -> None:
    """How a log line about a room finds its case (the app's live rooms)."""
    global _case_of
    _case_of = case_of


def scrub(text: str) -> str:
    """Mask IP addresses and invitation tokens."""
    text = _TOKEN.sub("v1.[token]", text)
    text = _IPV4.sub("[ip]", text)
    return _IPV6.sub("[ip]", text)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        message = scrub(record.getMessage())
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for key in ("room_id", "case_id"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if "room_id" not in out and (found := _ROOM.search(message)):
            out["room_id"] = found.group(1)
        if "case_id" not in out and out.get("room_id"):
            case_id = _case_of(out["room_id"])
            if case_id is not None:
                out["case_id"] = case_id
        if record.exc_info:
            out["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


class JsonAccessLogger(AbstractAccessLogger):
    """The access log for JSON logs: method, path, status, duration — no address, no query."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.3fs",
            request.method,
            request.path,
            response.status,
            time,
            extra={"room_id": getattr(request, "match_info", {}).get("room_id")},
        )


def configure_logging(level: str, log_format: str = "text") -> None:
    """Root logging for the ``mediation-room`` command."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
