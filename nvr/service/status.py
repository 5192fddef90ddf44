"""Read-only snapshots of the service's state, as the API and the pages show them.

Plain frozen dataclasses: built by the service from its parts, serialised by the web layer.
Nothing here holds a secret: camera URLs are never part of a status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class MotionHealth:
    """Motion detection on one camera. ``stream`` is what is decoded for it: the
    camera's ``sub`` stream (its reader's state in ``sub_state``), or the ``main`` one."""

    state: str = "off"  # off | idle | motion
    stream: str | None = None  # sub | main
    sub_state: str | None = None  # connecting | online | offline | auth_failed | ...
    sub_error: str | None = None
    fps: float | None = None  # frames analysed per second
    decode_errors: int = 0
    dropped: int = 0  # packets dropped or skipped because the detector fell behind
    events: int = 0  # ended since the service started
    last_event_at: datetime | None = None  # start of the latest event


@dataclass(frozen=True)
class CameraStatus:
    name: str
    state: str  # connecting | online | offline | auth_failed | unreachable | unsupported
    demo: bool = False
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    packets: int = 0
    last_packet_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    recording: str = "off"  # off | idle | recording | outage | paused | stopped
    segments: int = 0  # closed since the service started
    gaps: int = 0  # recording outages begun since the service started
    dropped: int = 0  # packets the recorder's queue dropped because it fell behind
    clock: str | None = None  # rtcp | arrival: what the recorder times footage by
    camera_clock_offset_s: float | None = None  # camera's RTCP clock minus arrival
    motion: MotionHealth = field(default_factory=MotionHealth)


@dataclass(frozen=True)
class ServiceStatus:
    version: str
    started_at: datetime
    uptime_seconds: float
    tls_fingerprint: str | None
    cameras: list[CameraStatus] = field(default_factory=list)
    keys: str = "unknown"  # ready | missing | invalid: <why>
    alarms: list[str] = field(default_factory=list)
