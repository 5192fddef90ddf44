"""One camera's packets for live viewers: converted once, fanned out, the latest GOP kept.

Contract::

    feed = CameraFeed("porch", reader)     # on the event loop
    feed.start()                           # subscribes to the reader (bounded, see fanout)
    viewer = feed.add_viewer()             # a bounded queue primed with the current GOP
    frame = await viewer.get()             # LiveFrame; ViewerClosed once it ends
    feed.remove_viewer(viewer); feed.latest_gop(); await feed.stop()

The pump runs on the event loop and never blocks: the reader's subscription already drops
for a slow pump (``nvr.capture.fanout``), and a viewer's full queue drops *its own* frames
(all it holds, and everything up to the next keyframe), so one slow viewer never slows the
recorder, the motion worker or another viewer. H.264 access units are made Annex B with
SPS/PPS in front of each keyframe (``nvr.live.h264``) once, here, and shared (the same
``bytes``) by every viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from nvr.capture import CapturedPacket, StreamInfo, StreamReader, Subscription, SubscriptionClosed
from nvr.live.h264 import BitstreamError, parameter_sets, to_annexb, with_parameter_sets

log = logging.getLogger(__name__)

FEED_QUEUE = 64  # packets between the reader thread and the pump (a few frames behind)
GOP_CACHE = 150  # frames kept from the latest keyframe on (15 s at 10 fps, 5 s at 30 fps)
VIEWER_QUEUE = GOP_CACHE + 100  # the primed GOP plus what arrives while ICE/DTLS connect


class ViewerClosed(Exception):
    """The viewer's queue was closed (it left, or the camera's feed stopped)."""


@dataclass(frozen=True)
class LiveFrame:
    """One access unit, ready for a viewer (or the snapshot decoder)."""

    data: bytes  # H.264: Annex B, SPS/PPS in front of keyframes; other codecs as received
    keyframe: bool
    seconds: float  # presentation time on the camera's clock (s); for spacing only
    info: StreamInfo  # the reader connection it came from (``info.session``)


class Viewer:
    """A bounded queue of frames for one viewer; starts at a keyframe. On overflow it
    empties (for live video, frames that old are worth nothing) and takes nothing up to
    the next keyframe, so what it gets always decodes and is as recent as possible."""

    def __init__(self, maxsize: int = VIEWER_QUEUE) -> None:
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[LiveFrame] = deque()
        self._ready = asyncio.Event()
        self._resync = True
        self._closed = False

    def qsize(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, frame: LiveFrame) -> bool:
        if self._closed:
            return False
        if self._resync and not frame.keyframe:
            self.dropped += 1
            return False
        if len(self._items) >= self.maxsize:
            self.dropped += len(self._items) + 1
            self._items.clear()
            self._resync = True
            return False
        self._resync = False
        self._items.append(frame)
        self._ready.set()
        return True

    async def get(self) -> LiveFrame:
        while not self._items:
            if self._closed:
                raise ViewerClosed
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def close(self) -> None:
        self._closed = True
        self._items.clear()
        self._ready.set()


class CameraFeed:
    """See the module docstring."""

    def __init__(self, name: str, reader: StreamReader) -> None:
        self.name = name
        self.reader = reader
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._viewers: list[Viewer] = []
        self._gop: list[LiveFrame] = []
        self._sets: tuple[int, bytes, int] | None = None  # (session, Annex B SPS/PPS, NAL size)
        self._bad_session = 0  # a session whose bitstream was refused (logged once)
        self.new_keyframe = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._sub = self.reader.subscribe(FEED_QUEUE, loop=asyncio.get_running_loop())
        self._task = asyncio.create_task(self._pump(self._sub), name=f"live-{self.name}")

    async def stop(self) -> None:
        if self._sub is not None:
            self.reader.unsubscribe(self._sub)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for viewer in self._viewers:
            viewer.close()
        self._viewers.clear()

    def add_viewer(self, maxsize: int = VIEWER_QUEUE) -> Viewer:
        """A new viewer primed with the current GOP (so its first picture needs no wait for
        the camera's next keyframe); ``nvr.live.track`` plays the backlog out at once."""
        viewer = Viewer(maxsize)
        for frame in self._gop:
            viewer.put(frame)
        self._viewers.append(viewer)
        return viewer

    def remove_viewer(self, viewer: Viewer) -> None:
        viewer.close()
        with contextlib.suppress(ValueError):
            self._viewers.remove(viewer)

    def latest_gop(self) -> list[LiveFrame]:
        """The frames from the latest keyframe to now ([] before the first keyframe)."""
        return list(self._gop)

    async def _pump(self, sub: Subscription) -> None:
        try:
            while True:
                try:
                    captured = await sub.aget()
                except SubscriptionClosed:
                    return
                if captured.kind != "video":
                    continue
                frame = self._convert(captured)
                if frame is None:
                    continue
                if frame.keyframe:
                    self._gop = [frame]
                    self.new_keyframe.set()
                    self.new_keyframe = asyncio.Event()
                elif self._gop:
                    if frame.info.session != self._gop[0].info.session:
                        self._gop = []  # a reconnect: wait for the new session's keyframe
                    elif len(self._gop) >= GOP_CACHE:
                        self._gop = []  # a GOP too long to keep: new viewers wait for one
                    else:
                        self._gop.append(frame)
                for viewer in self._viewers:
                    viewer.put(frame)
        finally:
            for viewer in self._viewers:
                viewer.close()

    def _convert(self, captured: CapturedPacket) -> LiveFrame | None:
        info = captured.info
        packet = captured.packet
        data = bytes(packet)
        if info.codec == "h264":
            try:
                if self._sets is None or self._sets[0] != info.session:
                    sets, size = parameter_sets(info.extradata)
                    self._sets = (info.session, sets, size)
                _, sets, size = self._sets
                data = to_annexb(data, size)
                if captured.keyframe:
                    data = with_parameter_sets(data, sets)
            except BitstreamError as exc:
                if self._bad_session != info.session:
                    self._bad_session = info.session
                    log.warning("live %s: unusable H.264 bitstream: %s", self.name, exc)
                return None
        if packet.pts is not None and packet.time_base is not None:
            seconds = float(packet.pts * packet.time_base)
        else:
            seconds = captured.received_mono
        return LiveFrame(data, captured.keyframe, seconds, info)
