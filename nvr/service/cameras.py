"""The cameras the service reads: one ``StreamReader`` per configured stream, plus the
built-in demo doorbell when it runs. Start, stop, and status snapshots."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from nvr.capture import StreamReader
from nvr.clock import Clock
from nvr.config import Config
from nvr.demo.rtsp_server import DemoDoorbell
from nvr.service.status import CameraStatus

log = logging.getLogger(__name__)

DEMO_CAMERA = "demo-doorbell"


def camera_names(cfg: Config, demo: bool) -> list[str]:
    return [c.name for c in cfg.cameras] + ([DEMO_CAMERA] if demo else [])


class CameraSet:
    def __init__(self, cfg: Config, clock: Clock, *, demo: bool) -> None:
        self._cfg = cfg
        self._clock = clock
        self._demo_wanted = demo
        self._demo: DemoDoorbell | None = None
        self._readers: list[tuple[StreamReader, bool]] = []
        self._unsupported: list[CameraStatus] = []

    async def start(self) -> None:
        if self._demo_wanted:
            self._demo = DemoDoorbell()
            await self._demo.start()
            self._add(DEMO_CAMERA, self._demo.url, "tcp", is_demo=True)
            log.info("demo doorbell running", extra={"camera": DEMO_CAMERA})
        for cam in self._cfg.cameras:
            url = cam.stream_url("main")
            if url is None:
                # ONVIF-only cameras get their stream URIs from the device (capture issue).
                log.warning(
                    "camera has no RTSP URL; ONVIF lookup is not available yet",
                    extra={"camera": cam.name},
                )
                self._unsupported.append(
                    CameraStatus(
                        name=cam.name,
                        state="unsupported",
                        last_error="ONVIF-only camera: set main_url for now",
                    )
                )
                continue
            self._add(cam.name, url, cam.transport, is_demo=False)
        for reader, _ in self._readers:
            reader.start()

    def _add(self, name: str, url: str, transport: Literal["tcp", "udp"], *, is_demo: bool) -> None:
        self._readers.append(
            (StreamReader(name, url, transport=transport, clock=self._clock), is_demo)
        )

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r, _ in self._readers))
        if self._demo is not None:
            await self._demo.stop()

    def statuses(self) -> list[CameraStatus]:
        out = []
        for reader, is_demo in self._readers:
            h = reader.health()
            out.append(
                CameraStatus(
                    name=h.name,
                    state=h.state,
                    demo=is_demo,
                    codec=h.codec,
                    width=h.width,
                    height=h.height,
                    fps=None if h.fps is None else round(h.fps, 2),
                    bitrate_kbps=None if h.bitrate is None else round(h.bitrate / 1000, 1),
                    packets=h.packets,
                    last_packet_at=h.last_packet_at,
                    reconnects=h.reconnects,
                    last_error=h.last_error,
                )
            )
        return out + self._unsupported
