"""Prometheus metrics at ``/metrics``.

Nothing on the media path touches prometheus_client: the SFU bumps plain ints
(:class:`rooms.forwarding.ForwardingCounters`) and :class:`RoomsCollector` reads them, and the
live rooms, when Prometheus scrapes. Latencies of the database and Redis are measured by the
scrape itself (one ``SELECT 1`` / ``PING``, bounded), event-loop lag by a small ticker.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rooms.registry import RoomRegistry
from server import health
from server.cluster import CLUSTER, Cluster
from server.keys import DATABASE, ROOMS, SETTINGS

logger = logging.getLogger(__name__)

LAG_INTERVAL = 0.25
"""How often the event-loop ticker wakes (seconds)."""


class RoomsCollector(Collector):
    """Live rooms, participants and the media totals, read at scrape time."""

    def __init__(self, registry: RoomRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        rooms = self.registry.rooms()
        yield GaugeMetricFamily("mediation_rooms", "Live rooms on this node", value=len(rooms))
        participants = GaugeMetricFamily(
            "mediation_participants",
            "Connected participants by role and stage (room or lobby)",
            labels=["role", "stage"],
        )
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        peers = 0
        for room in rooms:
            for p in room.present():
                counts[(p.role.value, "room" if p.in_room else "lobby")] += 1
            peers += len(room.sfu.peers)
        for role in ("mediator", "consumer", "business"):
            for stage in ("room", "lobby"):
                counts.setdefault((role, stage), 0)
        for (role, stage), n in sorted(counts.items()):
            participants.add_metric([role, stage], n)
        yield participants
        yield GaugeMetricFamily(
            "mediation_peer_connections", "Server-side peer connections", value=peers
        )
        yield GaugeMetricFamily(
            "mediation_draining",
            "1 while this node drains (takes no new rooms)",
            value=1 if self.registry.draining else 0,
        )
        c = self.registry.media.counters
        for name, doc, value in (
            ("received_packets", "RTP packets received from publishers", c.received_packets),
            ("received_bytes", "RTP payload bytes received from publishers", c.received_bytes),
            ("forwarded_packets", "RTP packets forwarded to subscribers", c.forwarded_packets),
            ("forwarded_bytes", "RTP bytes forwarded (before SRTP)", c.forwarded_bytes),
            ("dropped_packets", "Packets held back (keyframe wait, congestion)", c.dropped_packets),
            ("keyframe_requests", "Keyframe requests sent to publishers", c.keyframe_requests),
            ("recording_bytes", "Media payload bytes handed to the recorders", c.recorded_bytes),
            ("reconnects", "Peer connections remade for a participant seen before", c.reconnects),
            (
                "retransmitted_packets",
                "Packets sent again to subscribers that asked (NACK)",
                c.retransmitted_packets,
            ),
            (
                "upstream_nacks",
                "NACKs sent to publishers for packets lost on the way in",
                c.upstream_nacks,
            ),
            (
                "remb_received",
                "Bandwidth estimates (REMB) received from subscribers",
                c.remb_received,
            ),
            ("remb_sent", "Bitrate requests (REMB) sent to publishers", c.remb_sent),
        ):
            yield CounterMetricFamily("mediation_" + name, doc, value=value)


class ClusterCollector(Collector):
    """Several nodes: what this node forwarded to rooms' nodes, and rooms it lost."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def collect(self) -> Iterator[Metric]:
        forwarded = CounterMetricFamily(
            "mediation_forwarded_requests",
            "Requests forwarded to the node that holds their room (failed: it did not answer)",
            labels=["kind"],
        )
        for kind, n in sorted(self.cluster.forwarded.items()):
            forwarded.add_metric([kind], n)
        yield forwarded
        yield CounterMetricFamily(
            "mediation_rooms_lost",
            "Rooms another node took over while this one did not renew its directory key",
            value=self.cluster.rooms_lost,
        )
        yield GaugeMetricFamily(
            "mediation_directory_up",
            "1 if this node's last heartbeat reached the room directory (Redis)",
            value=0 if self.cluster.directory.down else 1,
        )


class Metrics:
    """The registry of one app, and the gauges its checks update."""

    def __init__(self, rooms: RoomRegistry) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(RoomsCollector(rooms))
        ProcessCollector(registry=self.registry)
        self.loop_lag = Histogram(
            "mediation_event_loop_lag_seconds",
            "How late the event loop ran a timer (a blocked loop delays every room)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.loop_lag_max = Gauge(
            "mediation_event_loop_lag_max_seconds",
            "Largest event-loop lag since the previous scrape",
            registry=self.registry,
        )
        self.dependency_latency = Gauge(
            "mediation_dependency_latency_seconds",
            "Round trip of the last check of a dependency (SELECT 1, PING)",
            ["dependency"],
            registry=self.registry,
        )
        self.dependency_up = Gauge(
            "mediation_dependency_up",
            "1 if the last check of a dependency succeeded",
            ["dependency"],
            registry=self.registry,
        )
        self._max_lag = 0.0

    def observe_lag(self, lag: float) -> None:
        self.loop_lag.observe(lag)
        self._max_lag = max(self._max_lag, lag)

    def observe_check(self, check: health.Check) -> None:
        if check.name in ("database", "redis"):
            self.dependency_up.labels(check.name).set(1 if check.ok else 0)
            if check.seconds is not None:
                self.dependency_latency.labels(check.name).set(check.seconds)

    def export(self) -> bytes:
        self.loop_lag_max.set(self._max_lag)
        self._max_lag = 0.0
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)
"""Kept here, not in ``server.keys``, which would otherwise import this module back."""


async def _watch_loop_lag(metrics: Metrics) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_INTERVAL
        await asyncio.sleep(LAG_INTERVAL)
        metrics.observe_lag(max(0.0, loop.time() - due))


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the event-loop lag ticker while the app runs."""
    task = asyncio.ensure_future(_watch_loop_lag(app[METRICS]))
    yield
    task.cancel()


async def metrics_view(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus text format."""
    app = request.app
    metrics = app[METRICS]
    started = time.monotonic()
    checks = [health.check_database(app[DATABASE])]
    if app[SETTINGS].redis_url:
        checks.append(health.check_redis(app))
    for check in await asyncio.gather(*checks):
        metrics.observe_check(check)
    logger.debug("metrics checks took %.3fs", time.monotonic() - started)
    body = metrics.export()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_metrics(app: web.Application) -> None:
    app[METRICS] = Metrics(app[ROOMS])
    if CLUSTER in app:
        app[METRICS].registry.register(ClusterCollector(app[CLUSTER]))
    app.cleanup_ctx.append(metrics_ctx)
