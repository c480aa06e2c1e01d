"""The recorder end to end: encoded packets in, WebM/Matroska files out, read back by ffprobe
and decoded by PyAV; segments, a publisher restart, a ``kill -9``, a slow and a full disk.

Media come from :class:`tests.support.recording_media.SyntheticPublisher` (aiortc's own VP8,
H.264 and Opus encoders and packetizers) with simulated arrival times, so 10 s of media take
about a second to push.
"""

from __future__ import annotations

import asyncio
import errno
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from recordings import recorder as recorder_module
from recordings.recorder import (
    ParticipantRecorder,
    SegmentInfo,
    file_digest,
    find_unsealed,
    marker_path,
    seal,
)
from tests.support.peer import classify
from tests.support.recording_media import Pushed, SyntheticPublisher

pytestmark = pytest.mark.integration  # ffmpeg/ffprobe: Debian's, installed by ./manage

ROOT = Path(__file__).resolve().parents[2]


# -- helpers -----------------------------------------------------------------------------------


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


def codecs_of(probed: dict[str, Any]) -> list[str]:
    return [s["codec_name"] for s in probed["streams"]]


def video_frames(path: Path) -> list[tuple[float, str | None]]:
    """(time in s, pattern shown) of every decoded video frame."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append((float(frame.time or 0.0), classify(frame)))
    return out


def audio_levels(path: Path) -> list[tuple[float, float]]:
    """(time in s, RMS) of every decoded audio frame."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pcm = frame.to_ndarray().astype(np.float64)
            out.append((float(frame.time or 0.0), float(np.sqrt(np.mean(pcm**2)))))
    return out


def push_all(recorder: ParticipantRecorder, packets: Iterable[Pushed]) -> float:
    """Push every packet; return the time spent inside ``push()``."""
    spent = 0.0
    for p in packets:
        started = time.perf_counter()
        recorder.push(p.kind, p.packet, p.mime, p.clock_rate, p.arrival_ms)
        spent += time.perf_counter() - started
        time.sleep(0)  # let the worker run, as an event loop between packets would
    return spent


def impaired(
    packets: Iterable[Pushed], *, lose_at: float, swap_every: int = 40
) -> Iterator[Pushed]:
    """Swap every ``swap_every``-th video packet with the next one, and lose one video packet
    (of a non-keyframe) at capture time ``lose_at``."""
    held: Pushed | None = None
    lost = False
    count = 0
    for p in packets:
        if p.kind == "video":
            count += 1
            if not lost and p.capture_s >= lose_at and not p.keyframe:
                lost = True
                continue
            if held is not None:
                yield p
                yield held
                held = None
                continue
            if count % swap_every == 0:
                held = p
                continue
        yield p
    if held is not None:
        yield held


def check_segment(info: SegmentInfo) -> dict[str, Any]:
    assert info.path.exists()
    assert not marker_path(info.path).exists()
    assert file_digest(info.path) == (info.size, info.sha256)
    probed = ffprobe(info.path)
    assert float(probed["format"]["duration"]) == pytest.approx(info.duration, abs=0.05)
    assert (info.ended_at - info.started_at).total_seconds() == pytest.approx(info.duration)
    return probed


# -- recording ---------------------------------------------------------------------------------


async def test_vp8_and_opus_into_webm(tmp_path: Path) -> None:
    publisher = SyntheticPublisher(
        "consumer", width=640, height=480, noise=12, switch_at=6.0, switch_role="business"
    )
    reported: list[SegmentInfo] = []
    recorder = ParticipantRecorder(
        tmp_path,
        "consumer",
        on_segment=reported.append,
        on_keyframe_needed=publisher.request_keyframe,
    )
    push_all(recorder, impaired(publisher.packets(0.0, 10.0), lose_at=3.0))
    segments = await recorder.stop()

    assert recorder.failed is None
    assert recorder.dropped_packets == 0
    assert recorder.lost_packets == 1
    assert publisher.keyframe_requests >= 1  # the loss asked for a keyframe...
    assert any(3.0 < t < 6.0 for t in publisher.keyframes)  # ...and got one
    assert reported == segments
    [info] = segments
    assert info.path.name.startswith("consumer-") and info.path.suffix == ".webm"
    assert info.codecs == "vp8+opus"
    assert not info.sealed_after_crash
    probed = check_segment(info)
    assert codecs_of(probed) == ["vp8", "opus"]
    assert probed["streams"][0]["width"] == 640
    assert float(probed["format"]["duration"]) == pytest.approx(10.0, rel=0.1)

    frames = video_frames(info.path)
    before = [role for t, role in frames if t < 5.9]
    after = [role for t, role in frames if t > 6.1]
    assert before.count("consumer") >= 0.95 * len(before) and len(before) > 60
    assert after.count("business") >= 0.95 * len(after) and len(after) > 90
    # The loss cost frames until the keyframe it asked for, not the rest of the recording.
    assert any(3.0 < t < 6.0 for t, _ in frames)

    # Lip sync: the picture and the sound change at the same capture time.
    picture_changed = next(t for t, role in frames if role == "business")
    levels = audio_levels(info.path)
    loud = max(level for _, level in levels)
    sound_changed = next(t for t, level in levels if t > 1.0 and level < loud / 10)
    assert abs(picture_changed - sound_changed) < 0.1, (picture_changed, sound_changed)


async def test_h264_and_opus_into_matroska(tmp_path: Path) -> None:
    publisher = SyntheticPublisher("mediator", video_codec="h264", width=320, height=180)
    recorder = ParticipantRecorder(tmp_path, "mediator")
    push_all(recorder, publisher.packets(0.0, 6.0))
    [info] = await recorder.stop()

    assert info.path.suffix == ".mkv" and info.codecs == "h264+opus"
    probed = check_segment(info)
    assert codecs_of(probed) == ["h264", "opus"]
    video = probed["streams"][0]
    assert (video["width"], video["height"]) == (320, 180)
    assert video["is_avc"] == "true"  # length-prefixed NAL units with an avcC header
    assert float(probed["format"]["duration"]) == pytest.approx(6.0, rel=0.1)
    frames = video_frames(info.path)
    assert len(frames) >= 170
    assert [role for _, role in frames].count("mediator") >= 0.95 * len(frames)


async def test_segments_start_at_keyframes_and_follow_each_other(tmp_path: Path) -> None:
    publisher = SyntheticPublisher("business", keyframe_interval=1.0)
    reported: list[SegmentInfo] = []
    recorder = ParticipantRecorder(
        tmp_path, "business", segment_seconds=3.0, on_segment=reported.append
    )
    push_all(recorder, publisher.packets(0.0, 10.0))
    segments = await recorder.stop()

    assert len(segments) >= 3 and reported == segments
    assert [s.path.name.rsplit("-", 1)[1] for s in segments] == [
        f"{n}.webm" for n in range(1, len(segments) + 1)
    ]
    for info in segments:
        probed = check_segment(info)
        assert codecs_of(probed) == ["vp8", "opus"]
        with av.open(str(info.path)) as container:
            first = next(p for p in container.demux(video=0) if p.size)
            assert first.is_keyframe
            # The first file starts with the audio that came just before the first keyframe.
            assert first.pts == 0 or (info is segments[0] and first.pts < 100)
        assert video_frames(info.path)[0][1] == "business"  # decodable from its first frame
    for earlier, later in itertools.pairwise(segments):
        assert abs((later.started_at - earlier.ended_at).total_seconds()) < 0.05
        assert 2.9 < earlier.duration < 4.1
    assert sum(s.duration for s in segments) == pytest.approx(10.0, rel=0.05)


async def test_a_restarted_publisher_goes_on_in_the_same_file(tmp_path: Path) -> None:
    publisher = SyntheticPublisher("consumer")
    recorder = ParticipantRecorder(tmp_path, "consumer")
    push_all(recorder, publisher.packets(0.0, 4.0))
    publisher.restart(at=5.0)  # new SSRCs, sequence numbers and timestamps, after a 1 s pause
    push_all(recorder, publisher.packets(5.0, 9.0))
    [info] = await recorder.stop()

    assert recorder.lost_packets == 0
    probed = check_segment(info)
    assert float(probed["format"]["duration"]) == pytest.approx(9.0, rel=0.05)
    times = [t for t, role in video_frames(info.path) if role == "consumer"]
    assert times == sorted(times)
    assert any(t < 4.0 for t in times) and any(t > 8.5 for t in times)
    assert not any(4.1 < t < 4.9 for t in times)  # the pause is a gap


async def test_a_pause_of_both_goes_on_in_the_same_file(tmp_path: Path) -> None:
    publisher = SyntheticPublisher("consumer")
    recorder = ParticipantRecorder(
        tmp_path, "consumer", on_keyframe_needed=publisher.request_keyframe
    )
    push_all(recorder, publisher.packets(0.0, 3.0))
    for _ in publisher.packets(3.0, 8.0):
        pass  # sent, but not forwarded to the recorder (a caucus that is not recorded)
    push_all(recorder, publisher.packets(8.0, 11.0))
    [info] = await recorder.stop()

    assert recorder.lost_packets > 0
    assert float(check_segment(info)["format"]["duration"]) == pytest.approx(11.0, abs=0.1)
    times = [t for t, role in video_frames(info.path) if role == "consumer"]
    assert any(t < 3.0 for t in times) and any(t > 10.0 for t in times)
    assert not any(3.1 < t < 7.9 for t in times)


async def test_camera_off_and_on_again(tmp_path: Path) -> None:
    publisher = SyntheticPublisher("consumer")
    recorder = ParticipantRecorder(
        tmp_path, "consumer", on_keyframe_needed=publisher.request_keyframe
    )
    push_all(recorder, publisher.packets(0.0, 3.0))
    push_all(recorder, (p for p in publisher.packets(3.0, 6.0) if p.kind == "audio"))
    push_all(recorder, publisher.packets(6.0, 9.0))
    segments = await recorder.stop()

    # Video silent for 2 s ends the file; audio goes on alone; the camera's next keyframe
    # (asked for) starts a file with both again.
    assert [s.codecs for s in segments] == ["vp8+opus", "opus", "vp8+opus"]
    for earlier, later in itertools.pairwise(segments):
        assert abs((later.started_at - earlier.ended_at).total_seconds()) < 0.05
    assert segments[0].duration == pytest.approx(5.0, abs=0.1)
    # The audio-only part lasts until the keyframe the worker asked for: packets are pushed
    # faster than real time, so on a loaded machine the ask lands later in the stream.
    assert 6.0 <= segments[0].duration + segments[1].duration < 8.9
    assert sum(s.duration for s in segments) == pytest.approx(9.0, abs=0.1)
    for info in segments:
        check_segment(info)
    assert video_frames(segments[2].path)[0][1] == "consumer"


async def test_audio_only(tmp_path: Path) -> None:
    publisher = SyntheticPublisher("consumer")
    recorder = ParticipantRecorder(tmp_path, "consumer")
    push_all(recorder, (p for p in publisher.packets(0.0, 5.0) if p.kind == "audio"))
    [info] = await recorder.stop()
    assert info.codecs == "opus" and info.path.suffix == ".webm"
    assert codecs_of(check_segment(info)) == ["opus"]
    assert info.duration == pytest.approx(5.0, rel=0.05)


# -- crash -------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_kill_9_leaves_playable_segments_that_seal_repairs(tmp_path: Path, codec: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.record_crash", str(tmp_path), codec, "2.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    pushed = 0.0
    closed: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        for line in process.stdout:
            if line.startswith("segment "):
                closed.append(line.split()[1])
            elif line.startswith("pushed "):
                pushed = float(line.split()[1])
            if pushed >= 6.0 or time.monotonic() > deadline:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert pushed >= 6.0

    # The segments closed before the kill are whole.
    assert closed, "a 2.5 s segment should have closed before 6 s"
    for name in closed:
        assert not marker_path(tmp_path / name).exists()
        assert "duration" in ffprobe(tmp_path / name)["format"]

    [open_segment] = find_unsealed(tmp_path)
    assert open_segment.name not in closed
    probed = ffprobe(open_segment)  # readable as it is...
    assert codecs_of(probed) == [codec, "opus"]
    assert "duration" not in probed["format"]  # ...but without its duration (written at close)
    frames = video_frames(open_segment)
    offset = sum(float(ffprobe(tmp_path / n)["format"]["duration"]) for n in closed)
    assert frames and offset + frames[-1][0] > pushed - 3.0  # up to a few seconds before

    info = seal(open_segment, "consumer")
    assert info is not None and info.sealed_after_crash
    assert find_unsealed(tmp_path) == []
    probed = check_segment(info)
    assert codecs_of(probed) == [codec, "opus"]
    assert offset + info.duration == pytest.approx(pushed, abs=3.0)
    assert len(video_frames(info.path)) == len(frames)


def test_seal_sets_aside_a_file_with_nothing_playable(tmp_path: Path) -> None:
    path = tmp_path / "consumer-20250101T000000Z-1.webm"
    path.write_bytes(b"\x1a\x45\xdf\xa3 not much more")
    marker_path(path).write_text("{}")
    assert find_unsealed(tmp_path) == [path]
    assert seal(path, "consumer") is None
    assert find_unsealed(tmp_path) == []
    assert not path.exists() and (tmp_path / (path.name + ".damaged")).exists()


# -- a slow disk, a full disk ------------------------------------------------------------------


async def test_a_slow_disk_costs_packets_not_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = recorder_module._Segment.write

    def slow_write(self: Any, frame: Any) -> None:
        time.sleep(0.05)
        write(self, frame)

    monkeypatch.setattr(recorder_module._Segment, "write", slow_write)
    publisher = SyntheticPublisher("consumer")
    packets = list(publisher.packets(0.0, 10.0))
    recorder = ParticipantRecorder(tmp_path, "consumer", queue_limit=100)
    spent = push_all(recorder, packets)
    assert spent < 0.2, f"{spent:.3f} s inside push() for {len(packets)} packets"
    assert recorder.dropped_packets > 0
    started = time.monotonic()
    segments = await recorder.stop(timeout=1.0)
    assert time.monotonic() - started < 5.0
    assert recorder.failed is None
    for info in segments:
        check_segment(info)


class _FillingDisk(io.RawIOBase):
    """A segment file on a disk that fills up after ``room`` bytes (ENOSPC from then on)."""

    def __init__(self, file: Any, room: int) -> None:
        self._file = file
        self._room = room

    def write(self, data: Any) -> int:
        if self._room < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        written: int = self._file.write(data)
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        position: int = self._file.seek(offset, whence)
        return position

    def tell(self) -> int:
        position: int = self._file.tell()
        return position

    def fileno(self) -> int:
        descriptor: int = self._file.fileno()
        return descriptor

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()
        super().close()


async def test_a_full_disk_stops_the_recorder_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_file = recorder_module._create_file
    monkeypatch.setattr(
        recorder_module, "_create_file", lambda path: _FillingDisk(create_file(path), 40_000)
    )
    failures: list[tuple[str, str]] = []
    recorder = ParticipantRecorder(
        tmp_path,
        "consumer",
        on_failure=lambda reason: failures.append((reason, threading.current_thread().name)),
    )
    publisher = SyntheticPublisher("consumer", width=640, height=480, noise=12)
    push_all(recorder, publisher.packets(0.0, 4.0))
    for _ in range(50):
        if failures:
            break
        await asyncio.sleep(0.05)
    assert recorder.failed is not None and "No space left" in recorder.failed
    assert failures == [(recorder.failed, "recorder-consumer")]  # from the worker thread
    before = recorder.dropped_packets
    push_all(recorder, publisher.packets(4.0, 4.5))
    assert recorder.dropped_packets > before  # a stopped recorder drops, never raises
    assert await recorder.stop() == []
    monkeypatch.undo()

    # The segment it could not finish is left for seal(), which saves what reached the disk.
    [unsealed] = find_unsealed(tmp_path)
    info = seal(unsealed, "consumer")
    assert info is not None and info.duration > 0.5
    assert codecs_of(ffprobe(info.path)) == ["vp8", "opus"]
