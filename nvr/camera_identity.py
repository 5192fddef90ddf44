"""What each camera said it is, kept in the audit log: ``camera.device`` entries.

Contract:

- ``DeviceIdentity(manufacturer, model, firmware, serial, source)``: what a camera
  reported (``source`` ``"onvif"``: GetDeviceInformation; ``"demo"``: the built-in demo
  doorbell, which says honestly that it is Porchlight's synthetic scene).
- ``remember(sessions, record, camera, identity, salt) -> int | None`` writes a
  ``camera.device`` audit entry {camera, manufacturer, model, firmware, serial_sha256,
  source} when the camera is first seen or any of those fields differs from its latest
  entry (across restarts: it reads the log), and returns its seq; None when nothing
  changed. The serial number is never stored: ``serial_sha256`` is SHA-256 over
  ``"porchlight camera serial v1\\n" ‖ salt ‖ "\\n" ‖ serial`` with the box's device id as
  ``salt`` (None when the camera gave no serial). It lets someone holding the camera
  confirm it is the one, and shows a swap for an identical model as a change, without
  putting an identifier that may be tied to a purchase into every bundle. It is a
  commitment, not a secret: a short serial can be found by trying them all.
- ``identity_at(sessions, camera, at) -> (seq, payload) | None``: the latest entry for
  ``camera`` at or before ``at``, else the latest one at all, else None.
- ``manifest_camera(sessions, camera, at, kind)``: the export manifest's ``camera``
  object (docs/design/consent-and-export.md "Camera identity in the manifest"): what the
  entry says with ``reported: true`` and its ``audit_seq``, or ``reported: false`` and
  ``why`` (from ``kind``, which ``kind_of(cfg, camera)`` reads from the config).

Tamper-evident without a schema change: entries are leaves of the Merkle log, so an
identity cannot be rewritten after the fact without ``nvr audit verify`` noticing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.config import Config
from nvr.db.models import AuditEntry

KIND = "camera.device"
FIELDS = ("manufacturer", "model", "firmware", "serial_sha256", "source")
CameraKind = Literal["onvif", "rtsp", "demo", "unknown"]
Record = Callable[[str, dict[str, Any], Actor], int]
SYSTEM = Actor(role="system", user=None)


@dataclass(frozen=True)
class DeviceIdentity:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    source: Literal["onvif", "demo"]


def serial_hash(serial: str, salt: str) -> str | None:
    if not serial.strip():
        return None
    text = f"porchlight camera serial v1\n{salt}\n{serial.strip()}"
    return hashlib.sha256(text.encode()).hexdigest()


def payload(camera: str, identity: DeviceIdentity, salt: str) -> dict[str, Any]:
    return {
        "camera": camera,
        "manufacturer": identity.manufacturer,
        "model": identity.model,
        "firmware": identity.firmware,
        "serial_sha256": serial_hash(identity.serial, salt),
        "source": identity.source,
    }


def _entries(
    sessions: sessionmaker[Session], camera: str
) -> list[tuple[int, datetime, dict[str, Any]]]:
    """Every ``camera.device`` entry of ``camera``: (seq, time, payload), oldest first."""
    with sessions() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.time, AuditEntry.entry_json)
            .where(AuditEntry.kind == KIND)
            .order_by(AuditEntry.seq)
        ).all()
    out = []
    for seq, time, text in rows:
        body = json.loads(text)["payload"]
        if body.get("camera") == camera:
            out.append((int(seq), time, body))
    return out


def remember(
    sessions: sessionmaker[Session],
    record: Record,
    camera: str,
    identity: DeviceIdentity,
    salt: str,
    actor: Actor = SYSTEM,
) -> int | None:
    """Log ``identity`` for ``camera`` if it is new or changed; the new entry's seq."""
    new = payload(camera, identity, salt)
    entries = _entries(sessions, camera)
    if entries and all(entries[-1][2].get(k) == new[k] for k in FIELDS):
        return None
    return record(KIND, new, actor)


def identity_at(
    sessions: sessionmaker[Session], camera: str, at: datetime
) -> tuple[int, dict[str, Any]] | None:
    """The latest entry for ``camera`` at or before ``at``, else the latest, else None."""
    entries = _entries(sessions, camera)
    if not entries:
        return None
    before = [e for e in entries if e[1] <= at]
    seq, _, body = (before or entries)[-1]
    return seq, body


WHY = {
    "rtsp": "RTSP-only camera (no ONVIF device information to ask for)",
    "onvif": "the ONVIF camera has not reported its device information yet",
    "demo": "the demo doorbell has not started yet",
    "unknown": "no device information was recorded for this camera",
}


def kind_of(cfg: Config, camera: str, demo_camera: str = "demo-doorbell") -> CameraKind:
    """What sort of camera ``camera`` is in ``cfg`` (for the manifest's "why")."""
    for cam in cfg.cameras:
        if cam.name == camera:
            return "onvif" if cam.onvif is not None else "rtsp"
    return "demo" if camera == demo_camera else "unknown"


def manifest_camera(
    sessions: sessionmaker[Session], camera: str, at: datetime, kind: CameraKind
) -> dict[str, Any]:
    """The manifest's ``camera``: name plus what the camera reported, or why nothing."""
    found = identity_at(sessions, camera, at)
    if found is None:
        return {
            "name": camera,
            "reported": False,
            "why": WHY[kind],
            "make": None,
            "model": None,
            "firmware": None,
        }
    seq, body = found
    return {
        "name": camera,
        "reported": True,
        "source": body.get("source"),
        "make": body.get("manufacturer"),
        "model": body.get("model"),
        "firmware": body.get("firmware"),
        "serial_sha256": body.get("serial_sha256"),
        "audit_seq": seq,
    }
