"""Record a synthetic publisher in real time until killed (the recorder's crash test).

    python -m tests.support.record_crash DIRECTORY [vp8|h264] [SEGMENT_SECONDS]

Packets are pushed at their simulated arrival times, on the wall clock. Every 0.25 s a line
``pushed <seconds>`` on stdout says how much media has been pushed (capture time); a closed
segment prints ``segment <file name>``. The test kills the process with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from recordings.recorder import ParticipantRecorder, SegmentInfo
from tests.support.recording_media import SyntheticPublisher


async def main(directory: Path, codec: str, segment_seconds: float) -> None:
    publisher = SyntheticPublisher(
        video_codec=codec, keyframe_interval=1.0, start_ms=int(time.time() * 1000)
    )

    def on_segment(info: SegmentInfo) -> None:
        print(f"segment {info.path.name}", flush=True)

    recorder = ParticipantRecorder(
        directory,
        "consumer",
        segment_seconds=segment_seconds,
        on_segment=on_segment,
        on_keyframe_needed=publisher.request_keyframe,
    )
    reported = 0.0
    second = 0
    while True:
        for pushed in publisher.packets(second, second + 1):
            delay = pushed.arrival_ms / 1000 - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            recorder.push(
                pushed.kind, pushed.packet, pushed.mime, pushed.clock_rate, pushed.arrival_ms
            )
            if pushed.capture_s - reported >= 0.25:
                reported = pushed.capture_s
                print(f"pushed {reported:.2f}", flush=True)
        second += 1


if __name__ == "__main__":
    asyncio.run(
        main(
            Path(sys.argv[1]),
            sys.argv[2] if len(sys.argv) > 2 else "vp8",
            float(sys.argv[3]) if len(sys.argv) > 3 else 300.0,
        )
    )
