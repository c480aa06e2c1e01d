"""A cheap participant of our server (``--clients cheap``): the Socket.IO protocol and aiortc
handshake of :class:`bench.client.BenchClient`, the media of :mod:`bench.cheap`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.cheap import CheapPeer, CheapTracks, ClipStreamer, SilentTrack
from bench.client import BenchClient
from bench.media import AudioClip, VideoClip
from bench.rtp_clip import RtpCount, VideoFrameChunks, media_payload_type, media_sections

CONNECT_SECONDS = 60.0


class CheapBenchClient(CheapTracks, BenchClient):
    """Signaling as :class:`BenchClient`; sends the pre-packetized clip, counts what arrives."""

    def __init__(
        self,
        base_url: str,
        room_id: str,
        role: str,
        token: str,
        sender_id: int,
        video_clip: VideoClip,
        chunks: list[VideoFrameChunks],
        audio_clip: AudioClip,
        sender_ids: dict[str, int],
    ) -> None:
        super().__init__(
            base_url, room_id, role, token, sender_id, video_clip, audio_clip, sender_ids, set()
        )
        self.streamer = ClipStreamer(chunks, audio_clip, sender_id)
        self.peer: CheapPeer | None = None
        self._remote: list[tuple[str, str, int, RtpCount]] = []
        """(publisher, kind, publisher's sender id, what arrived) per remote track."""
        self._media_task: asyncio.Task[None] | None = None

    async def _answer(self, offer: dict[str, Any]) -> None:
        async with self._lock:
            if self.pc is None:
                self.pc = RTCPeerConnection(
                    RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                )
                self.peer = CheapPeer(self.pc)
            pc, peer = self.pc, self.peer
            assert peer is not None
            publish = offer["publish"]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            for transceiver in pc.getTransceivers():
                if transceiver.mid in (publish.get("audio"), publish.get("video")):
                    kind = "audio" if transceiver.mid == publish.get("audio") else "video"
                    transceiver.direction = "sendonly"
                    if transceiver.sender.track is None:
                        transceiver.sender.replaceTrack(SilentTrack(kind))
                    if kind == "video":
                        transceiver.sender._send_keyframe = self.streamer.request_keyframe
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            peer.hook_dtls()
            for section in media_sections(offer["sdp"]):
                info = offer["tracks"].get(section.mid)
                if info is None or info["kind"] == "screen" or not section.ssrcs:
                    continue
                ssrc = section.ssrcs[0]  # the media SSRC; an rtx one follows it (ssrc-group FID)
                if ssrc in peer.counts:
                    continue
                owner = f"{self.room_id}/{info['participant_id']}"
                sender_id = self._sender_ids.get(owner, -1)
                count = peer.expect(ssrc, section.kind, sender_id)
                self._remote.append((owner, section.kind, sender_id, count))
            local = pc.localDescription
            await self.sio.emit(
                "answer", {"type": "answer", "sdp": local.sdp, "revision": offer["revision"]}
            )
            if self._media_task is None:
                slots = {
                    s.mid: media_payload_type(s)
                    for s in media_sections(local.sdp)
                    if s.mid in (publish.get("audio"), publish.get("video"))
                }
                self._media_task = asyncio.ensure_future(self._start_media(publish, slots))

    async def _start_media(self, publish: dict[str, str], slots: dict[str | None, int]) -> None:
        assert self.pc is not None and self.peer is not None
        try:
            path = await self.peer.connected(CONNECT_SECONDS)
        except Exception as exc:
            self.errors.append(f"media not started: {exc!r}")
            return
        senders = {t.mid: t.sender for t in self.pc.getTransceivers()}
        video = publish.get("video")
        audio = publish.get("audio")
        self.streamer.start(
            path,
            (senders[video], slots[video]) if video in senders and video in slots else None,
            (senders[audio], slots[audio]) if audio in senders and audio in slots else None,
        )

    # -- what loadgen reads ---------------------------------------------------------------------

    def packets_received(self) -> int:
        return self.peer.packets_received if self.peer is not None else 0

    def extra_errors(self) -> list[str]:
        peer = self.peer
        out = []
        if peer is not None and peer.srtp_errors:
            out.append(f"{peer.srtp_errors} SRTP unprotect errors")
        if peer is not None and peer.unknown.packets:
            out.append(f"{peer.unknown.packets} packets on unknown SSRCs")
        if self.streamer.send_errors:
            out.append(f"{self.streamer.send_errors} send errors")
        return out

    async def close(self) -> None:
        await self.streamer.stop()
        if self._media_task is not None:
            self._media_task.cancel()
            with contextlib.suppress(BaseException):
                await self._media_task
        if self.peer is not None:
            self.peer.close()
        await super().close()
