"""The authorization dependency over HTTP: 401 without a session, 403 for CSRF and for
what ``decide`` refuses, JSON reasons, install windows and viewers' cameras, and a login
route that rotates the session id and sets the cookie's attributes.

The app is the real factory (its one error handler) plus a few test-only routes guarded by
``Authorizer.require``; clients come from a LAN address, not the box itself. No
``from __future__ import annotations`` here: the routes are built inside a function and
their ``Annotated[..., Depends(auth.require(...))]`` must be evaluated where ``auth`` is in
scope (FastAPI resolves string annotations in the module's globals only).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Response

from nvr.auth.deps import Authorizer, Caller
from nvr.auth.policy import InstallWindow, Permission, Role, decide
from nvr.auth.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    ActiveSession,
    Principal,
    SessionStore,
    set_session_cookie,
)
from nvr.clock import FakeClock
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app

OWNER = Principal(1, "alex", Role.OWNER)
VIEWER = Principal(2, "sam", Role.VIEWER)
INSTALLER = Principal(3, "ines", Role.INSTALLER)
BASE = "https://box.test"


@dataclass
class World:
    clock: FakeClock
    sessions: SessionStore
    window: InstallWindow | None = None
    cameras: dict[int, frozenset[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def install_window(self, now: datetime) -> InstallWindow | None:
        self.lookups.append("window")
        return self.window

    def viewer_cameras(self, user_id: int) -> frozenset[str]:
        self.lookups.append("cameras")
        return self.cameras.get(user_id, frozenset())


def build(world: World) -> httpx.AsyncClient:
    auth = Authorizer(
        world.sessions,
        world.clock,
        install_window=world.install_window,
        viewer_cameras=world.viewer_cameras,
    )
    router = APIRouter(prefix="/api/t")

    @router.get("/live/{camera}")
    def live(
        camera: str, caller: Annotated[Caller, Depends(auth.require(Permission.LIVE_VIEW))]
    ) -> dict[str, str]:
        return {"camera": camera, "user": caller.principal.name}

    @router.get("/events")
    def events(
        caller: Annotated[Caller, Depends(auth.require(Permission.EVENTS_VIEW))],
    ) -> dict[str, list[str] | None]:
        cameras = caller.decision.cameras
        return {"cameras": None if cameras is None else sorted(cameras)}

    @router.get("/health")
    def health(_: Annotated[Caller, Depends(auth.require(Permission.HEALTH_VIEW))]) -> str:
        return "ok"

    @router.post("/settings")
    def settings(_: Annotated[Caller, Depends(auth.require(Permission.SETTINGS_MANAGE))]) -> str:
        return "saved"

    @router.post("/cameras")
    def cameras(_: Annotated[Caller, Depends(auth.require(Permission.CAMERAS_MANAGE))]) -> str:
        return "saved"

    @router.post("/login/{name}")
    def login(name: str, request: Request, response: Response) -> dict[str, str]:
        # What the real login will do after checking the password: a new id every time.
        principal = {p.name: p for p in (OWNER, VIEWER, INSTALLER)}[name]
        issued = world.sessions.login(principal, replacing=request.cookies.get(COOKIE_NAME))
        set_session_cookie(response, issued.token, world.sessions.max_age)
        return {"csrf": issued.session.csrf_token}

    @router.post("/logout")
    def logout(request: Request, _: Annotated[ActiveSession, Depends(auth.signed_in())]) -> str:
        world.sessions.logout(request.cookies[COOKIE_NAME])
        return "bye"

    def status() -> ServiceStatus:
        raise AssertionError("not used")

    app = create_app(status=status)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.fixture
def world() -> World:
    clock = FakeClock()
    return World(clock=clock, sessions=SessionStore(clock))


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with build(world) as client:
        yield client


def signed_in(world: World, principal: Principal) -> tuple[dict[str, str], str]:
    issued = world.sessions.login(principal)
    return {"cookie": f"{COOKIE_NAME}={issued.token}"}, issued.session.csrf_token


ROUTES = [
    ("GET", "/api/t/live/porch", Permission.LIVE_VIEW, "porch"),
    ("GET", "/api/t/events", Permission.EVENTS_VIEW, None),
    ("GET", "/api/t/health", Permission.HEALTH_VIEW, None),
    ("POST", "/api/t/settings", Permission.SETTINGS_MANAGE, None),
    ("POST", "/api/t/cameras", Permission.CAMERAS_MANAGE, None),
]


@pytest.mark.parametrize(("method", "path", "permission", "camera"), ROUTES)
async def test_anonymous_gets_401(
    client: httpx.AsyncClient, method: str, path: str, permission: Permission, camera: str | None
) -> None:
    r = await client.request(method, path)
    assert r.status_code == 401
    assert r.json() == {"error": "sign in first"}
    assert "set-cookie" not in r.headers


async def test_an_ended_session_gets_401_and_the_cookie_cleared(
    world: World, client: httpx.AsyncClient
) -> None:
    headers, _ = signed_in(world, OWNER)
    world.clock.advance(31 * 60)
    r = await client.get("/api/t/health", headers=headers)
    assert r.status_code == 401
    assert "sign in again" in r.json()["error"]
    assert r.headers["set-cookie"].startswith(f'{COOKIE_NAME}="";')
    r = await client.get("/api/t/health", headers={"cookie": f"{COOKIE_NAME}=made-up"})
    assert r.status_code == 401


@pytest.mark.parametrize(("method", "path", "permission", "camera"), ROUTES)
@pytest.mark.parametrize("principal", [OWNER, VIEWER, INSTALLER], ids=lambda p: p.role.value)
async def test_every_route_for_every_role_follows_the_table(
    world: World,
    client: httpx.AsyncClient,
    principal: Principal,
    method: str,
    path: str,
    permission: Permission,
    camera: str | None,
) -> None:
    world.cameras[VIEWER.user_id] = frozenset({"porch"})
    headers, csrf = signed_in(world, principal)
    r = await client.request(method, path, headers={**headers, CSRF_HEADER: csrf})
    expected = decide(
        principal.role,
        permission,
        install_window=None,
        now=world.clock.wall(),
        viewer_cameras=frozenset({"porch"}) if principal.role is Role.VIEWER else frozenset(),
        camera=camera,
    )
    assert r.status_code == (200 if expected.allowed else 403), r.text
    if not expected.allowed:
        assert r.json() == {"error": expected.reason}


@pytest.mark.parametrize(
    ("csrf", "reason"),
    [(None, "missing CSRF token"), ("", "missing CSRF token"), ("wrong", "wrong CSRF token")],
)
async def test_unsafe_methods_need_the_sessions_csrf_token(
    world: World, client: httpx.AsyncClient, csrf: str | None, reason: str
) -> None:
    headers, _ = signed_in(world, OWNER)
    sent = headers if csrf is None else {**headers, CSRF_HEADER: csrf}
    r = await client.post("/api/t/settings", headers=sent)
    assert r.status_code == 403
    assert reason in r.json()["error"]


async def test_another_sessions_csrf_token_is_refused(
    world: World, client: httpx.AsyncClient
) -> None:
    headers, _ = signed_in(world, OWNER)
    _, other_csrf = signed_in(world, OWNER)
    r = await client.post("/api/t/settings", headers={**headers, CSRF_HEADER: other_csrf})
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("origin", "status"),
    [("https://box.test", 200), ("https://evil.test", 403), ("null", 403)],
)
async def test_cross_site_origins_are_refused(
    world: World, client: httpx.AsyncClient, origin: str, status: int
) -> None:
    headers, csrf = signed_in(world, OWNER)
    r = await client.post(
        "/api/t/settings", headers={**headers, CSRF_HEADER: csrf, "origin": origin}
    )
    assert r.status_code == status


async def test_safe_methods_need_no_csrf_token(world: World, client: httpx.AsyncClient) -> None:
    headers, _ = signed_in(world, INSTALLER)
    assert (await client.get("/api/t/health", headers=headers)).status_code == 200


async def test_viewer_sees_only_allowed_cameras(world: World, client: httpx.AsyncClient) -> None:
    world.cameras[VIEWER.user_id] = frozenset({"porch", "gate"})
    headers, _ = signed_in(world, VIEWER)
    assert (await client.get("/api/t/live/porch", headers=headers)).json()["user"] == "sam"
    r = await client.get("/api/t/live/garage", headers=headers)
    assert r.status_code == 403
    assert r.json() == {"error": "the owner has not allowed this account camera 'garage'"}
    r = await client.get("/api/t/events", headers=headers)
    assert r.json() == {"cameras": ["gate", "porch"]}


async def test_installer_sees_live_only_inside_an_open_window(
    world: World, client: httpx.AsyncClient
) -> None:
    headers, _ = signed_in(world, INSTALLER)
    r = await client.get("/api/t/live/porch", headers=headers)
    assert r.status_code == 403
    assert "install window" in r.json()["error"]
    now = world.clock.wall()
    world.window = InstallWindow(1, "alex", now, now + timedelta(minutes=20))
    assert (await client.get("/api/t/live/porch", headers=headers)).status_code == 200
    world.clock.advance(20 * 60)
    headers, _ = signed_in(world, INSTALLER)
    r = await client.get("/api/t/live/porch", headers=headers)
    assert r.status_code == 403
    assert r.json() == {"error": "the install window has expired"}


async def test_lookups_happen_only_when_the_table_needs_them(
    world: World, client: httpx.AsyncClient
) -> None:
    for principal in (OWNER, INSTALLER):
        headers, _ = signed_in(world, principal)
        await client.get("/api/t/health", headers=headers)
    headers, _ = signed_in(world, OWNER)
    await client.get("/api/t/live/porch", headers=headers)
    assert world.lookups == []
    headers, _ = signed_in(world, INSTALLER)
    await client.get("/api/t/live/porch", headers=headers)
    headers, _ = signed_in(world, VIEWER)
    await client.get("/api/t/live/porch", headers=headers)
    assert world.lookups == ["window", "cameras"]


async def test_login_rotates_the_id_and_sets_a_strict_host_cookie(
    world: World, client: httpx.AsyncClient
) -> None:
    planted, _ = signed_in(world, VIEWER)  # a session id an attacker got into the browser
    r = await client.post("/api/t/login/alex", headers=planted)
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    token = cookie.split(";")[0].removeprefix(f"{COOKIE_NAME}=")
    assert token not in planted["cookie"]
    for attribute in ("HttpOnly", "Secure", "Path=/", "SameSite=strict", "Max-Age=43200"):
        assert attribute in cookie
    assert "Domain" not in cookie
    assert (await client.get("/api/t/health", headers=planted)).status_code == 401
    mine = {"cookie": f"{COOKIE_NAME}={token}"}
    assert (await client.get("/api/t/health", headers=mine)).status_code == 200
    csrf = r.json()["csrf"]
    assert (await client.post("/api/t/logout", headers={**mine, CSRF_HEADER: csrf})).text == '"bye"'
    assert (await client.get("/api/t/health", headers=mine)).status_code == 401


async def test_logout_needs_the_csrf_token_too(world: World, client: httpx.AsyncClient) -> None:
    headers, _ = signed_in(world, VIEWER)
    assert (await client.post("/api/t/logout", headers=headers)).status_code == 403
    assert (await client.get("/api/t/events", headers=headers)).status_code == 403  # no cameras


def test_anyone_is_only_for_the_anonymous_permissions(world: World) -> None:
    auth = Authorizer(
        world.sessions,
        world.clock,
        install_window=world.install_window,
        viewer_cameras=world.viewer_cameras,
    )
    for permission in Permission:
        if permission is Permission.SHARE_LINK_OPEN:
            auth.anyone(permission)
        else:
            with pytest.raises(ValueError, match="not open to anonymous callers"):
                auth.anyone(permission)


async def test_anyone_admits_callers_without_a_session_on_safe_methods_only(
    world: World,
) -> None:
    auth = Authorizer(
        world.sessions,
        world.clock,
        install_window=world.install_window,
        viewer_cameras=world.viewer_cameras,
    )
    opened = auth.anyone(Permission.SHARE_LINK_OPEN)

    def status() -> ServiceStatus:
        raise AssertionError("not used")

    app = create_app(status=status)

    @app.api_route("/t/open", methods=["GET", "POST"])
    def open_(request: Request) -> str:
        return opened(request).reason

    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        r = await client.get("/t/open")
        assert r.status_code == 200
        assert "needs no account" in r.json()
        r = await client.post("/t/open")
        assert r.status_code == 405
