"""The one authorization dependency: session cookie -> CSRF -> ``decide`` -> the caller.

``Authorizer(sessions, clock, install_window=..., viewer_cameras=...)`` is built once by
the app factory (no global: it holds the session store and the two look-ups, which the
factory passes in). ``authorizer.require(permission)`` is the dependency factory::

    Live = Annotated[Caller, Depends(auth.require(Permission.LIVE_VIEW))]

    @router.get("/api/v1/cameras/{camera}/live")
    def live(camera: str, caller: Live) -> ...

A router factory that defines its handlers inside a function must not use ``from
__future__ import annotations`` for that annotation (FastAPI resolves string annotations in
the module's globals, where ``auth`` is not), or it passes the dependency as a value:
``dependencies=[Depends(auth.require(...))]`` when the handler needs no ``Caller``.

For each request it, in this order:
1. finds the session from the ``__Host-porchlight`` cookie; none or ended: **401**
   (``{"error": ...}``; a stale cookie is also cleared);
2. on an unsafe method (anything but GET, HEAD, OPTIONS) refuses a cross-site ``Origin``
   and requires the session's CSRF token in ``X-CSRF-Token``: missing or wrong, **403**;
3. asks ``decide`` with the role, the install window (looked up only when the table cell
   needs it), the viewer's cameras (only for viewers) and the ``camera`` path parameter
   (camera-scoped routes name it ``camera``): refused, **403** with the reason;
4. returns a ``Caller`` (session + decision; ``decision.cameras`` narrows a listing).

The dependency is a plain function, so FastAPI runs it in its thread pool and the database
look-ups never block the event loop. The JSON shape comes from the app's one error handler
(``nvr.web.app``), which turns ``HTTPException(status, reason)`` into ``{"error": reason}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.responses import Response

from nvr.auth.policy import (
    Decision,
    Grant,
    InstallWindow,
    Permission,
    Role,
    decide,
    decide_anonymous,
    grant,
)
from nvr.auth.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    ActiveSession,
    Principal,
    SessionStore,
    clear_session_cookie,
    csrf_ok,
)
from nvr.clock import Clock

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CAMERA_PARAM = "camera"


@dataclass(frozen=True)
class Caller:
    """The signed-in caller of a request and what ``decide`` said."""

    session: ActiveSession
    decision: Decision

    @property
    def principal(self) -> Principal:
        return self.session.principal


def _clear_cookie_header() -> str:
    response = Response()
    clear_session_cookie(response)
    return response.headers["set-cookie"]


class Authorizer:
    def __init__(
        self,
        sessions: SessionStore,
        clock: Clock,
        *,
        install_window: Callable[[datetime], InstallWindow | None],
        viewer_cameras: Callable[[int], frozenset[str]],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._install_window = install_window
        self._viewer_cameras = viewer_cameras

    def require(self, permission: Permission) -> Callable[[Request], Caller]:
        """A dependency admitting only callers ``decide`` allows ``permission``."""

        def dependency(request: Request) -> Caller:
            session = self.authenticate(request)
            decision = self.decide(session, permission, request.path_params.get(CAMERA_PARAM))
            if not decision.allowed:
                raise HTTPException(403, decision.reason)
            return Caller(session, decision)

        dependency.__name__ = f"require_{permission.value.replace('.', '_')}"
        return dependency

    def decide(
        self, session: ActiveSession, permission: Permission, camera: str | None = None
    ) -> Decision:
        """Step 3 for a known session: what ``decide`` says about ``permission`` now (the
        pages' menu asks this, so it offers only what would open)."""
        role = session.principal.role
        cell = grant(role, permission)
        now = self._clock.wall()
        return decide(
            role,
            permission,
            install_window=(self._install_window(now) if cell is Grant.INSTALL_WINDOW else None),
            now=now,
            viewer_cameras=(
                self._viewer_cameras(session.principal.user_id)
                if cell is Grant.OWN_CAMERAS and role is Role.VIEWER
                else frozenset()
            ),
            camera=camera,
        )

    def anyone(self, permission: Permission) -> Callable[[Request], Decision]:
        """A dependency for a route open to callers without an account: only for a
        permission in ``ANONYMOUS`` (building it for any other raises ``ValueError``, so
        deny-by-default cannot be switched off by mistake). It looks at no session; the
        route checks the credential the request carries (a share link's token). Only
        safe methods: nothing an anonymous caller does changes state but the route's own
        bookkeeping."""
        decision = decide_anonymous(permission)
        if not decision.allowed:
            raise ValueError(f"{permission} is not open to anonymous callers")

        def dependency(request: Request) -> Decision:
            if request.method not in SAFE_METHODS:
                raise HTTPException(405, "only GET here")
            return decision

        dependency.__name__ = f"anyone_{permission.value.replace('.', '_')}"
        return dependency

    def signed_in(self) -> Callable[[Request], ActiveSession]:
        """A dependency for routes any signed-in account may use (logout, "who am I")."""
        return self.authenticate

    def authenticate(self, request: Request) -> ActiveSession:
        """Steps 1 and 2: the session, and the CSRF checks on unsafe methods."""
        token = request.cookies.get(COOKIE_NAME)
        session = self._sessions.get(token)
        if session is None:
            if token:
                raise HTTPException(
                    401,
                    "your session has ended: sign in again",
                    headers={"set-cookie": _clear_cookie_header()},
                )
            raise HTTPException(401, "sign in first")
        if request.method not in SAFE_METHODS:
            if not same_origin(request):
                raise HTTPException(403, "cross-site request refused")
            presented = request.headers.get(CSRF_HEADER)
            if not presented:
                raise HTTPException(403, f"missing CSRF token (header {CSRF_HEADER})")
            if not csrf_ok(session, presented):
                raise HTTPException(403, "wrong CSRF token: reload the page")
        return session


def same_origin(request: Request) -> bool:
    """No ``Origin`` (older clients, curl) is left to the CSRF token; a present one must
    name this host. ``null`` (sandboxed frames, some redirects) is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host")
    return origin != "null" and host is not None and urlsplit(origin).netloc == host
