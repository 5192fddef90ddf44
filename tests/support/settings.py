"""The settings routes over a test ``Site`` (tests/support/accounts.py): ``Settings`` with
scrypt work factor 2^15 and a config file of the test's own, and a LAN client for the
service's own app with them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from nvr.auth.policy import Role
from nvr.auth.sessions import CSRF_HEADER, Principal
from nvr.config.models import StorageConfig
from nvr.service.settings import RetentionEditor
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.settings import Settings
from tests.support.accounts import BASE, LAN, PASSPHRASE, Site, cookie

CONFIG_TEXT = """\
# The installer's config.
storage:
  retention:
    continuous_days: 14  # two weeks of everything
    event_days: 30
cameras: []
"""


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


def settings_for(
    site: Site, config: Path | None, applied: list[StorageConfig] | None = None
) -> Settings:
    """``Settings`` over the site's box; retention changes go to ``config`` and, when
    ``applied`` is given, are appended to it (the service swaps its retainer's settings)."""
    apply = applied.append if applied is not None else None
    return Settings(
        db=site.box.sessions,
        keys=site.box.keys,
        audit=site.box.audit,
        record=site.box.record,
        clock=site.clock,
        retention=RetentionEditor(config, site.box.cfg.storage, apply=apply),
        work_factor=15,
    )


def client(site: Site, settings: Settings) -> httpx.AsyncClient:
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        settings=settings,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=LAN), base_url=BASE)


def as_(site: Site, name: str) -> dict[str, str]:
    """Headers of a fresh session for ``name`` (alex, sam or ines): cookie and CSRF token;
    the owner's session is unlocked."""
    role = {"alex": Role.OWNER, "sam": Role.VIEWER, "ines": Role.INSTALLER}.get(name, Role.VIEWER)
    unlock = site.unlocks.unlock(PASSPHRASE.encode()) if role is Role.OWNER else None
    issued = site.accounts.sessions.login(
        Principal(site.ids[name], name, role), unlock_token=unlock
    )
    return {**cookie(issued.token), CSRF_HEADER: issued.session.csrf_token}
