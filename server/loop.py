"""The event loop the server runs on: uvloop when it is installed, else asyncio's own.

Every forwarded media packet is one datagram in and two out through the event loop; measured on
the 2-core test VM, asyncio's selector loop costs ≈ 50–75 µs of CPU per such round and
uvloop's ≈ 18 µs, which took ≈ 12 % off the server's CPU per room (docs/benchmarks.md).
``--event-loop asyncio`` (or ``MEDIATION_ROOM_EVENT_LOOP=asyncio``) falls back, e.g. to rule
the loop out when chasing a bug.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

CHOICES = ("uvloop", "asyncio")


def loop_factory(kind: str = "uvloop") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """``uvloop.new_event_loop`` for ``uvloop`` (if importable), ``None`` (asyncio's) else."""
    if kind != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        logger.warning("uvloop is not installed; running on asyncio's event loop (slower)")
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], kind: str = "uvloop") -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    factory = loop_factory(kind)
    logger.info("event loop: %s", "uvloop" if factory is not None else "asyncio")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
