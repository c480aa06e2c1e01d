"""Playback benchmark: what composing a sitting's playback file costs, per minute of sitting.

Run by hand (not in CI), from the repository root::

    .venv/bin/python bench/playback.py                    # 3 participants, 60 s of sitting
    .venv/bin/python bench/playback.py --seconds 300 --json

The segments are made the way the server makes them: the recording benchmark's packets (640×480
VP8 at 30 fps, ~1 Mbit/s, and Opus, per participant; see ``bench/recording.py``) pushed through
``ParticipantRecorder`` as fast as it takes them. Then :func:`recordings.playback.compose` runs
once, as the playback worker runs it (speech detection in this process, ffmpeg as a child at
``nice 19``), and the figures are:

- ``analysis``: this process's CPU while finding who speaks when (decoding every segment's audio);
- ``ffmpeg``: the children's CPU (``RUSAGE_CHILDREN``), the composing itself;
- per minute of sitting, and the real-time factor (wall time ÷ sitting length; under 1 means
  faster than the sitting lasted) — on a machine also serving rooms the worker runs at nice 19,
  so it takes what the rooms leave.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path.pop(0)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.recording import build_datagrams, run  # noqa: E402
from recordings import playback  # noqa: E402
from recordings.playback import Segment, compose  # noqa: E402

LABELS = ("调解员 王调解员", "消费者 李女士", "经营者 某某电器商行")


def segment_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".webm", ".mkv"))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def amain(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-playback-") as tmp:
        directory = Path(tmp)
        print(f"[bench] recording {args.participants} × {args.seconds:g} s", file=sys.stderr)
        datagrams, _ = build_datagrams(args.participants, args.seconds)
        recorded = await run("record", datagrams, args.participants, "fast", directory)
        files = await asyncio.to_thread(segment_files, directory)
        assert len(files) == recorded.files == args.participants, (files, recorded.files)
        start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
        segments = [
            Segment(path, LABELS[n % len(LABELS)], start + timedelta(seconds=0.2 * n), args.seconds)
            for n, path in enumerate(files)
        ]
        phases: dict[str, float] = {}
        cpu0, kids0, wall0 = time.process_time(), children_cpu(), time.perf_counter()

        def on_progress(fraction: float) -> None:
            if fraction >= playback.ANALYSIS_SHARE and "analysis_cpu" not in phases:
                phases["analysis_cpu"] = time.process_time() - cpu0
                phases["analysis_wall"] = time.perf_counter() - wall0

        out = directory / "playback.mp4"
        await compose(segments, out, start=start, on_progress=on_progress)
        wall = time.perf_counter() - wall0
        ffmpeg_cpu = children_cpu() - kids0
        minutes = (args.seconds + 0.2 * (args.participants - 1)) / 60
        return {
            "participants": args.participants,
            "sitting_seconds": args.seconds,
            "analysis_cpu_s": round(phases.get("analysis_cpu", 0.0), 3),
            "ffmpeg_cpu_s": round(ffmpeg_cpu, 3),
            "wall_s": round(wall, 2),
            "cpu_s_per_sitting_minute": round(
                (phases.get("analysis_cpu", 0.0) + ffmpeg_cpu) / minutes, 2
            ),
            "realtime_factor": round(wall / (minutes * 60), 3),
            "output_bytes": out.stat().st_size,
        }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(amain(args))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
