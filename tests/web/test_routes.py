"""Every route the app has x (anonymous, viewer, installer, owner), against the table.

The app is the service's own (``create_app`` with ``build_accounts`` over a real box), the
client on the LAN. ``MATRIX`` lists what each caller gets; a route missing from it fails
``test_the_matrix_covers_every_route``, so a new route cannot arrive unguarded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.routing import APIRoute

from nvr.auth.policy import Role
from nvr.auth.sessions import CSRF_HEADER, Principal
from nvr.events import EventBus
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.events import EventsSource, EventStreams
from tests.support.accounts import BASE, LAN, PASSPHRASE, Site, cookie, open_site
from tests.support.events import EventsKit, jpeg

CLIP = "/api/v1/cameras/porch/clip?start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:05Z"
PUBLIC = {("GET", "/healthz"), ("POST", "/api/v1/session"), ("GET", "/signin")}

# (method, path, route template, body): status for anonymous, viewer, installer, owner.
MATRIX: list[tuple[str, str, str, dict[str, str] | None, tuple[int, int, int, int]]] = [
    ("GET", "/api/v1/health", "/api/v1/health", None, (401, 403, 200, 200)),
    ("GET", "/", "/", None, (303, 403, 200, 200)),  # 303: to the sign-in page
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
    ("POST", "/api/v1/lock", "/api/v1/lock", None, (401, 403, 403, 204)),
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
    built = open_site(tmp_path_factory.mktemp("routes"))
    EventsKit(built).add("porch", "doorbell", datetime(2026, 1, 1, tzinfo=UTC), picture=jpeg(0))
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        events=closed_events(site),
    )
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


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
    body: dict[str, str] | None,
    expected: tuple[int, int, int, int],
) -> None:
    r = await http.request(method, path, json=body, headers=headers_for(site, caller))
    assert r.status_code == expected[CALLERS.index(caller)], r.text
    if r.status_code in (401, 403):
        assert r.json()["error"]
    if r.status_code == 303:
        assert r.headers["location"] == "/signin"


async def test_the_installer_inside_a_window_still_has_no_key_to_footage(
    site: Site, http: httpx.AsyncClient
) -> None:
    site.open_window()
    r = await http.get(CLIP, headers=headers_for(site, "installer"))
    assert (r.status_code, r.json()) == (
        403,
        {"error": "this account has no key to open recorded footage yet"},
    )


def test_the_matrix_covers_every_route(site: Site) -> None:
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        events=closed_events(site),
    )
    # Routers included with include_router show in the OpenAPI schema; the pages (not in
    # the schema) are the app's own routes.
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    } | {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    covered = {(m, t) for m, _, t, _, _ in MATRIX}
    assert routes - PUBLIC == covered
    assert routes >= PUBLIC
