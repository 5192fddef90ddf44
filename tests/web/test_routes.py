"""Every route the app has x (anonymous, viewer, installer, owner), against the table.

The app is the service's own (``create_app`` with ``build_accounts`` over a real box), the
client on the LAN. ``MATRIX`` lists what each caller gets; a route missing from it fails
``test_the_matrix_covers_every_route``, so a new route cannot arrive unguarded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from nvr.audit.entry import Actor
from nvr.auth.policy import Role
from nvr.auth.sessions import CSRF_HEADER, Principal
from nvr.events import EventBus
from nvr.live import LiveService
from nvr.service.camera_admin import CameraAdmin
from nvr.service.cameras import CameraSet
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.events import EventsSource, EventStreams
from nvr.web.settings import Settings
from nvr.web.setup import SetupFlow
from tests.support.accounts import BASE, LAN, PASSPHRASE, Site, cookie, open_site
from tests.support.events import EventsKit, jpeg
from tests.support.settings import CONFIG_TEXT, settings_for
from tests.support.sharing import sharing_for

CLIP = "/api/v1/cameras/porch/clip?start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:05Z"
WHEP, WHEP_T = "/api/v1/cameras/porch/whep", "/api/v1/cameras/{camera}/whep"
PUBLIC = {("GET", "/healthz"), ("POST", "/api/v1/session"), ("GET", "/signin")}

ALL_OWNER = (401, 403, 403, 200)
OWNER_201 = (401, 403, 403, 201)
NEW_USER = {"name": "newbie", "role": "viewer", "password": "Orchard-Kettle-71-umbrella"}
NEW_MEMBER = {
    "name": "kim",
    "owner_passphrase": PASSPHRASE,
    "member_passphrase": "Harbour-Violet-26-pebble",
}
CAMS = {"cameras": ["porch"]}
SAME_PHRASE = {"old": PASSPHRASE, "new": PASSPHRASE}
TOTP_OFF = {"passphrase": PASSPHRASE, "code": "123456"}
RETENTION = {"continuous_days": 14, "event_days": 30, "quota": None}
REQUEST = {"organisation": "Metro Police", "basis": "voluntary"}
FULFIL = {"to": "fulfilled", "reason": "sent"}
OWNER_409 = (401, 403, 403, 409)
OWNER_404 = (401, 403, 403, 404)
SHARE = "/share?camera=porch&start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:05Z&request=1"

# (method, path, route template, body): status for anonymous, viewer, installer, owner.
MATRIX: list[tuple[str, str, str, dict[str, Any] | None, tuple[int, int, int, int]]] = [
    ("GET", "/api/v1/health", "/api/v1/health", None, (401, 403, 200, 200)),
    # 303: to the sign-in page; the viewer, who may not see Status, to its first page
    ("GET", "/", "/", None, (303, 303, 200, 200)),
    ("GET", "/account", "/account", None, (303, 200, 200, 200)),
    ("GET", "/api/v1/session", "/api/v1/session", None, (401, 200, 200, 200)),
    ("DELETE", "/api/v1/session", "/api/v1/session", None, (401, 204, 204, 204)),
    (
        "POST",
        "/api/v1/session/logout-everywhere",
        "/api/v1/session/logout-everywhere",
        None,
        (401, 200, 200, 200),
    ),
    ("POST", "/api/v1/unlock", "/api/v1/unlock", {"passphrase": PASSPHRASE}, (401, 403, 403, 200)),
    ("POST", "/api/v1/lock", "/api/v1/lock", None, (401, 204, 204, 204)),
    # The viewer may see camera porch but holds no key to open footage; the installer has
    # no install window; the owner passes and there is no footage in that minute.
    ("GET", CLIP, "/api/v1/cameras/{camera}/clip", None, (401, 403, 403, 404)),
    # Events: event 1 is a doorbell press on porch with a thumbnail. Listing and opening
    # need the key the viewer does not hold; the live stream (closed here, so it answers
    # at once) and the timeline do not.
    ("GET", "/api/v1/events", "/api/v1/events", None, (401, 403, 403, 200)),
    ("GET", "/api/v1/events/1", "/api/v1/events/{event_id}", None, (401, 403, 403, 200)),
    (
        "GET",
        "/api/v1/events/1/thumbnail.jpg",
        "/api/v1/events/{event_id}/thumbnail.jpg",
        None,
        (401, 403, 403, 200),
    ),
    ("GET", "/api/v1/events/stream", "/api/v1/events/stream", None, (401, 200, 403, 200)),
    (
        "GET",
        "/api/v1/cameras/porch/timeline?day=2026-01-01",
        "/api/v1/cameras/{camera}/timeline",
        None,
        (401, 200, 403, 200),
    ),
    ("GET", "/events", "/events", None, (303, 200, 403, 200)),
    ("GET", "/timeline", "/timeline", None, (303, 200, 403, 200)),
    # First run (nvr.web.setup): public but guarded by the LAN check and the one-time
    # setup code while no owner exists; once one does (as here) every caller gets 409.
    ("GET", "/setup", "/setup", None, (409, 409, 409, 409)),
    ("POST", "/api/v1/setup/check", "/api/v1/setup/check", None, (409, 409, 409, 409)),
    (
        "POST",
        "/api/v1/setup/strength",
        "/api/v1/setup/strength",
        {"passphrase": "x"},
        (409, 409, 409, 409),
    ),
    ("POST", "/api/v1/setup/owner", "/api/v1/setup/owner", None, (409, 409, 409, 409)),
    (
        "GET",
        "/api/v1/setup/recovery",
        "/api/v1/setup/recovery",
        None,
        (401, 403, 403, 200),
    ),
    # The owner's session; 409: no recovery key waits for confirmation on this box.
    (
        "POST",
        "/api/v1/setup/recovery-confirmed",
        "/api/v1/setup/recovery-confirmed",
        None,
        (401, 403, 403, 409),
    ),
    # Camera management (cameras.manage): bad input 422, unknown camera 404, so the
    # table is exercised without starting a camera.
    ("GET", "/cameras", "/cameras", None, (303, 403, 200, 200)),
    ("GET", "/api/v1/cameras", "/api/v1/cameras", None, (401, 403, 200, 200)),
    ("POST", "/api/v1/cameras", "/api/v1/cameras", {"name": "Bad Name"}, (401, 403, 422, 422)),
    (
        "PUT",
        "/api/v1/cameras/porch",
        "/api/v1/cameras/{camera}",
        {"name": "porch", "main_url": "rtsp://127.0.0.1:9/x"},
        (401, 403, 404, 404),
    ),
    ("DELETE", "/api/v1/cameras/porch", "/api/v1/cameras/{camera}", None, (401, 403, 404, 404)),
    ("POST", "/api/v1/cameras/test", "/api/v1/cameras/test", {}, (401, 403, 422, 422)),
    (
        "POST",
        "/api/v1/cameras/discover",
        "/api/v1/cameras/discover",
        {"interface": "nosuchif0"},
        (401, 403, 422, 422),
    ),
    # Live view: no reader is running in this app (porch is offline: 503); the POST has no
    # SDP body (415). The installer has no install window.
    ("POST", WHEP, "/api/v1/cameras/{camera}/whep", None, (401, 415, 403, 415)),
    ("OPTIONS", WHEP, "/api/v1/cameras/{camera}/whep", None, (401, 204, 403, 204)),
    ("DELETE", f"{WHEP}/gone", f"{WHEP_T}/{{session_id}}", None, (401, 404, 403, 404)),
    ("PATCH", f"{WHEP}/gone", f"{WHEP_T}/{{session_id}}", None, (401, 405, 403, 405)),
    (
        "GET",
        "/api/v1/cameras/porch/snapshot.jpg",
        "/api/v1/cameras/{camera}/snapshot.jpg",
        None,
        (401, 503, 403, 503),
    ),
    ("GET", "/live", "/live", None, (303, 200, 403, 200)),
    ("GET", "/live/porch", "/live/{camera}", None, (303, 200, 403, 200)),
    # Settings (nvr/web/settings.py, nvr/web/users.py): the owner only.
    ("GET", "/settings", "/settings", None, (303, 403, 403, 200)),
    ("GET", "/settings/audit", "/settings/audit", None, (303, 403, 403, 200)),
    ("GET", "/api/v1/users", "/api/v1/users", None, (401, 403, 403, 200)),
    ("POST", "/api/v1/users", "/api/v1/users", NEW_USER, (401, 403, 403, 201)),
    ("PATCH", "/api/v1/users/ines", "/api/v1/users/{name}", {"enabled": True}, ALL_OWNER),
    # The owner's own account cannot be deleted: 409 for the owner.
    ("DELETE", "/api/v1/users/alex", "/api/v1/users/{name}", None, (401, 403, 403, 409)),
    ("PUT", "/api/v1/users/sam/cameras", "/api/v1/users/{name}/cameras", CAMS, ALL_OWNER),
    ("GET", "/api/v1/install-windows", "/api/v1/install-windows", None, ALL_OWNER),
    ("POST", "/api/v1/install-windows", "/api/v1/install-windows", {"minutes": 5}, OWNER_201),
    (
        "DELETE",
        "/api/v1/install-windows/999",
        "/api/v1/install-windows/{window_id}",
        None,
        (401, 403, 403, 404),
    ),
    ("POST", "/api/v1/keys/passphrase", "/api/v1/keys/passphrase", SAME_PHRASE, ALL_OWNER),
    ("GET", "/api/v1/keys/members", "/api/v1/keys/members", None, ALL_OWNER),
    ("POST", "/api/v1/keys/members", "/api/v1/keys/members", NEW_MEMBER, OWNER_201),
    (
        "DELETE",
        "/api/v1/keys/members/nobody",
        "/api/v1/keys/members/{member}",
        {"owner_passphrase": PASSPHRASE},
        (401, 403, 403, 404),
    ),
    ("GET", "/api/v1/totp", "/api/v1/totp", None, ALL_OWNER),
    ("POST", "/api/v1/totp/enrol", "/api/v1/totp/enrol", None, ALL_OWNER),
    # A malformed code: never right.
    ("POST", "/api/v1/totp/confirm", "/api/v1/totp/confirm", {"code": "abc"}, (401, 403, 403, 422)),
    # Two-factor is off: nothing to turn off.
    ("DELETE", "/api/v1/totp", "/api/v1/totp", TOTP_OFF, (401, 403, 403, 409)),
    ("GET", "/api/v1/settings/retention", "/api/v1/settings/retention", None, ALL_OWNER),
    ("PUT", "/api/v1/settings/retention", "/api/v1/settings/retention", RETENTION, ALL_OWNER),
    ("GET", "/api/v1/audit", "/api/v1/audit", None, ALL_OWNER),
    ("POST", "/api/v1/audit/verify", "/api/v1/audit/verify", None, ALL_OWNER),
    # Requests, holds, the report (nvr/web/sharing.py): the owner only. Request 1 exists
    # (the fixture records it) and stays "received": fulfilling it is always 409.
    ("GET", "/requests", "/requests", None, (303, 403, 403, 200)),
    ("GET", "/requests/new", "/requests/new", None, (303, 403, 403, 200)),
    ("GET", "/requests/1", "/requests/{request_id}", None, (303, 403, 403, 200)),
    ("GET", "/report", "/report", None, (303, 403, 403, 200)),
    # The share page of a clip for request 1 (sharing.manage: the owner); nothing released.
    ("GET", SHARE, "/share", None, (303, 403, 403, 200)),
    ("GET", "/report/print", "/report/print", None, (303, 403, 403, 200)),
    ("GET", "/api/v1/requests", "/api/v1/requests", None, ALL_OWNER),
    ("POST", "/api/v1/requests", "/api/v1/requests", REQUEST, OWNER_201),
    ("GET", "/api/v1/requests/1", "/api/v1/requests/{request_id}", None, ALL_OWNER),
    ("PATCH", "/api/v1/requests/1", "/api/v1/requests/{request_id}", {"notes": "n"}, ALL_OWNER),
    ("POST", "/api/v1/requests/1/state", "/api/v1/requests/{request_id}/state", FULFIL, OWNER_409),
    (
        "POST",
        "/api/v1/requests/999/decline",
        "/api/v1/requests/{request_id}/decline",
        {},
        (401, 403, 403, 404),
    ),
    # No body, no content type: 415.
    (
        "POST",
        "/api/v1/requests/1/paperwork",
        "/api/v1/requests/{request_id}/paperwork",
        None,
        (401, 403, 403, 415),
    ),
    (
        "GET",
        "/api/v1/requests/1/paperwork",
        "/api/v1/requests/{request_id}/paperwork",
        None,
        ALL_OWNER,
    ),
    (
        "GET",
        "/api/v1/requests/1/paperwork/999",
        "/api/v1/requests/{request_id}/paperwork/{paper_id}",
        None,
        (401, 403, 403, 404),
    ),
    ("GET", "/api/v1/holds", "/api/v1/holds", None, ALL_OWNER),
    ("POST", "/api/v1/holds", "/api/v1/holds", {}, (401, 403, 403, 422)),
    (
        "POST",
        "/api/v1/holds/999/release",
        "/api/v1/holds/{hold_id}/release",
        None,
        (401, 403, 403, 404),
    ),
    ("GET", "/api/v1/report", "/api/v1/report", None, ALL_OWNER),
    # Consents, exports, previews (nvr/web/consents.py): the owner only. No consent exists
    # here: every id is unknown (404; an export try is a refused release, audited).
    ("POST", "/api/v1/consents", "/api/v1/consents", {}, (401, 403, 403, 422)),
    ("GET", "/api/v1/consents", "/api/v1/consents", None, ALL_OWNER),
    ("GET", "/api/v1/consents/x", "/api/v1/consents/{consent_id}", None, OWNER_404),
    (
        "POST",
        "/api/v1/consents/x/revoke",
        "/api/v1/consents/{consent_id}/revoke",
        {},
        OWNER_404,
    ),
    (
        "POST",
        "/api/v1/consents/x/export",
        "/api/v1/consents/{consent_id}/export",
        {"passphrase": "p"},
        OWNER_404,
    ),
    ("GET", "/api/v1/exports/x", "/api/v1/exports/{job_id}", None, OWNER_404),
    ("POST", "/api/v1/exports/x/cancel", "/api/v1/exports/{job_id}/cancel", None, OWNER_404),
    (
        "GET",
        "/api/v1/exports/x/bundle.zip",
        "/api/v1/exports/{job_id}/bundle.zip",
        None,
        OWNER_404,
    ),
    # Share links (nvr/web/links.py): the owner's API; no export job or link exists here.
    ("POST", "/api/v1/exports/x/links", "/api/v1/exports/{job_id}/links", {}, OWNER_404),
    ("GET", "/api/v1/links", "/api/v1/links", None, ALL_OWNER),
    ("POST", "/api/v1/links/x/revoke", "/api/v1/links/{link_id}/revoke", {}, OWNER_404),
    # The recipient's pages need no account (share_link.open, the one anonymous
    # permission): the token is the credential, and this one is unknown to everyone.
    ("GET", "/s/x", "/s/{token}", None, (404, 404, 404, 404)),
    ("GET", "/s/x/download", "/s/{token}/download", None, (404, 404, 404, 404)),
    ("POST", "/api/v1/previews", "/api/v1/previews", {}, (401, 403, 403, 422)),
    ("GET", "/api/v1/previews/x", "/api/v1/previews/{job_id}", None, OWNER_404),
    (
        "GET",
        "/api/v1/previews/x/preview.mp4",
        "/api/v1/previews/{job_id}/preview.mp4",
        None,
        OWNER_404,
    ),
]
CALLERS = ["anonymous", "viewer", "installer", "owner"]


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("routes")
    built = open_site(folder)
    (folder / "nvr.yaml").write_text(CONFIG_TEXT)
    EventsKit(built).add("porch", "doorbell", datetime(2026, 1, 1, tzinfo=UTC), picture=jpeg(0))
    sharing_for(built).requests.create(REQUEST, Actor("owner", "alex"))  # request 1
    yield built
    built.box.close()


def settings(site: Site) -> Settings:
    return settings_for(site, site.box.cfg.storage.data_dir.parent / "nvr.yaml")


def full_app(site: Site) -> FastAPI:
    """The app with every optional router the service passes."""
    cfg = site.box.cfg
    cameras = CameraSet(cfg, site.clock, demo=False)  # never started: nothing is read
    return create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        setup=SetupFlow(site.box, None, work_factor=15),
        cameras=CameraAdmin(cfg.storage.data_dir / "nvr.yaml", cameras, site.box.record),
        live=offline_live(site),
        settings=settings(site),
        events=closed_events(site),
        sharing=sharing_for(site),
    )


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    app = full_app(site)
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def offline_live(site: Site) -> LiveService:
    """Live view over cameras porch and garage, neither streaming."""
    return LiveService(
        source=lambda name: None, cameras=lambda: ["porch", "garage"], record=site.box.record
    )


def closed_events(site: Site) -> EventsSource:
    """The service's event source over the box, its live stream already closed (an open
    one would never end under ASGITransport)."""
    streams = EventStreams(EventBus())
    streams.close()
    return EventsKit(site).source(streams)


def headers_for(site: Site, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    name = {"viewer": "sam", "installer": "ines", "owner": "alex"}[caller]
    principal = Principal(site.ids[name], name, Role(caller))
    unlock = site.unlocks.unlock(PASSPHRASE.encode()) if caller == "owner" else None
    issued = site.accounts.sessions.login(principal, unlock_token=unlock)
    return {**cookie(issued.token), CSRF_HEADER: issued.session.csrf_token}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [(m, p, b, e) for m, p, _, b, e in MATRIX],
    ids=[f"{m} {t}" for m, _, t, _, _ in MATRIX],
)
async def test_route_by_caller(
    site: Site,
    http: httpx.AsyncClient,
    caller: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    expected: tuple[int, int, int, int],
) -> None:
    r = await http.request(method, path, json=body, headers=headers_for(site, caller))
    assert r.status_code == expected[CALLERS.index(caller)], r.text
    page = method == "GET" and not path.startswith("/api/")
    if r.status_code in (401, 403) and not page:
        assert r.json()["error"]
    if r.status_code == 403 and page:  # a refused page is a page: the reason, a way home
        assert r.headers["content-type"].startswith("text/html")
        assert "<h1>Not allowed here</h1>" in r.text
        assert 'class="error-reason"' in r.text
    if r.status_code == 303:
        # Anonymous: to sign in; a role that may not see Status: to its first page.
        assert r.headers["location"] == ("/signin" if caller == "anonymous" else "/live")


async def test_the_installer_inside_a_window_still_has_no_key_to_footage(
    site: Site, http: httpx.AsyncClient
) -> None:
    site.open_window()
    r = await http.get(CLIP, headers=headers_for(site, "installer"))
    assert (r.status_code, r.json()) == (
        403,
        {"error": "this account has no key to open recorded footage yet"},
    )


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every ``APIRoute``, also those of included routers that FastAPI keeps nested (an
    included router's pages are not in the schema either)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from api_routes(nested.routes)


def test_the_matrix_covers_every_route(site: Site) -> None:
    app = full_app(site)
    # Routers included with include_router show in the OpenAPI schema; pages (not in the
    # schema) are found by walking the routes, into included routers too.
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    } | {(method, route.path) for route in api_routes(app.routes) for method in route.methods or ()}
    covered = {(m, t) for m, _, t, _, _ in MATRIX}
    assert routes - PUBLIC == covered
    assert routes >= PUBLIC
