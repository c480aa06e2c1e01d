"""The live rooms of this process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from rooms.directory import DirectoryUnavailable, RoomDirectory
from rooms.errors import RoomElsewhere, RoomError, RoomNotFound
from rooms.room import Room, RoomInfo, RoomListener, RoomRecord
from rooms.sfu import MediaConfig


class NodeDraining(RoomError):
    """This node is draining: it finishes its live rooms and opens no other."""

    code = "node_draining"


RoomLoader = Callable[[str], Awaitable[tuple[RoomInfo, RoomRecord] | None]]
"""Finds a room that is not live in this process yet (an open sitting in the case record)."""


class RoomRegistry:
    """Creates, finds and closes the rooms this process holds."""

    def __init__(
        self,
        media: MediaConfig,
        loader: RoomLoader | None = None,
        recordings_dir: Path | None = None,
    ) -> None:
        self.media = media
        self.recordings_dir = recordings_dir
        """Where the rooms record (``None``: they can't)."""
        self._rooms: dict[str, Room] = {}
        self._listener: RoomListener | None = None
        self._loader = loader
        self.directory: RoomDirectory | None = None
        """With several nodes: where rooms are placed (``None``: this node is the only one)."""
        self.draining = False
        """Set for a rolling upgrade or at shutdown: live rooms go on, no other room opens."""

    def set_listener(self, listener: RoomListener) -> None:
        """Where rooms report their events (the signaling layer)."""
        self._listener = listener

    def create_room(self, info: RoomInfo, record: RoomRecord | None = None) -> Room:
        if self._listener is None:
            raise RuntimeError("set_listener() must be called before rooms are created")
        if info.room_id in self._rooms:
            raise ValueError(f"room {info.room_id!r} exists already")
        if self.draining:
            raise NodeDraining("this server is about to stop; join again in a moment")
        room = Room(info, self.media, self._listener, record, self.recordings_dir)
        self._rooms[info.room_id] = room
        return room

    async def place(self, room_id: str) -> None:
        """Make sure this node may open ``room_id``: with several nodes, claim it in the
        directory, or raise :class:`RoomElsewhere` naming the node that holds it."""
        if self.directory is None:
            return
        try:
            holder = await self.directory.claim(room_id)
        except DirectoryUnavailable as exc:
            raise RoomElsewhere(
                "the room directory (Redis) is unreachable just now; try again in a moment"
            ) from exc
        if holder != self.directory.me:
            raise RoomElsewhere("this room is held by another server; connecting there", holder.url)

    def get_room(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            raise RoomNotFound(f"no room {room_id!r} on this server")
        return room

    async def find_room(self, room_id: str) -> Room:
        """The live room, or the one the loader opens (after a restart, say)."""
        room = self._rooms.get(room_id)
        if room is None and self.draining:
            raise NodeDraining("this server is about to stop; join again in a moment")
        if room is None and self._loader is not None:
            found = await self._loader(room_id)
            if found is not None and room_id not in self._rooms:
                await self.place(room_id)
            room = self._rooms.get(room_id)  # another task may have opened it meanwhile
            if room is None and found is not None:
                room = self.create_room(*found)
        if room is None:
            raise RoomNotFound(f"no room {room_id!r} on this server")
        async with room.lock:
            await room.restore()
        return room

    def has_room(self, room_id: str) -> bool:
        return room_id in self._rooms

    def rooms(self) -> list[Room]:
        return list(self._rooms.values())

    async def close_room(self, room_id: str) -> None:
        """End a room's sitting for good and forget the room."""
        room = self._rooms.pop(room_id, None)
        if room is not None:
            async with room.lock:
                await room.close(ended=True)
        if self.directory is not None:
            await self.directory.release(room_id)

    async def drop_room(self, room_id: str) -> None:
        """Another node took this room over (this one stalled): close the copy here without
        ending the sitting; its participants reconnect to the other node."""
        room = self._rooms.pop(room_id, None)
        if room is not None:
            async with room.lock:
                await room.close(ended=False)

    async def close_all(self) -> None:
        """The server is stopping: close every room; their sittings go on after a restart."""
        for room in list(self._rooms.values()):
            async with room.lock:
                await room.close(ended=False)
        self._rooms.clear()
