"""The audit chain: every change to a case appends an event that holds the previous event's hash.

``hash = SHA-256(prev_hash ‖ canonical JSON of the event)``; the first event of a case chains to
64 zeros. Editing, deleting or reordering any stored event breaks every hash after it, which
:func:`verify_chain` reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same bytes for the same content, everywhere."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _utc_text(at: dt.datetime) -> str:
    if at.tzinfo is None:  # SQLite returns naive datetimes; we store UTC only
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str, case_id: int, seq: int, at: dt.datetime, actor: str, kind: str, payload: Any
) -> str:
    body = canonical(
        {
            "case": case_id,
            "seq": seq,
            "at": _utc_text(at),
            "actor": actor,
            "kind": kind,
            "payload": payload,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """Where a chain stops being trustworthy, and why."""

    seq: int
    reason: str


def verify_chain(events: Sequence[Any]) -> list[ChainProblem]:
    """Check a case's events, given in ``seq`` order; an empty list means intact."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            problems.append(
                ChainProblem(ev.seq, f"expected event {expected_seq}: one is missing or moved")
            )
        if ev.prev_hash != prev:
            problems.append(ChainProblem(ev.seq, "does not chain to the event before it"))
        recomputed = event_hash(
            ev.prev_hash, ev.case_id, ev.seq, ev.at, ev.actor, ev.kind, ev.payload
        )
        if recomputed != ev.hash:
            problems.append(ChainProblem(ev.seq, "its content was changed after it was written"))
        prev = ev.hash
    return problems
