"""Recording benchmark: the CPU the recorder costs per recorded participant-second.

Run by hand (not in CI), from the repository root::

    .venv/bin/python bench/recording.py                       # 3 participants, 20 s, real time
    .venv/bin/python bench/recording.py --pace fast --seconds 60
    .venv/bin/python bench/recording.py --help

Each participant publishes 640×480 VP8 at 30 fps (the SFU benchmark's clip, ~1 Mbit/s, a
keyframe every 2 s, see ``bench/media.py``) and Opus at 20 ms, packetized by aiortc's own
packetizers (``encoder.pack``) into serialized RTP packets. The same packets go through two runs
in one process, paced the same way (``realtime``: each packet when its arrival time comes, as an
SFU receives them; ``fast``: as fast as the recorder's queue takes them):

- ``parse``: ``RtpPacket.parse`` of every datagram — what the SFU spends on a packet anyway;
- ``record``: the same, then ``ParticipantRecorder.push`` — reordering, depacketizing, muxing
  into WebM in its worker thread, writing, fsync and hashing in a temporary directory.

The CPU is the whole process's (``time.process_time``: every thread, the worker included), so
the difference between the runs is what recording costs. The target (the recording issue) is
under 2% of a core per recorded participant.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path.pop(0)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc.codecs import get_encoder  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpCodecParameters  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

from bench.media import (  # noqa: E402
    AUDIO_SAMPLES,
    FPS,
    HEIGHT,
    VIDEO_CLOCK,
    WIDTH,
    cached_video_clip,
    encode_audio_clip,
)
from bench.sfu import clip_cache_dir  # noqa: E402
from recordings.recorder import ParticipantRecorder  # noqa: E402

VIDEO_MIME, AUDIO_MIME = "video/VP8", "audio/opus"


@dataclass(frozen=True)
class Datagram:
    arrival_ms: int
    participant: int
    kind: str
    data: bytes


@dataclass
class Run:
    mode: str
    cpu_seconds: float
    wall_seconds: float
    packets: int
    files: int = 0
    bytes_written: int = 0
    dropped_packets: int = 0
    written_frames: int = 0


def build_datagrams(participants: int, seconds: float) -> tuple[list[Datagram], float]:
    """Serialized RTP for every participant, in arrival order; and the clip's bitrate."""
    clip = cached_video_clip(clip_cache_dir())
    audio = encode_audio_clip(1.0)
    datagrams: list[Datagram] = []
    for p in range(participants):
        vp8 = get_encoder(RTCRtpCodecParameters(mimeType=VIDEO_MIME, clockRate=90000))
        start = 1000 + p * 7  # participants a few ms apart
        seq = 0
        for i in range(round(seconds * FPS)):
            packet = av.Packet(clip.frames[i % len(clip.frames)])
            packet.pts = i * (VIDEO_CLOCK // FPS)
            packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            payloads, timestamp = vp8.pack(packet)
            for n, payload in enumerate(payloads):
                rtp = RtpPacket(
                    payload_type=96,
                    marker=int(n == len(payloads) - 1),
                    sequence_number=seq & 0xFFFF,
                    timestamp=timestamp & 0xFFFFFFFF,
                    ssrc=0x100 + 2 * p,
                    payload=payload,
                )
                seq += 1
                arrival = start + i * 1000 / FPS + 30 + n * 0.3
                datagrams.append(Datagram(round(arrival), p, "video", rtp.serialize()))
        for j in range(round(seconds * 1000 / 20)):
            rtp = RtpPacket(  # one Opus packet per RTP packet, as OpusEncoder.pack() sends it
                payload_type=111,
                sequence_number=j & 0xFFFF,
                timestamp=(j * AUDIO_SAMPLES) & 0xFFFFFFFF,
                ssrc=0x101 + 2 * p,
                payload=audio.packets[j % len(audio.packets)],
            )
            datagrams.append(Datagram(start + j * 20 + 15, p, "audio", rtp.serialize()))
    datagrams.sort(key=lambda d: d.arrival_ms)
    return datagrams, clip.bitrate_kbps


async def run(
    mode: str, datagrams: list[Datagram], participants: int, pace: str, directory: Path
) -> Run:
    recorders: list[ParticipantRecorder] = []
    if mode == "record":
        recorders = [
            ParticipantRecorder(
                directory, f"participant{p}", queue_limit=len(datagrams) if pace == "fast" else 2000
            )
            for p in range(participants)
        ]
    mimes = {"video": (VIDEO_MIME, 90000), "audio": (AUDIO_MIME, 48000)}
    first = datagrams[0].arrival_ms
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for d in datagrams:
        if pace == "realtime":
            due = wall0 + (d.arrival_ms - first) / 1000
            if due > time.perf_counter() + 0.002:
                await asyncio.sleep(due - time.perf_counter())
        packet = RtpPacket.parse(d.data)
        if recorders:
            mime, rate = mimes[d.kind]
            arrival = d.arrival_ms if pace == "fast" else round(loop.time() * 1000)
            recorders[d.participant].push(d.kind, packet, mime, rate, arrival)
    segments = []
    for recorder in recorders:
        segments += await recorder.stop(timeout=60)
    result = Run(
        mode,
        time.process_time() - cpu0,
        time.perf_counter() - wall0,
        len(datagrams),
        files=len(segments),
        bytes_written=sum(s.size for s in segments),
        dropped_packets=sum(r.dropped_packets for r in recorders),
        written_frames=sum(r.written_frames for r in recorders),
    )
    return result


def table(runs: list[Run], participants: int, seconds: float) -> str:
    media = participants * seconds
    rows = [
        ("run", "CPU s", "wall s", "CPU-s per participant-s", "% core / participant"),
    ]
    for r in runs:
        per = r.cpu_seconds / media
        rows.append(
            (
                r.mode,
                f"{r.cpu_seconds:.3f}",
                f"{r.wall_seconds:.1f}",
                f"{per:.5f}",
                f"{per * 100:.2f}%",
            )
        )
    parse, record = runs
    extra = (record.cpu_seconds - parse.cpu_seconds) / media
    rows.append(
        (
            "recording alone",
            f"{record.cpu_seconds - parse.cpu_seconds:.3f}",
            "",
            f"{extra:.5f}",
            f"{extra * 100:.2f}%",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> int:
    print(f"[bench] encoding/loading media for {args.participants} participants", file=sys.stderr)
    datagrams, kbps = build_datagrams(args.participants, args.seconds)
    print(
        f"[bench] {len(datagrams)} packets, {WIDTH}x{HEIGHT} VP8 {FPS} fps ~{kbps:.0f} kbit/s"
        f" + Opus, {args.seconds:g} s each, pace {args.pace}",
        file=sys.stderr,
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-recording-", dir=args.directory) as tmp:
        for mode in ("parse", "record"):
            runs.append(await run(mode, datagrams, args.participants, args.pace, Path(tmp)))
            print(f"[bench] {mode}: {runs[-1]}", file=sys.stderr)
    print(table(runs, args.participants, args.seconds))
    record = runs[1]
    print(
        f"\nfiles {record.files}, {record.bytes_written / 1e6:.1f} MB, frames written "
        f"{record.written_frames}, packets dropped {record.dropped_packets}"
    )
    if args.json:
        media = args.participants * args.seconds
        print(
            json.dumps(
                {
                    "participants": args.participants,
                    "seconds": args.seconds,
                    "pace": args.pace,
                    "parse_cpu_per_participant_second": runs[0].cpu_seconds / media,
                    "record_cpu_per_participant_second": record.cpu_seconds / media,
                    "recording_cpu_per_participant_second": (
                        record.cpu_seconds - runs[0].cpu_seconds
                    )
                    / media,
                    "dropped_packets": record.dropped_packets,
                    "files": record.files,
                }
            )
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pace", choices=("realtime", "fast"), default="realtime")
    parser.add_argument(
        "--directory",
        help="where to write the files (a temporary directory "
        "is made in it; default: the system's)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    return asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
