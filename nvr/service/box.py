"""The box's persistent parts, opened together: database, key folder, audit log.

``open_box(cfg, clock)`` migrates the database, and builds the ``KeyStore``, the
``AuditLog`` (signed with the device key, which it creates on first use) and the session
factory. The service runner and every CLI command that touches a data directory use it,
so both see the same box the same way. ``Box.close()`` disposes of the engine.

``Box.record(kind, payload, actor)`` is the one call components use to write the audit log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.audit.log import AuditLog
from nvr.auth import users
from nvr.auth.policy import Role
from nvr.clock import Clock
from nvr.config import Config
from nvr.crypto import X25519Identity
from nvr.db import make_engine, session_factory, upgrade
from nvr.keys.passphrase import calibrate_log_n, check_strength
from nvr.keys.store import KeyStore
from nvr.storage.enforce import Retainer, RetentionSettings
from nvr.storage.retention import Retention
from nvr.storage.sealed import EventStore
from nvr.storage.segments import SegmentStore
from nvr.storage.volume import volume_of

SYSTEM = Actor(role="system", user=None)
CLI_OWNER = Actor(role="owner", user="cli")
CLI_INSTALLER = Actor(role="installer", user="cli")


def device_id(public_raw: bytes) -> str:
    """A short, stable name for this box: the first 8 bytes of SHA-256(device public key)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass
class Box:
    cfg: Config
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    keys: KeyStore
    audit: AuditLog
    device_id: str

    @property
    def origin(self) -> str:
        return f"porchlight/{self.device_id}"

    def record(self, kind: str, payload: dict[str, Any], actor: Actor = SYSTEM) -> int:
        return self.audit.append(kind, payload, actor)

    def segment_store(self) -> SegmentStore:
        storage = self.cfg.storage
        return SegmentStore(
            storage.data_dir,
            self.sessions,
            self.keys.recipients,
            self.clock,
            fsync_interval=storage.fsync_interval_seconds,
            audit=self.record,
        )

    def event_store(self) -> EventStore:
        return EventStore(
            self.cfg.storage.data_dir,
            self.sessions,
            self.keys.recipients,
            self.clock,
            audit=self.record,
        )

    def retainer(self, store: SegmentStore) -> Retainer:
        storage = self.cfg.storage
        total = volume_of(storage.data_dir).total
        per_camera = {
            cam.name: Retention(cam.retention.continuous_days, cam.retention.event_days)
            for cam in self.cfg.cameras
            if cam.retention is not None
        }
        settings = RetentionSettings(
            default=Retention(storage.retention.continuous_days, storage.retention.event_days),
            per_camera=per_camera,
            quota_bytes=storage.quota_bytes(total),
        )
        return Retainer(store, settings)

    def create_owner_keys(
        self, passphrase: bytes, work_factor: int | None, actor: Actor, owner: str = "owner"
    ) -> tuple[X25519Identity, int]:
        """``keys init`` as every entry point does it: strength check, work factor
        (calibrated unless given), keys, the owner's account ``owner`` (who signs in with
        this passphrase; kept if one exists), audit entry. Returns the recovery identity
        (show it once) and the work factor used."""
        name = users.normalize_name(owner)
        check_strength(passphrase, [name])
        log_n = work_factor if work_factor is not None else calibrate_log_n()
        now = self.clock.wall()
        recovery = self.keys.init(passphrase, log_n=log_n, now=now)
        with self.sessions.begin() as session:
            if not users.owner_exists(session):
                users.create_owner(session, name, now)
            name = next(u.name for u in users.list_users(session) if u.role is Role.OWNER)
        listed = self.keys.recipient_list()
        self.record(
            "keys.init",
            {
                "recipients": {k: str(v) for k, v in listed.items()},
                "work_factor": log_n,
                "owner": name,
            },
            actor,
        )
        return recovery, log_n

    def close(self) -> None:
        self.engine.dispose()


def open_box(cfg: Config, clock: Clock) -> Box:
    data_dir = cfg.storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = cfg.database_url()
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    keys = KeyStore(data_dir)
    device = keys.device_key()
    raw = device.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    ident = device_id(raw)
    audit = AuditLog(sessions, device, f"porchlight/{ident}", clock)
    return Box(cfg, clock, engine, sessions, keys, audit, ident)
