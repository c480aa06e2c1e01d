"""Congestion feedback for publishers: the subscribers' bandwidth estimates, aggregated.

A browser publisher sets its send rate from the REMB (``goog-remb``, draft-alvestrand-rmcat-remb)
it receives; aiortc's own receive-side estimate only reflects the publisher → server path and
lets Chrome climb slowly (about 1.5× what it measured). A forwarding server has to speak for its
subscribers instead: each subscriber's REMB estimates its whole downlink, so it is shared out
among the video streams that subscriber receives, and each publisher stream is held to the
lowest share among its current subscribers (one slow subscriber slows the stream for all: without
simulcast or SVC there is only one stream to send).

Bounds (``RembPolicy``):
- ``floor_bps`` 100 kbit/s: below that a 640×480 camera turns into a slide show for everyone; a
  subscriber that can't take even that loses video (the server drops it to the next keyframe on
  a full send buffer) rather than pulling every other subscriber down with it.
- ``ceiling_bps`` 2.5 Mbit/s per video stream: what libwebrtc itself allows a 720p VP8 camera at
  most; there is no use in letting a publisher's uplink carry more than any subscriber needs.
- ``default_bps`` 1 Mbit/s until any subscriber has reported: a good 640×480 picture, and room
  for Chrome to ramp up to before the first subscriber estimate arrives (a REMB is a cap, Chrome
  starts at ~300 kbit/s and climbs on its own).
- ``audio_bps`` 64 kbit/s on top when the publisher also sends audio: REMB caps the whole
  connection (libwebrtc applies it to the transport, not to one SSRC), and Opus must fit under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

StreamKey = tuple[str, str]
"""``(publisher_id, track)``: one published stream."""


@dataclass(frozen=True, slots=True)
class RembPolicy:
    """The bounds of the bitrate the server asks of a publisher (bits per second)."""

    floor_bps: int = 100_000
    ceiling_bps: int = 2_500_000
    default_bps: int = 1_000_000
    """Sent while no current subscriber of the stream has reported an estimate."""
    audio_bps: int = 64_000
    """Added for a publisher's audio, which shares the connection's estimate."""
    max_age_s: float = 5.0
    """An estimate older than this is forgotten (the subscriber left or stopped reporting)."""


@dataclass(slots=True)
class BitrateFeedback:
    """Subscribers' estimates per stream, and the target each publisher is told."""

    policy: RembPolicy = field(default_factory=RembPolicy)
    _estimates: dict[StreamKey, dict[str, tuple[int, float]]] = field(default_factory=dict)

    def on_estimate(
        self, subscriber_id: str, streams: Iterable[StreamKey], bitrate_bps: int, now: float
    ) -> None:
        """One REMB from ``subscriber_id`` covering the video ``streams`` it receives."""
        keys = list(dict.fromkeys(streams))
        if not keys:
            return
        share = bitrate_bps // len(keys)
        for key in keys:
            self._estimates.setdefault(key, {})[subscriber_id] = (share, now)

    def forget_subscriber(self, subscriber_id: str) -> None:
        """Drop what a subscriber reported (it left, or reconnects with a new connection)."""
        for per_subscriber in self._estimates.values():
            per_subscriber.pop(subscriber_id, None)

    def stream_target(self, stream: StreamKey, subscribers: Iterable[str], now: float) -> int:
        """The bitrate for one video stream: its slowest current subscriber's share, bounded."""
        policy = self.policy
        reported = self._estimates.get(stream, {})
        shares = []
        for subscriber in subscribers:
            entry = reported.get(subscriber)
            if entry is not None and now - entry[1] <= policy.max_age_s:
                shares.append(entry[0])
        target = min(shares) if shares else policy.default_bps
        return max(policy.floor_bps, min(policy.ceiling_bps, target))

    def publisher_target(
        self, streams: Iterable[tuple[StreamKey, Iterable[str]]], has_audio: bool, now: float
    ) -> int:
        """The REMB for a publisher's connection: its video streams' targets, plus audio."""
        total = sum(self.stream_target(key, subscribers, now) for key, subscribers in streams)
        return total + (self.policy.audio_bps if has_audio else 0)
