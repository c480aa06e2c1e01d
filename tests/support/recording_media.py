"""A synthetic publisher for the recorder's tests: real encoders, RTP packets, arrival times.

Video shows a role's pattern (:data:`tests.support.peer.PATTERNS`) encoded with aiortc's own VP8
or H.264 encoder, audio a 440 Hz tone encoded with aiortc's Opus encoder; both are packetized by
those encoders exactly as ``RTCRtpSender`` sends them. Packets come out in arrival order with
simulated arrival times (capture time plus a per-kind delay), so a test can push 10 s of media
in a fraction of that. The video's RTP timestamps start just before the 32-bit wrap and the
audio's sequence numbers just before the 16-bit wrap, so every test crosses both.
"""

from __future__ import annotations

import fractions
import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from tests.support.peer import PATTERNS

VIDEO_MIME = {"vp8": "video/VP8", "h264": "video/H264"}
OPUS_MIME = "audio/opus"


@dataclass(frozen=True)
class Pushed:
    """One packet as the SFU would hand it to ``ParticipantRecorder.push``."""

    kind: str
    packet: RtpPacket
    mime: str
    clock_rate: int
    arrival_ms: int
    capture_s: float
    """When the frame the packet belongs to was captured, from the publisher's start."""
    keyframe: bool = False
    """The packet belongs to a video keyframe."""


class SyntheticPublisher:
    """One participant's camera and microphone, encoded and packetized on demand."""

    def __init__(
        self,
        role: str = "consumer",
        *,
        video_codec: str = "vp8",
        width: int = 320,
        height: int = 240,
        fps: int = 30,
        keyframe_interval: float | None = None,
        switch_at: float | None = None,
        switch_role: str = "business",
        noise: int = 0,
        start_ms: int = 1_000_000,
        audio_delay_ms: float = 20.0,
        video_delay_ms: float = 40.0,
    ) -> None:
        self.video_codec = video_codec
        self.width, self.height, self.fps = width, height, fps
        self.keyframe_interval = keyframe_interval
        self.noise = noise
        """Luma noise (±) on every frame, so that frames span several packets."""
        self._rng = np.random.default_rng(5)
        self.switch_at = switch_at
        """From then on the video shows ``switch_role``'s pattern and the audio is silent."""
        self.start_ms = start_ms
        self.audio_delay_ms = audio_delay_ms
        self.video_delay_ms = video_delay_ms
        self._pictures = {r: self._picture(r) for r in (role, switch_role)}
        self._role, self._switch_role = role, switch_role
        self._force_keyframe = False
        self.keyframe_requests = 0
        self.keyframes: list[float] = []
        """Capture times of the video keyframes sent."""
        self._ssrc_base = 0x1000
        self._epoch_s = 0.0
        self.restart(at=0.0)

    def _picture(self, role: str) -> np.ndarray:
        left, right = PATTERNS[role]
        yuv = np.full((self.height * 3 // 2, self.width), 128, dtype=np.uint8)
        yuv[: self.height, : self.width // 2] = left
        yuv[: self.height, self.width // 2 :] = right
        return yuv

    def restart(self, at: float) -> None:
        """Act as a restarted publisher from capture time ``at``: new SSRCs, new sequence
        numbers and timestamps, new encoders (so it starts with a keyframe)."""
        self._ssrc_base += 2
        self._epoch_s = at
        self.video_ssrc, self.audio_ssrc = self._ssrc_base, self._ssrc_base + 1
        self._video_seq = 60000 + self._ssrc_base
        self._audio_seq = 65500
        self._video_ts0 = 0xFFFFFFFF - 45000 if self._ssrc_base == 0x1002 else 123456
        self._audio_ts0 = 0xFFFFFFFF - 48000 * 3
        self._video = get_encoder(
            RTCRtpCodecParameters(
                mimeType=VIDEO_MIME[self.video_codec], clockRate=90000, payloadType=96
            )
        )
        self._audio = get_encoder(
            RTCRtpCodecParameters(mimeType=OPUS_MIME, clockRate=48000, channels=2, payloadType=111)
        )

    def request_keyframe(self) -> None:
        """What a PLI does: the next video frame is a keyframe (thread-safe enough: a flag)."""
        self.keyframe_requests += 1
        self._force_keyframe = True

    def packets(self, start: float, end: float) -> Iterator[Pushed]:
        """Every packet captured in [start, end) (seconds of capture time), in arrival order."""
        waiting: list[tuple[float, int, Pushed]] = []
        order = 0
        video_index = math.ceil(round((start - self._epoch_s) * self.fps, 6))
        audio_index = math.ceil(round((start - self._epoch_s) / 0.02, 6))
        while True:
            video_t = self._epoch_s + video_index / self.fps
            audio_t = self._epoch_s + audio_index * 0.02
            now = min(video_t, audio_t)
            if now >= end:
                break
            while waiting and waiting[0][0] <= self.start_ms + now * 1000:
                yield heapq.heappop(waiting)[2]
            if video_t <= audio_t:
                made = self._video_frame(video_index, video_t)
                video_index += 1
            else:
                made = self._audio_frame(audio_index, audio_t)
                audio_index += 1
            for pushed in made:
                order += 1
                heapq.heappush(waiting, (pushed.arrival_ms, order, pushed))
        while waiting:
            yield heapq.heappop(waiting)[2]

    def _video_frame(self, index: int, t: float) -> list[Pushed]:
        role = self._role if self.switch_at is None or t < self.switch_at else self._switch_role
        picture = self._pictures[role]
        if self.noise:
            shaken = picture.astype(np.int16)
            shaken[: self.height] += self._rng.integers(
                -self.noise, self.noise + 1, size=(self.height, self.width), dtype=np.int16
            )
            picture = np.clip(shaken, 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = index * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        force = self._force_keyframe or index == 0
        if self.keyframe_interval and t - self._epoch_s > 0:
            period = round(self.keyframe_interval * self.fps)
            force = force or index % period == 0
        self._force_keyframe = False
        payloads, timestamp = self._video.encode(frame, force_keyframe=force)
        if not payloads:
            return []
        keyframe = _is_keyframe(self.video_codec, payloads)
        if keyframe:
            self.keyframes.append(t)
        out = []
        arrival = self.start_ms + t * 1000 + self.video_delay_ms
        for i, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=96,
                marker=int(i == len(payloads) - 1),
                sequence_number=self._video_seq & 0xFFFF,
                timestamp=(self._video_ts0 + timestamp) & 0xFFFFFFFF,
                ssrc=self.video_ssrc,
                payload=payload,
            )
            self._video_seq += 1
            out.append(
                Pushed(
                    "video",
                    packet,
                    VIDEO_MIME[self.video_codec],
                    90000,
                    round(arrival + i * 0.5),
                    t,
                    keyframe,
                )
            )
        return out

    def _audio_frame(self, index: int, t: float) -> list[Pushed]:
        silent = self.switch_at is not None and t >= self.switch_at
        samples = np.arange(960) + index * 960
        tone = np.sin(2 * np.pi * 440 * samples / 48000) * (0 if silent else 8000)
        frame = av.AudioFrame.from_ndarray(
            tone.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = index * 960
        frame.time_base = fractions.Fraction(1, 48000)
        payloads, _ = self._audio.encode(frame)
        out = []
        for payload in payloads:
            packet = RtpPacket(
                payload_type=111,
                marker=0,
                sequence_number=self._audio_seq & 0xFFFF,
                timestamp=(self._audio_ts0 + index * 960) & 0xFFFFFFFF,
                ssrc=self.audio_ssrc,
                payload=payload,
            )
            self._audio_seq += 1
            arrival = round(self.start_ms + t * 1000 + self.audio_delay_ms)
            out.append(Pushed("audio", packet, OPUS_MIME, 48000, arrival, t))
        return out


def _is_keyframe(codec: str, payloads: list[bytes]) -> bool:
    if codec == "vp8":
        _, data = VpxPayloadDescriptor.parse(payloads[0])
        return not data[0] & 1
    for payload in payloads:
        nal_type = payload[0] & 0x1F
        if nal_type == 5 or (nal_type == 28 and payload[1] & 0x1F == 5):
            return True
        if nal_type == 24:  # STAP-A: 16-bit size, NAL unit, ...
            pos = 1
            while pos + 2 < len(payload):
                if payload[pos + 2] & 0x1F == 5:
                    return True
                pos += 2 + int.from_bytes(payload[pos : pos + 2], "big")
    return False
