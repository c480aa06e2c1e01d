"""The playback composer end to end: recorder files in (made from synthetic RTP by
:class:`recordings.recorder.ParticipantRecorder`), one MP4 out, read back by ffprobe and PyAV."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from recordings.playback import PlaybackError, Segment, compose, speaking_intervals
from recordings.recorder import ParticipantRecorder
from tests.support.peer import PATTERNS
from tests.support.recording_media import Pushed, SyntheticPublisher

pytestmark = pytest.mark.integration  # ffmpeg/ffprobe: Debian's, installed by ./manage

START = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)  # 10:00 in the office (Asia/Shanghai)
CONSUMER, BUSINESS = "消费者 李女士", "经营者 王经理"
WIDTH, HEIGHT = 640, 240


async def record(directory: Path, role: str, spans: list[tuple[float, float]]) -> list[Path]:
    """Record ``role``'s synthetic publisher over each (start, end) capture span, one segment
    file per span, as a recorder in the SFU would."""
    publisher = SyntheticPublisher(role, width=160, height=120, fps=15)
    paths = []
    for n, (a, b) in enumerate(spans):
        if n:
            publisher.restart(at=a)
        recorder = ParticipantRecorder(directory / f"{role}-{n}", role)
        push_all(recorder, publisher.packets(a, b))
        [info] = await recorder.stop()
        paths.append(info.path)
    return paths


def push_all(recorder: ParticipantRecorder, packets: Iterable[Pushed]) -> None:
    for p in packets:
        recorder.push(p.kind, p.packet, p.mime, p.clock_rate, p.arrival_ms)
        time.sleep(0)  # let the worker run, as an event loop between packets would


def leftovers(directory: Path) -> list[Path]:
    """Partial files compose() left behind."""
    return list(directory.glob(".*.part"))


def ffprobe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    probed: dict[str, Any] = json.loads(result.stdout)
    return probed


def frame_at(path: Path, t: float) -> np.ndarray:
    """Luma of the first decoded frame at or after ``t`` seconds."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if (frame.time or 0.0) >= t:
                luma: np.ndarray = frame.to_ndarray(format="gray")
                return luma
    raise AssertionError(f"no frame at {t} s")


async def test_compose_side_by_side(tmp_path: Path) -> None:
    consumer = await record(tmp_path, "consumer", [(0.0, 4.0)])
    business = await record(tmp_path, "business", [(0.0, 1.5), (3.0, 4.0)])
    segments = [
        Segment(consumer[0], CONSUMER, START, 4.0),
        Segment(business[0], BUSINESS, START + timedelta(seconds=2), 1.5),  # starts 2 s later
        Segment(business[1], BUSINESS, START + timedelta(seconds=4.5), 1.0),  # after a gap
    ]
    for s in segments:  # the durations as the recorder measured them
        s.duration = float(ffprobe(s.path)["format"]["duration"])
    span = max((s.started_at - START).total_seconds() + s.duration for s in segments)

    progress: list[float] = []
    out = tmp_path / "playback.mp4"
    result = await compose(
        segments, out, start=START, on_progress=progress.append, width=WIDTH, height=HEIGHT
    )

    assert result == out and out.exists()
    assert not leftovers(tmp_path)
    probed = ffprobe(out)
    assert sorted(s["codec_name"] for s in probed["streams"]) == ["aac", "h264"]
    assert float(probed["format"]["duration"]) == pytest.approx(span, abs=0.5)
    assert progress and progress == sorted(progress) and progress[-1] >= 0.95

    # Two tiles of 320x210 (a caption band of 30 px below): the 160x120 source letterboxed
    # into 280x210, centred (x 20..300). At 1 s the consumer's tile (left) shows her pattern;
    # the business's (right) is still black: he starts at 2 s.
    luma = frame_at(out, 1.0)
    assert luma.shape == (HEIGHT, WIDTH)
    rows = slice(50, 160)
    want_left, want_right = PATTERNS["consumer"]
    assert abs(float(luma[rows, 40:150].mean()) - want_left) < 30
    assert abs(float(luma[rows, 170:280].mean()) - want_right) < 30
    assert float(luma[rows, 330:630].max()) < 40
    # The caption band: hers boxed in colour (her tone is on), his dark (not yet speaking).
    band = slice(215, 235)
    assert float(luma[band, 5:30].mean()) > 100
    assert float(luma[band, 325:350].mean()) < 60
    # At 2.5 s his tile shows his pattern; at 4 s (his gap) it is black again.
    luma = frame_at(out, 2.5)
    assert abs(float(luma[rows, 360:600].mean()) - np.mean(PATTERNS["business"])) < 30
    luma = frame_at(out, 4.0)
    assert float(luma[rows, 330:630].max()) < 40


def test_speaking_intervals_find_the_tone(tmp_path: Path) -> None:
    [path] = asyncio.run(record(tmp_path, "consumer", [(0.0, 3.0)]))
    found = speaking_intervals(path)
    assert found and found[0][0] <= 0.5 and found[-1][1] >= 2.5
    assert sum(b - a for a, b in found) >= 2.5


async def test_a_failure_says_why(tmp_path: Path) -> None:
    [path] = await record(tmp_path, "consumer", [(0.0, 1.0)])
    out = tmp_path / "gone" / "out.mp4"  # ffmpeg cannot write there
    with pytest.raises(PlaybackError, match="No such file or directory"):
        await compose([Segment(path, CONSUMER, START, 1.0)], out, start=START)
    assert not out.exists()
