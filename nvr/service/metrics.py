"""Prometheus metrics: what the service already knows, exposed on a loopback listener.

Contract: ``build_registry(status, store, data_dir)`` returns a private
``CollectorRegistry`` (never prometheus-client's global one, so tests and several services
in one process do not clash) holding ``ServiceCollector`` and, on Linux, the process
collector (``process_cpu_seconds_total``, ``process_resident_memory_bytes``, open fds).
``metrics_app(registry)`` is the ASGI app the runner serves on ``metrics.listen`` when
``metrics.enabled`` is set (nvr/config/models.py ``MetricsConfig``, loopback only): it
answers ``GET /metrics`` with the text exposition format and 404 to anything else. With
metrics off (the default) nothing here is imported and nothing listens.

Nothing is measured here: every value is read at scrape time from what the parts already
count for the status page (``Service.status()``: reader health, recorder and motion
worker counters) and from ``SegmentStore.stats`` (nvr/storage/stats.py: write latency and
bytes, counted on the recorder thread without a lock), plus one ``statvfs`` of the data
directory. No metric carries a URL, a user name or a secret: the only label is the
camera's configured name (and ``consumer`` for queue drops).

``porchlight_disk_days_left`` is the free space above the reserve (nvr/storage/volume.py)
divided by the footage written per day, averaged since the service started; it is left
out until something was written. It is how long until retention has to start evicting,
not how much history is kept: with retention limits the disk never fills.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Generator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from nvr.service.status import ServiceStatus
from nvr.storage.segments import SegmentStore
from nvr.storage.stats import WRITE_BUCKETS
from nvr.storage.volume import volume_of

__all__ = ["ServiceCollector", "build_registry", "metrics_app"]

PREFIX = "porchlight"
SECONDS_PER_DAY = 86_400.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ServiceCollector(Collector):
    """Reads the service's counters at scrape time; see the module docstring."""

    def __init__(
        self,
        status: Callable[[], ServiceStatus],
        store: Callable[[], SegmentStore | None],
        data_dir: Path,
    ) -> None:
        self._status = status
        self._store = store
        self._data_dir = data_dir

    def collect(self) -> Iterator[Metric]:
        st = self._status()
        yield from self._service(st)
        yield from self._cameras(st)
        written = yield from self._writes()
        yield from self._disk(written, st.uptime_seconds)

    def _service(self, st: ServiceStatus) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            f"{PREFIX}_build_info", "Porchlight version (always 1)", labels=["version"]
        )
        info.add_metric([st.version], 1)
        yield info
        yield GaugeMetricFamily(
            f"{PREFIX}_uptime_seconds", "Seconds since the service started", st.uptime_seconds
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_keys_ready",
            "1 when owner keys exist and new footage can be encrypted",
            1 if st.keys == "ready" else 0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_storage_alarms", "Storage alarms raised (e.g. disk full)", len(st.alarms)
        )

    def _cameras(self, st: ServiceStatus) -> Iterator[Metric]:
        cam = ["camera"]
        up = GaugeMetricFamily(f"{PREFIX}_camera_up", "1 when the stream is online", labels=cam)
        fps = GaugeMetricFamily(
            f"{PREFIX}_camera_fps", "Video frames per second received", labels=cam
        )
        bitrate = GaugeMetricFamily(
            f"{PREFIX}_camera_bitrate_bits_per_second", "Stream bit rate received", labels=cam
        )
        packets = CounterMetricFamily(
            f"{PREFIX}_camera_packets", "Packets received since the service started", labels=cam
        )
        reconnects = CounterMetricFamily(
            f"{PREFIX}_camera_reconnects", "Connection attempts after the first", labels=cam
        )
        gaps = CounterMetricFamily(
            f"{PREFIX}_camera_gaps",
            "Recording outages begun (reconnect, silence, disk)",
            labels=cam,
        )
        segments = CounterMetricFamily(
            f"{PREFIX}_camera_segments", "Footage segments closed", labels=cam
        )
        drops = CounterMetricFamily(
            f"{PREFIX}_camera_queue_drops",
            "Packets dropped because a consumer fell behind",
            labels=["camera", "consumer"],
        )
        motion_events = CounterMetricFamily(
            f"{PREFIX}_camera_motion_events", "Motion events ended", labels=cam
        )
        motion_fps = GaugeMetricFamily(
            f"{PREFIX}_camera_motion_fps", "Frames analysed for motion per second", labels=cam
        )
        for c in st.cameras:
            name = [c.name]
            up.add_metric(name, 1 if c.state == "online" else 0)
            if c.fps is not None:
                fps.add_metric(name, c.fps)
            if c.bitrate_kbps is not None:
                bitrate.add_metric(name, c.bitrate_kbps * 1000)
            packets.add_metric(name, c.packets)
            reconnects.add_metric(name, c.reconnects)
            gaps.add_metric(name, c.gaps)
            segments.add_metric(name, c.segments)
            drops.add_metric([c.name, "recorder"], c.dropped)
            if c.motion.state != "off":
                drops.add_metric([c.name, "motion"], c.motion.dropped)
                motion_events.add_metric(name, c.motion.events)
                if c.motion.fps is not None:
                    motion_fps.add_metric(name, c.motion.fps)
        yield from (up, fps, bitrate, packets, reconnects, gaps, segments, drops)
        yield from (motion_events, motion_fps)

    def _writes(self) -> Generator[Metric, None, int]:  # returns bytes written, all cameras
        latency = HistogramMetricFamily(
            f"{PREFIX}_segment_write_seconds",
            "Time one footage write (or segment close, with its fsync) took",
            labels=["camera"],
        )
        written = CounterMetricFamily(
            f"{PREFIX}_segment_written_bytes",
            "Footage bytes written to segments",
            labels=["camera"],
        )
        store = self._store()
        stats = store.all_stats() if store is not None else {}
        total = 0
        for camera, s in sorted(stats.items()):
            snap = s.snapshot()
            bounds = [*(repr(b) for b in WRITE_BUCKETS), "+Inf"]
            latency.add_metric(
                [camera], list(zip(bounds, snap.buckets, strict=True)), snap.sum_seconds
            )
            written.add_metric([camera], snap.bytes_written)
            total += snap.bytes_written
        yield latency
        yield written
        return total

    def _disk(self, written: int, uptime: float) -> Iterator[Metric]:
        try:
            vol = volume_of(self._data_dir)
        except OSError:
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_disk_size_bytes", "Size of the data directory's filesystem", vol.total
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_disk_free_bytes", "Free bytes on it (for this user)", vol.free
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_disk_used_bytes", "Used bytes on it", max(0, vol.total - vol.free)
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_disk_reserve_bytes", "Bytes kept free of footage", vol.reserve
        )
        if written > 0 and uptime > 0:
            per_day = written / uptime * SECONDS_PER_DAY
            yield GaugeMetricFamily(
                f"{PREFIX}_disk_days_left",
                "Days until the free space above the reserve is full, at the write rate "
                "since the service started",
                max(0, vol.free - vol.reserve) / per_day,
            )


def build_registry(
    status: Callable[[], ServiceStatus],
    store: Callable[[], SegmentStore | None],
    data_dir: Path,
) -> CollectorRegistry:
    """A private registry with the service's metrics and the process's CPU and memory."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ServiceCollector(status, store, data_dir))
    if sys.platform == "linux":
        ProcessCollector(registry=registry)
    return registry


def metrics_app(registry: CollectorRegistry) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """``GET /metrics`` in the text format; 404 elsewhere, 405 for other methods."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope.get("path") != "/metrics":
            status, body, ctype = 404, b"not found\n", "text/plain; charset=utf-8"
        elif scope.get("method") not in ("GET", "HEAD"):
            status, body, ctype = 405, b"method not allowed\n", "text/plain; charset=utf-8"
        else:
            status, ctype = 200, CONTENT_TYPE_LATEST
            body = await asyncio.to_thread(generate_latest, registry)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
        )

    return app
