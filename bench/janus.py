"""Janus (Debian's ``janus`` 1.1.2, VideoRoom plugin) as the peer the benchmark compares with.

Janus skips loopback interfaces when it gathers ICE candidates (even with
``ice_enforce_list = "lo"``), so it runs in a **network namespace of its own**, joined to this
machine by a veth pair (:data:`HOST_ADDR` here, :data:`JANUS_ADDR` inside). Nothing in it routes
anywhere else: no default route, no STUN/TURN, no event handlers. Its configuration is generated
into a temporary directory (only the VideoRoom plugin and the HTTP transport are loaded, by
symlinking just those two libraries into private plugin folders); its HTTP API listens on
``JANUS_ADDR:8088`` inside the namespace, which is all the clients need to create rooms, publish
and subscribe.

:class:`JanusServer` sets the namespace up and tears it down (also from :func:`cleanup_all`,
which ``bench/sfu.py`` calls on any exit). :class:`JanusBenchClient` is one participant: one
Janus session with a publisher handle (the client offers audio + video, Janus answers) and a
subscriber handle (Janus offers the other participants' streams in one peer connection, the
client answers); its media is that of the cheap clients (:mod:`bench.cheap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from bench.cheap import CheapPeer, CheapTracks, ClipStreamer, SilentTrack
from bench.media import AudioClip
from bench.rtp_clip import RtpCount, VideoFrameChunks, media_payload_type, media_sections

JANUS_BIN = Path("/usr/bin/janus")
JANUS_LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
HOST_ADDR = "10.77.0.1"
JANUS_ADDR = "10.77.0.2"
PREFIX = 24
HTTP_PORT = 8088
INSTALL_HINT = (
    "Janus is not installed (/usr/bin/janus); for the benchmark only: "
    "apt-get install -y --no-install-recommends janus (or ./manage setup --janus)"
)
CONNECT_SECONDS = 60.0
EVENT_SECONDS = 30.0
"""How long a plugin request may take to answer (publish: Janus gathers first)."""

_running: list[JanusServer] = []
"""Every Janus started by this process, so :func:`cleanup_all` can undo them on any exit."""


def available() -> bool:
    return JANUS_BIN.exists()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, timeout=20)


def _config(conf: Path, folders: dict[str, Path], veth: str) -> None:
    """janus.jcfg, the HTTP transport's and the VideoRoom's configuration (libconfig syntax)."""
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "janus.jcfg").write_text(
        f"""general: {{
\tconfigs_folder = "{conf}"
\tplugins_folder = "{folders["plugins"]}"
\ttransports_folder = "{folders["transports"]}"
\tevents_folder = "{folders["events"]}"
\tloggers_folder = "{folders["loggers"]}"
\tdebug_level = 4
\tsession_timeout = 0
\tinterface = "{JANUS_ADDR}"
\tserver_name = "mediation-bench"
}}
certificates: {{
}}
media: {{
\tipv6 = false
\trtp_port_range = "20000-40000"
}}
nat: {{
\tnice_debug = false
\tice_enforce_list = "{veth}"
\tignore_mdns = true
\tfull_trickle = false
\tice_lite = false
\tice_tcp = false
}}
plugins: {{
}}
transports: {{
}}
events: {{
\tbroadcast = false
}}
loggers: {{
}}
"""
    )
    (conf / "janus.transport.http.jcfg").write_text(
        f"""general: {{
\tjson = "compact"
\tbase_path = "/janus"
\thttp = true
\tport = {HTTP_PORT}
\tip = "{JANUS_ADDR}"
\thttps = false
}}
admin: {{
\tadmin_base_path = "/admin"
\tadmin_http = false
\tadmin_https = false
}}
cors: {{
}}
"""
    )
    (conf / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")


class JanusServer:
    """Janus in a namespace of its own (see the module docstring); ``pid`` is Janus's own."""

    def __init__(self, workdir: Path) -> None:
        tag = str(os.getpid())[-7:]
        self.netns = f"mrbench{tag}"
        self.veth_host = f"mrbj{tag}h"
        self.veth_ns = f"mrbj{tag}n"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://{JANUS_ADDR}:{HTTP_PORT}/janus"
        self._netns_made = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        if not available():
            raise RuntimeError(INSTALL_HINT)
        remove_stale()
        shown = _ip("-4", "-o", "addr", "show").stdout.decode()
        if f" {HOST_ADDR}/" in shown:
            raise RuntimeError(
                f"{HOST_ADDR} is already on an interface here (another benchmark's Janus?)"
            )
        _running.append(self)
        _ip("netns", "add", self.netns)
        self._netns_made = True
        _ip("link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        _ip("link", "set", self.veth_ns, "netns", self.netns)
        _ip("addr", "add", f"{HOST_ADDR}/{PREFIX}", "dev", self.veth_host)
        _ip("link", "set", self.veth_host, "up")
        inside = ("netns", "exec", self.netns, "ip")
        _ip(*inside, "addr", "add", f"{JANUS_ADDR}/{PREFIX}", "dev", self.veth_ns)
        _ip(*inside, "link", "set", self.veth_ns, "up")
        _ip(*inside, "link", "set", "lo", "up")
        folders = {name: self.workdir / name for name in ("plugins", "transports", "events")}
        folders["loggers"] = self.workdir / "loggers"
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        (folders["plugins"] / "libjanus_videoroom.so").symlink_to(
            JANUS_LIBS / "plugins" / "libjanus_videoroom.so"
        )
        (folders["transports"] / "libjanus_http.so").symlink_to(
            JANUS_LIBS / "transports" / "libjanus_http.so"
        )
        conf = self.workdir / "conf"
        _config(conf, folders, self.veth_ns)
        log = open(self.workdir / "janus.log", "wb")  # noqa: SIM115 (the child holds it)
        try:
            # `ip netns exec` execs Janus in place: the child's pid is Janus's (its CPU is read
            # from /proc/<pid>/stat like our server's). Same niceness as our server (0).
            self.process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.netns,
                    str(JANUS_BIN),
                    "-C",
                    str(conf / "janus.jcfg"),
                    "-F",
                    str(conf),
                    "-o",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop Janus in order
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    async def wait_ready(self, seconds: float) -> dict[str, Any]:
        """Poll ``GET /janus/info`` until Janus answers (bounded)."""
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"janus exited; log: {self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(
                        self.url + "/info", timeout=aiohttp.ClientTimeout(total=2)
                    ) as response:
                        info: dict[str, Any] = await response.json(content_type=None)
                        if "janus.plugin.videoroom" in info.get("plugins", {}):
                            return info
                await asyncio.sleep(0.2)
        raise TimeoutError(f"janus not ready within {seconds:.0f} s; log: {self.log_tail()}")

    def log_tail(self, size: int = 1500) -> str:
        try:
            return (self.workdir / "janus.log").read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop Janus, delete the namespace and the veth pair (idempotent)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._netns_made:
            _ip("netns", "del", self.netns, check=False)
            self._netns_made = False
        # Deleting the namespace destroys its end of the pair and with it ours; make sure.
        _ip("link", "del", self.veth_host, check=False)
        if self in _running:
            _running.remove(self)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark dies, even by SIGKILL (prctl
    PR_SET_PDEATHSIG survives the exec of ``ip`` and of ``janus``, neither is set-uid)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def remove_stale() -> None:
    """Delete namespaces and veths a killed benchmark left behind (their pid is gone)."""
    listed = _ip("netns", "list", check=False).stdout.decode().split()
    for name in listed:
        tag = name[len("mrbench") :]
        if name.startswith("mrbench") and tag.isdigit() and not Path(f"/proc/{tag}").exists():
            _ip("netns", "del", name, check=False)
            _ip("link", "del", f"mrbj{tag}h", check=False)


def cleanup_all() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


# -- the Janus HTTP API ------------------------------------------------------------------------


class JanusError(RuntimeError):
    pass


class JanusSession:
    """One Janus session over the HTTP API: requests, plus a long-poll loop for async events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40))
        self.id: int | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poll_task: asyncio.Task[None] | None = None
        self.events: list[dict[str, Any]] = []
        """Events nobody waited for (webrtcup, media, hangup, ...), first few only."""

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": body.get("transaction") or secrets.token_hex(8)}
        async with self.http.post(self.url + path, data=json.dumps(body)) as response:
            reply: dict[str, Any] = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise JanusError(f"{body.get('janus')}: {reply.get('error')}")
        return reply

    async def create(self) -> None:
        reply = await self._post("", {"janus": "create"})
        self.id = int(reply["data"]["id"])
        self._poll_task = asyncio.ensure_future(self._poll())

    async def attach(self, plugin: str = "janus.plugin.videoroom") -> int:
        reply = await self._post(f"/{self.id}", {"janus": "attach", "plugin": plugin})
        return int(reply["data"]["id"])

    async def message(
        self,
        handle: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a plugin request; return its synchronous reply or, after an ack, its event."""
        transaction = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            reply = await self._post(f"/{self.id}/{handle}", request)
            if reply.get("janus") != "ack":
                return reply
            event = await asyncio.wait_for(future, EVENT_SECONDS)
        finally:
            self._waiting.pop(transaction, None)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{body.get('request')}: {data['error']}")
        return event

    async def trickle_done(self, handle: int) -> None:
        await self._post(
            f"/{self.id}/{handle}", {"janus": "trickle", "candidate": {"completed": True}}
        )

    async def _poll(self) -> None:
        """Long-poll for events (also what keeps a session alive) until cancelled."""
        while True:
            try:
                async with self.http.get(f"{self.url}/{self.id}?maxev=10") as response:
                    events = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                await asyncio.sleep(0.5)
                continue
            for event in events if isinstance(events, list) else [events]:
                future = self._waiting.get(event.get("transaction", ""))
                if future is not None and not future.done() and event.get("janus") == "event":
                    future.set_result(event)
                elif event.get("janus") not in ("keepalive", "ack") and len(self.events) < 20:
                    self.events.append(event)

    async def close(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(BaseException):
                await self._poll_task
        if self.id is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._post(f"/{self.id}", {"janus": "destroy"}), 5)
        await self.http.close()


# -- one participant ---------------------------------------------------------------------------


def _pc() -> RTCPeerConnection:
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


class JanusBenchClient(CheapTracks):
    """One participant in a VideoRoom: publishes the clip, subscribes to the others, counts.

    ``feed id`` = the participant's sender id (the number in its latency trailer)."""

    def __init__(
        self,
        url: str,
        room_id: str,
        janus_room: int,
        role: str,
        sender_id: int,
        chunks: list[VideoFrameChunks],
        audio_clip: AudioClip,
        sender_ids: dict[str, int],
    ) -> None:
        self.room_id = room_id
        self.janus_room = janus_room
        self.role = role
        self.name = f"{room_id}/{role}"
        self.sender_id = sender_id
        self.session = JanusSession(url)
        self.streamer = ClipStreamer(chunks, audio_clip, sender_id)
        self._owners = {v: k for k, v in sender_ids.items()}
        self.pub_pc: RTCPeerConnection | None = None
        self.sub_pc: RTCPeerConnection | None = None
        self.pub_peer: CheapPeer | None = None
        self.sub_peer: CheapPeer | None = None
        self._pub_handle = 0
        self._remote: list[tuple[str, str, int, RtpCount]] = []
        self.errors: list[Any] = []
        self.join_started: float | None = None
        self.joined_at: float | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        await self.session.create()
        self._pub_handle = await self.session.attach()

    async def create_room(self, publishers: int = 3) -> None:
        """The mediator makes the room (no recording, VP8 + Opus, no bitrate cap)."""
        await self.session.message(
            self._pub_handle,
            {
                "request": "create",
                "room": self.janus_room,
                "description": self.room_id,
                "publishers": publishers,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "bitrate": 0,
                "fir_freq": 0,
                "notify_joining": False,
                "permanent": False,
            },
        )

    async def join(self) -> None:
        """Join as a publisher and publish (the client offers, Janus answers)."""
        self.join_started = time.perf_counter()
        await self.session.message(
            self._pub_handle,
            {
                "request": "join",
                "ptype": "publisher",
                "room": self.janus_room,
                "id": self.sender_id,
                "display": self.role,
            },
        )
        pc = self.pub_pc = _pc()
        peer = self.pub_peer = CheapPeer(pc)
        audio = pc.addTransceiver(SilentTrack("audio"), direction="sendonly")
        video = pc.addTransceiver(SilentTrack("video"), direction="sendonly")
        for transceiver, kind, name in ((audio, "audio", "opus"), (video, "video", "VP8")):
            codecs = RTCRtpSender.getCapabilities(kind).codecs
            transceiver.setCodecPreferences([c for c in codecs if c.name.lower() == name.lower()])
        video.sender._send_keyframe = self.streamer.request_keyframe
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription
        event = await self.session.message(
            self._pub_handle,
            {"request": "publish", "audio": True, "video": True},
            jsep={"type": "offer", "sdp": offer.sdp},
        )
        answer = event.get("jsep")
        if not answer:
            raise JanusError(f"{self.name}: publish without an answer: {event}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        peer.hook_dtls()
        await self.session.trickle_done(self._pub_handle)
        pts = {s.mid: media_payload_type(s) for s in media_sections(answer["sdp"])}
        # Janus lets others subscribe to a feed only once its WebRTC is up: wait for DTLS.
        path = await peer.connected(CONNECT_SECONDS)
        self.streamer.start(path, (video.sender, pts[video.mid]), (audio.sender, pts[audio.mid]))
        self.joined_at = time.perf_counter()

    async def subscribe(self, feeds: list[int]) -> None:
        """Subscribe to the other publishers in one peer connection (Janus offers)."""
        handle = await self.session.attach()
        request = {
            "request": "join",
            "ptype": "subscriber",
            "room": self.janus_room,
            "streams": [{"feed": feed} for feed in feeds],
        }
        for attempt in range(40):  # a feed exists once Janus saw its DTLS finish: ≤ 10 s
            try:
                event = await self.session.message(handle, request)
                break
            except JanusError as exc:
                if "No such feed" not in str(exc) or attempt == 39:
                    raise
                await asyncio.sleep(0.25)
        offer = event.get("jsep")
        if not offer:
            raise JanusError(f"{self.name}: subscribe without an offer: {event}")
        streams = event["plugindata"]["data"].get("streams", [])
        feed_of_mid = {str(s["mid"]): int(s.get("feed_id", -1)) for s in streams}
        pc = self.sub_pc = _pc()
        peer = self.sub_peer = CheapPeer(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        for transceiver in pc.getTransceivers():
            transceiver.direction = "recvonly"
        await pc.setLocalDescription(await pc.createAnswer())
        peer.hook_dtls()
        for section in media_sections(offer["sdp"]):
            feed = feed_of_mid.get(section.mid or "", -1)
            if not section.ssrcs or feed < 0:
                continue
            owner = self._owners.get(feed, f"feed-{feed}")
            count = peer.expect(section.ssrcs[0], section.kind, feed)
            self._remote.append((owner, section.kind, feed, count))
        await self.session.message(
            handle, {"request": "start"}, jsep={"type": "answer", "sdp": pc.localDescription.sdp}
        )
        await self.session.trickle_done(handle)
        self._tasks.append(asyncio.ensure_future(self._watch(peer)))

    async def _watch(self, peer: CheapPeer) -> None:
        try:
            await peer.connected(CONNECT_SECONDS)
        except Exception as exc:
            self.errors.append(f"subscription not connected: {exc!r}")

    # -- what loadgen reads ---------------------------------------------------------------------

    def packets_received(self) -> int:
        return self.sub_peer.packets_received if self.sub_peer is not None else 0

    def extra_errors(self) -> list[str]:
        out = []
        for peer in (self.pub_peer, self.sub_peer):
            if peer is not None and peer.srtp_errors:
                out.append(f"{peer.srtp_errors} SRTP unprotect errors")
        if self.sub_peer is not None and self.sub_peer.unknown.packets:
            out.append(f"{self.sub_peer.unknown.packets} packets on unknown SSRCs")
        if self.streamer.send_errors:
            out.append(f"{self.streamer.send_errors} send errors")
        return out

    async def close(self) -> None:
        await self.streamer.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for peer in (self.pub_peer, self.sub_peer):
            if peer is not None:
                peer.close()
        for pc in (self.pub_pc, self.sub_pc):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pc.close(), 10)
        await self.session.close()
