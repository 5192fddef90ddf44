"""Event and footage web tests: a real box (``tests.support.accounts.open_site``) with
sealed events, the app the service builds around it, and sessions per role.

``EventsKit(site)``: ``add(camera, kind, start, end=None, jpeg=...)`` seals an event with
the box's ``EventStore`` (a real JPEG when ``jpeg`` is given); ``app(streams=None)`` is
``create_app`` with the service's ``EventsSource`` over the box; ``login(role)`` makes a
session (the owner's unlocked) and returns its headers (cookie and CSRF token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import cv2
import numpy as np
from fastapi import FastAPI

from nvr.auth.policy import Role
from nvr.auth.sessions import CSRF_HEADER, Issued, Principal
from nvr.record.gaps import gaps
from nvr.service.status import ServiceStatus
from nvr.storage.sealed import EventStore
from nvr.web.app import create_app
from nvr.web.events import EventsSource, EventStreams, known_cameras
from nvr.web.setup import SetupFlow
from tests.support.accounts import PASSPHRASE, Site, cookie

NAMES = {Role.OWNER: "alex", Role.VIEWER: "sam", Role.INSTALLER: "ines"}


def jpeg(seed: int, width: int = 64, height: int = 48) -> bytes:
    """A real JPEG, different for every seed."""
    picture = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", picture)
    assert ok
    return bytes(data.tobytes())


def no_status() -> ServiceStatus:
    raise AssertionError("not asked in these tests")


@dataclass
class Login:
    issued: Issued
    unlock_token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {**cookie(self.issued.token), CSRF_HEADER: self.issued.session.csrf_token}


@dataclass
class EventsKit:
    site: Site
    store: EventStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = self.site.box.event_store()

    def add(
        self,
        camera: str,
        kind: str,
        start: datetime,
        end: datetime | None = None,
        picture: bytes | None = None,
        **extra: Any,
    ) -> int:
        details: dict[str, Any] = {"type": kind, "start": start, **extra}
        if end is not None:
            details["end"] = end
        return self.store.add(camera, details, picture)

    def source(self, streams: EventStreams | None = None) -> EventsSource:
        sessions = self.site.box.sessions
        return EventsSource(
            store=lambda: self.store,
            gaps=lambda camera: gaps(sessions, camera),
            cameras=lambda: known_cameras(sessions),
            streams=streams,
        )

    def app(self, streams: EventStreams | None = None) -> FastAPI:
        return create_app(
            status=no_status,
            accounts=self.site.accounts,
            segments=self.site.box.segment_store,
            record=self.site.box.record,
            events=self.source(streams),
            # The pages' app.js asks whether a recovery key waits for confirmation.
            setup=SetupFlow(self.site.box, None, work_factor=15),
        )

    def login(self, role: Role) -> Login:
        name = NAMES[role]
        principal = Principal(self.site.ids[name], name, role)
        unlock = self.site.unlocks.unlock(PASSPHRASE.encode()) if role is Role.OWNER else None
        return Login(self.site.accounts.sessions.login(principal, unlock_token=unlock), unlock)

    def audit(self, kind: str) -> list[tuple[dict[str, Any], str | None]]:
        return [(payload, user) for k, payload, user in self.site.audit() if k == kind]
