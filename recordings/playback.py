"""The playback file: every participant's segments composed into one MP4 for review.

One ffmpeg run lays the participants side by side on a black canvas as long as the sitting
(one tile per participant, letterboxed), places each segment at its offset from the start,
mixes the audio, writes each participant's name under their tile — highlighted while they
speak — and the office's wall-clock time top left. Output is H.264 + AAC in MP4 with the index
first (``+faststart``), which every browser plays and seeks.

API::

    the_plan = plan(segments, start=started_at)             # offsets, tiles, total duration
    argv = ffmpeg_command(segments, out, start=..., speaking={label: [(t0, t1), ...]})
    speaking_intervals(path)                                # [(t0, t1), ...] in a segment
    await compose(segments, out, start=..., on_progress=print)

    python -m recordings.playback OUT SEGMENT.webm:LABEL:ISO_START ...

**Where it runs.** :func:`compose` runs ffmpeg as a child process at the lowest priority
(``nice -n 19``), never inside the media process; :func:`speaking_intervals` decodes audio
with PyAV in a thread of the caller, so the caller should be the background job's own process.

**The filter graph**, for segments ``i`` on tiles ``k`` at offsets ``o_i`` (seconds)::

    color=black:WxH:d=TOTAL [c0]
    [i:v] scale (fit) , pad (letterbox) , setsar=1 , setpts=PTS+o_i/TB [v_i]
    [c_i][v_i] overlay=x_k:0:eof_action=pass [c_i+1]     # black again after the segment ends
    [c_n] drawbox (caption band) , drawbox enable='between(t,a,b)+…' (speaking) ,
          drawtext (label, per tile) , drawtext %{pts:gmtime:EPOCH+UTC offset:%Y-%m-%d %T} [vout]
    [i:a] aresample=async=1:first_pts=0 (gaps in a file become silence) , adelay=o_i [a_i]
    anullsrc (TOTAL) [silence] ; [silence][a_0]… amix=normalize=0 [aout]

The clock uses ``gmtime`` with the zone's UTC offset added to the epoch rather than
``localtime``, so the command does not depend on the child's ``TZ`` (Asia/Shanghai keeps no
daylight saving time, so one offset holds for a sitting).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import numpy as np

logger = logging.getLogger(__name__)

OFFICE_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FPS = 25
SAMPLE_RATE = 48000
SPEAKING_COLOR = "0xE8A33D"
CAPTION_COLOR = "0x202020"
ANALYSIS_SHARE = 0.2
"""The part of the progress given to speech detection before ffmpeg starts."""


class PlaybackError(Exception):
    """Composing the playback file failed; the message carries ffmpeg's last words."""

    code = "playback_failed"


@dataclass
class Segment:
    """One recorded segment file of one participant."""

    path: Path
    participant: str
    """Display label, e.g. ``"消费者 李女士"``: one tile per distinct label."""
    started_at: datetime
    """UTC time of the segment's first frame."""
    duration: float
    """Seconds."""


@dataclass(frozen=True)
class Placed:
    """A segment placed on the playback's time line."""

    segment: Segment
    offset: float
    """Seconds from the playback's start."""
    tile: int
    has_video: bool
    has_audio: bool


@dataclass(frozen=True)
class Plan:
    """Where every segment goes, and how long the playback is."""

    tiles: list[str]
    """Participant labels, left to right: in order of first appearance."""
    placed: list[Placed]
    duration: float
    """Seconds from ``start`` to the end of the last segment."""


def _streams(path: Path) -> tuple[bool, bool]:
    with av.open(str(path)) as container:
        return bool(container.streams.video), bool(container.streams.audio)


def plan(segments: Sequence[Segment], *, start: datetime) -> Plan:
    """Place ``segments`` on a time line starting at ``start`` (probes each file's tracks)."""
    if not segments:
        raise PlaybackError("no segments to compose")
    ordered = sorted(segments, key=lambda s: (s.started_at, s.participant))
    tiles: list[str] = []
    placed = []
    for segment in ordered:
        if segment.participant not in tiles:
            tiles.append(segment.participant)
        has_video, has_audio = _streams(segment.path)
        offset = max(0.0, (segment.started_at - start).total_seconds())
        placed.append(
            Placed(segment, offset, tiles.index(segment.participant), has_video, has_audio)
        )
    duration = max(p.offset + p.segment.duration for p in placed)
    return Plan(tiles, placed, duration)


# -- filter graph ------------------------------------------------------------------------------


def _option(value: str) -> str:
    """Escape a filter option's value twice: for the option parser, then for the graph parser
    (ffmpeg-filters(1), "Notes on filtergraph escaping")."""
    for char in "\\':":
        value = value.replace(char, "\\" + char)
    for char in "\\'[],;":
        value = value.replace(char, "\\" + char)
    return value


def _enable(intervals: Sequence[tuple[float, float]]) -> str:
    return "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in intervals)


def _merged(
    speaking: dict[str, list[tuple[float, float]]],
) -> dict[str, list[tuple[float, float]]]:
    """Overlapping or touching intervals of one label as one."""
    merged: dict[str, list[tuple[float, float]]] = {}
    for label, intervals in speaking.items():
        out: list[tuple[float, float]] = []
        for a, b in sorted(intervals):
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        merged[label] = out
    return merged


def ffmpeg_command(
    segments: Sequence[Segment],
    out: Path,
    *,
    start: datetime,
    speaking: dict[str, list[tuple[float, float]]],
    width: int = 1280,
    height: int = 360,
    font: Path = DEFAULT_FONT,
) -> list[str]:
    """The argv of one ffmpeg run composing ``segments`` into the MP4 ``out``.

    ``speaking`` maps a label to its speaking intervals in seconds from ``start``.
    """
    the_plan = plan(segments, start=start)
    total = the_plan.duration
    n = len(the_plan.tiles)
    caption_h = max(24, height // 8) // 2 * 2
    tile_w = width // n // 2 * 2
    tile_h = (height - caption_h) // 2 * 2
    fontfile = _option(str(font))
    fontsize = caption_h * 3 // 5

    args = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    graph: list[str] = [f"color=c=black:s={width}x{height}:r={FPS}:d={total:.3f}[c0]"]
    audio: list[str] = []
    canvas = 0
    for i, p in enumerate(the_plan.placed):
        args += ["-i", str(p.segment.path)]
        if p.has_video:
            graph.append(
                f"[{i}:v]scale={tile_w}:{tile_h}:force_original_aspect_ratio=decrease"
                f":force_divisible_by=2,pad={tile_w}:{tile_h}:(ow-iw)/2:(oh-ih)/2:color=black,"
                f"setsar=1,setpts=PTS+{p.offset:.3f}/TB[v{i}]"
            )
            graph.append(
                f"[c{canvas}][v{i}]overlay=x={p.tile * tile_w}:y=0:eof_action=pass[c{canvas + 1}]"
            )
            canvas += 1
        if p.has_audio:
            graph.append(
                f"[{i}:a]aresample={SAMPLE_RATE}:async=1:first_pts=0,"
                f"aformat=sample_fmts=fltp:channel_layouts=stereo,"
                f"adelay={round(p.offset * 1000)}:all=1[a{i}]"
            )
            audio.append(f"[a{i}]")

    # Captions: a band under the tiles, each label boxed in colour while its speaker speaks.
    speaking = _merged(speaking)
    video = [f"drawbox=x=0:y={tile_h}:w={width}:h={height - tile_h}:color={CAPTION_COLOR}:t=fill"]
    for k, label in enumerate(the_plan.tiles):
        if speaking.get(label):
            video.append(
                f"drawbox=x={k * tile_w}:y={tile_h}:w={tile_w}:h={height - tile_h}"
                f":color={SPEAKING_COLOR}:t=fill:enable='{_enable(speaking[label])}'"
            )
    for k, label in enumerate(the_plan.tiles):
        video.append(
            f"drawtext=fontfile={fontfile}:expansion=none:text={_option(label)}"
            f":fontsize={fontsize}:fontcolor=white"
            f":x={k * tile_w}+({tile_w}-tw)/2:y={tile_h}+({height - tile_h}-th)/2"
        )
    # The wall clock in the office's zone: gmtime of (epoch + UTC offset).
    utc_offset = start.astimezone(OFFICE_TZ).utcoffset() or timedelta(0)
    shifted = start.timestamp() + utc_offset.total_seconds()
    clock = f"%{{pts:gmtime:{shifted:.3f}:%Y-%m-%d %T}}"
    video.append(
        f"drawtext=fontfile={fontfile}:text={_option(clock)}:fontsize={fontsize}"
        f":fontcolor=white:box=1:boxcolor=black@0.5:boxborderw=4:x=8:y=8"
    )
    graph.append(f"[c{canvas}]" + ",".join(video) + "[vout]")

    graph.append(
        f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=duration={total:.3f},"
        f"aformat=sample_fmts=fltp[silence]"
    )
    graph.append(
        "[silence]"
        + "".join(audio)
        + f"amix=inputs={len(audio) + 1}:duration=first:normalize=0[aout]"
    )

    args += ["-filter_complex", ";".join(graph), "-map", "[vout]", "-map", "[aout]"]
    args += ["-t", f"{total:.3f}"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "mp4", str(out)]
    return args


# -- who speaks --------------------------------------------------------------------------------


def speaking_intervals(
    path: Path, *, threshold_db: float = -40, window: float = 0.5
) -> list[tuple[float, float]]:
    """When the segment's audio is louder than ``threshold_db`` (dBFS, RMS over ``window``
    seconds): merged intervals in seconds from the segment's start."""
    energy: dict[int, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            t0 = float(frame.time or 0.0)
            for mono in resampler.resample(frame):
                pcm = mono.to_ndarray().astype(np.float64).ravel()
                bucket = energy[int(t0 // window)]
                bucket[0] += float(np.sum(pcm**2))
                bucket[1] += pcm.size
    intervals: list[tuple[float, float]] = []
    for index in sorted(energy):
        total, count = energy[index]
        if not count:
            continue
        rms = math.sqrt(total / count)
        if rms <= 0 or 20 * math.log10(rms) < threshold_db:
            continue
        a, b = index * window, (index + 1) * window
        if intervals and math.isclose(intervals[-1][1], a):
            intervals[-1] = (intervals[-1][0], b)
        else:
            intervals.append((a, b))
    return intervals


# -- running ffmpeg ----------------------------------------------------------------------------


async def compose(
    segments: Sequence[Segment],
    out: Path,
    *,
    start: datetime,
    on_progress: Callable[[float], None] | None = None,
    width: int = 1280,
    height: int = 360,
    font: Path = DEFAULT_FONT,
) -> Path:
    """Compose ``segments`` into the MP4 ``out`` with ffmpeg at the lowest priority.

    ``on_progress`` gets the fraction done (0..1): finding who speaks when (decoding every
    segment's audio) is the first ``ANALYSIS_SHARE`` of it, ffmpeg's run the rest. The file
    appears at ``out`` only when complete (written beside it, then renamed).
    """
    speaking: dict[str, list[tuple[float, float]]] = {}
    for n, segment in enumerate(segments, 1):
        offset = (segment.started_at - start).total_seconds()
        found = await asyncio.to_thread(speaking_intervals, segment.path)
        speaking.setdefault(segment.participant, []).extend(
            (offset + a, offset + b) for a, b in found
        )
        if on_progress is not None:
            on_progress(ANALYSIS_SHARE * (n / len(segments)))
    the_plan = plan(segments, start=start)
    partial = out.with_name(f".{out.name}.part")
    argv = ffmpeg_command(
        segments, partial, start=start, speaking=speaking, width=width, height=height, font=font
    )
    argv = [argv[0], "-progress", "pipe:1", "-nostats", *argv[1:]]
    logger.info("compose(%s): %d segments, %.1f s", out.name, len(segments), the_plan.duration)

    process = await asyncio.create_subprocess_exec(
        "nice",
        "-n",
        "19",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    last_words: collections.deque[str] = collections.deque(maxlen=20)

    async def read_stderr(stream: asyncio.StreamReader) -> None:
        async for line in stream:
            last_words.append(line.decode(errors="replace").rstrip())

    errors = asyncio.create_task(read_stderr(process.stderr))
    try:
        async for raw in process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if on_progress is None:
                continue
            if key == "out_time_us" and value.lstrip("-").isdigit():
                done = int(value) / 1e6 / the_plan.duration if the_plan.duration else 1.0
                done = min(1.0, max(0.0, done))
                on_progress(ANALYSIS_SHARE + (1 - ANALYSIS_SHARE) * done)
            elif key == "progress" and value == "end":
                on_progress(1.0)
        code = await process.wait()
        await errors
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        errors.cancel()
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    if code != 0:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise PlaybackError(f"ffmpeg exited with {code}: " + " | ".join(last_words))
    os.replace(partial, out)
    return out


# -- command line ------------------------------------------------------------------------------


def _segment_arg(text: str) -> Segment:
    path, label, iso = text.split(":", 2)
    started_at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    with av.open(path) as container:
        duration = (container.duration or 0) / av.time_base
    return Segment(Path(path), label, started_at.astimezone(UTC), float(duration))


def main(argv: Sequence[str]) -> int:
    """``python -m recordings.playback OUT SEGMENT:LABEL:ISO_START ...``"""
    if len(argv) < 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    segments = [_segment_arg(a) for a in argv[1:]]
    start = min(s.started_at for s in segments)

    def show(fraction: float) -> None:
        print(f"\r{fraction:6.1%}", end="", file=sys.stderr, flush=True)

    out = asyncio.run(compose(segments, Path(argv[0]), start=start, on_progress=show))
    print(f"\n{out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
