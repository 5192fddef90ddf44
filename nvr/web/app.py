"""The FastAPI app factory.

``create_app(status=..., ...)`` builds the whole app from what it is given: no module-level
app, nothing fished out of ``app.state`` by handlers, no I/O at import or construction.
The service runner owns everything long-lived and passes callables in.

Every route but the liveness probe, the sign-in routes, the signed doorbell webhook and a
share link's pages (``/s/{token}``: the token is the credential; ``Authorizer.anyone``)
needs a signed-in session the role x permission table allows (``guard(permission)``:
``Authorizer.require``). While no owner account exists (a fresh box, before its keys are
made) there is nobody to sign in as: those routes then answer only clients on this
machine (``require_local``), so a fresh box is never open to the LAN. Without ``accounts``
(tests of pages and the health API) the app stays in that loopback-only state.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from nvr import __version__
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Decision, Permission
from nvr.auth.sessions import ActiveSession
from nvr.live import LiveService
from nvr.service.status import ServiceStatus
from nvr.service.unlock import Record
from nvr.storage.segments import SegmentStore
from nvr.web.errors import ERROR_RESPONSES
from nvr.web.events import EventsSource, add_events_page, events_router
from nvr.web.live import install_live
from nvr.web.pages import ACCOUNT_PAGE, Pages
from nvr.web.playback import Viewer, playback_router
from nvr.web.session import Accounts, session_router
from nvr.web.settings import Settings, add_settings_pages, settings_router
from nvr.web.timeline import add_timeline_page, timeline_router

if TYPE_CHECKING:
    from nvr.service.camera_admin import CameraAdmin
    from nvr.web.setup import SetupFlow
    from nvr.web.sharing import Sharing

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # No inline script, nothing from anywhere else: every asset is served by the box itself.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


SIGN_IN_PAGE = "/signin"
API_PREFIX = "/api/"


def is_page(request: Request) -> bool:
    """An HTML page (not the JSON API, not an asset): without a session, a browser asking
    for it is sent to the sign-in page instead of shown a JSON 401."""
    path = request.url.path
    return request.method == "GET" and not path.startswith((API_PREFIX, "/static/"))


def web_root() -> Path:
    """The ``web/`` folder (templates, CSS, JS): beside the ``nvr`` package in a checkout,
    else where a wheel installs it, ``<prefix>/share/porchlight/web`` (pyproject's
    data-files; the appliance's venv, the container)."""
    checkout = Path(__file__).resolve().parent.parent.parent / "web"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "porchlight" / "web"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_local(request: Request) -> None:
    """Deny every client that is not on this machine (while no owner account exists)."""
    host = request.client.host if request.client else None
    if not is_loopback(host):
        raise HTTPException(
            status_code=403,
            detail=(
                "this page is only available on the box itself until the owner is set up: "
                "open the first-run link (/setup?code=...) the service printed in its log"
            ),
        )


def loggable(path: str) -> str:
    """A request path fit for a log line: a share link's token (``/s/<token>...``, a
    credential) is never written to a log."""
    if path.startswith("/s/"):
        return "/s/<token>" + ("/download" if path.endswith("/download") else "")
    return path


Guard = Callable[[Permission], Callable[[Request], Caller | None]]


def guards(accounts: Accounts | None) -> Guard:
    """``guard(permission)``: the dependency for a route that needs ``permission``; it
    returns the ``Caller``, or ``None`` in the loopback-only state (no owner yet)."""

    def guard(permission: Permission) -> Callable[[Request], Caller | None]:
        require = accounts.authorizer.require(permission) if accounts is not None else None

        def dependency(request: Request) -> Caller | None:
            if require is None or accounts is None or not accounts.owner_exists():
                require_local(request)
                return None
            return require(request)

        dependency.__name__ = f"guard_{permission.value.replace('.', '_')}"
        return dependency

    return guard


def footage_viewer(accounts: Accounts) -> Callable[[Request], Viewer]:
    """The playback dependency: ``footage.view`` and an unlock attached to the session."""
    require = accounts.authorizer.require(Permission.FOOTAGE_VIEW)

    def dependency(request: Request) -> Viewer:
        caller = require(request)
        token = caller.session.unlock_token
        if token is None:
            raise HTTPException(403, "this account has no key to open recorded footage yet")
        return Viewer(token, actor_of(caller.principal))

    return dependency


def add_account_page(app: FastAPI, accounts: Accounts, pages: Pages) -> None:
    """``GET /account``: every signed-in account's own page (unlock state, log out
    everywhere), in every menu."""
    signed_in = accounts.authorizer.signed_in()

    @app.get(ACCOUNT_PAGE, response_class=HTMLResponse, include_in_schema=False)
    def account_page(request: Request) -> HTMLResponse:
        session = signed_in(request)
        caller = Caller(session, Decision(True, "any signed-in account"))
        return pages.render(request, "account.html", caller, title="Account")


def create_app(
    *,
    status: Callable[[], ServiceStatus],
    accounts: Accounts | None = None,
    segments: Callable[[], SegmentStore] | None = None,
    record: Record | None = None,
    web_dir: Path | None = None,
    doorbell: APIRouter | None = None,
    setup: SetupFlow | None = None,
    cameras: CameraAdmin | None = None,
    live: LiveService | None = None,
    settings: Settings | None = None,
    events: EventsSource | None = None,
    sharing: Sharing | None = None,
) -> FastAPI:
    """Build the app. ``status`` returns a fresh snapshot of the service for each request;
    ``accounts`` serves sign-in and guards every route (without it, the loopback-only
    state); with ``segments`` and ``record`` (the audit call), clip playback too.
    ``doorbell`` (see ``nvr.web.doorbell``) authenticates each request itself.
    ``setup`` (with ``accounts``) serves the first run (``nvr.web.setup``), ``cameras``
    the camera management API and page (``nvr.web.cameras_admin``); with ``live``, live
    view (WHEP), snapshots and the live pages (``nvr.web.live``); ``settings`` (with
    ``accounts``) the owner's settings pages and API (``nvr.web.settings``: users,
    install windows, keys, two-factor, retention, audit).
    With ``events`` and ``record``: the event list and stream, the timeline and their
    pages (``nvr.web.events``, ``nvr.web.timeline``; the timeline also needs
    ``segments``). ``sharing`` (with ``accounts``): requests, legal holds and the
    transparency report (``nvr.web.sharing``); with ``sharing.exports`` consents and
    exports (``nvr.web.consents``), and with ``exports.links`` share links, the owner's
    API and the recipient's public pages ``/s/{token}`` (``nvr.web.links``)."""
    guard = guards(accounts)
    root = web_dir or web_root()
    app = FastAPI(
        title="Porchlight",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        # Every route may refuse (401, 403 ...): declared once, in the one error shape.
        responses=ERROR_RESPONSES,
    )
    pages = Pages(
        root,
        allows=(
            (lambda session, permission: accounts.authorizer.decide(session, permission).allowed)
            if accounts is not None
            else None
        ),
    )

    def page_session(request: Request) -> ActiveSession | None:
        """The signed-in session of a page request, if any (for the error page's menu)."""
        if accounts is None:
            return None
        try:
            return accounts.authorizer.authenticate(request)
        except HTTPException:
            return None

    app.mount("/static", StaticFiles(directory=str(root / "static")), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    # One place maps errors to responses: a reason in JSON, never a traceback or a secret;
    # a page asked for without a session sends the browser to the sign-in page instead, and
    # a page refused (403) or missing (404) is a page with the reason and a link home.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and is_page(request):
            return RedirectResponse(SIGN_IN_PAGE, status_code=303, headers=exc.headers)
        detail: object = exc.detail
        if exc.status_code in (403, 404) and is_page(request):
            reason = detail["reason"] if isinstance(detail, dict) else detail
            return pages.render_error(request, page_session(request), exc.status_code, str(reason))
        if isinstance(detail, dict) and "reason" in detail:
            # {"reason": ..., "field": ...}: a field-level refusal (setup, cameras).
            body = {"error": detail["reason"], **{k: v for k, v in detail.items() if k != "reason"}}
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "reasons": reasons}, status_code=422)

    @app.exception_handler(ClientDisconnect)
    async def client_left(request: Request, exc: ClientDisconnect) -> Response:
        # The client went away while its request body was still arriving (a browser leaving
        # the page mid-upload): a normal end with nobody to answer, not a server error.
        log.debug("client left during %s %s", request.method, loggable(request.url.path))
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        path = loggable(request.url.path)
        log.error("unhandled error on %s %s", request.method, path, exc_info=exc)
        return JSONResponse({"error": "internal error, see the service log"}, status_code=500)

    @app.get("/healthz", tags=["health"], summary="Liveness probe (no details)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/api/v1/health",
        tags=["health"],
        summary="Service and camera health",
        dependencies=[Depends(guard(Permission.HEALTH_VIEW))],
    )
    async def health() -> ServiceStatus:
        return status()

    health_caller = guard(Permission.HEALTH_VIEW)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        """The Status page; a role that may not see it is sent to its first page instead
        (sign-in always lands here)."""
        if accounts is not None and accounts.owner_exists():
            session = accounts.authorizer.authenticate(request)
            decision = accounts.authorizer.decide(session, Permission.HEALTH_VIEW)
            if not decision.allowed:
                return RedirectResponse(pages.home(session), status_code=303)
        caller = health_caller(request)
        return pages.render(request, "index.html", caller, status=status())

    @app.get(SIGN_IN_PAGE, response_class=HTMLResponse, include_in_schema=False)
    async def sign_in_page(request: Request) -> HTMLResponse:
        return pages.render(request, "signin.html", None)

    if accounts is not None:
        app.include_router(session_router(accounts))
        add_account_page(app, accounts, pages)
        if segments is not None and record is not None:
            app.include_router(
                playback_router(segments, accounts.unlocks, record, viewer=footage_viewer(accounts))
            )
        if events is not None and record is not None:
            app.include_router(events_router(accounts, events, record))
            add_events_page(app, accounts, events, pages)
            if segments is not None:
                app.include_router(timeline_router(accounts, segments, events, record))
                add_timeline_page(app, accounts, events, pages)

    if accounts is not None and settings is not None:
        app.include_router(settings_router(accounts, settings))
        add_settings_pages(app, accounts, pages)

    if accounts is not None and sharing is not None:
        from nvr.web.sharing import add_sharing_pages, sharing_router

        app.include_router(sharing_router(accounts, sharing))
        if sharing.exports is not None:
            from nvr.web.consents import consents_router
            from nvr.web.share_page import add_share_page

            app.include_router(consents_router(accounts, sharing.exports))
            add_share_page(app, accounts, sharing, pages)
            if sharing.exports.links is not None:
                from nvr.web.links import add_share_pages, links_router

                app.include_router(links_router(accounts, sharing.exports, sharing.exports.links))
                add_share_pages(app, accounts, sharing.exports.links, pages)
        add_sharing_pages(app, accounts, sharing, pages)

    if doorbell is not None:
        app.include_router(doorbell)

    if setup is not None and accounts is not None:
        from nvr.web.setup import setup_router

        app.include_router(setup_router(setup, accounts, pages))

    if cameras is not None:
        from nvr.web.cameras_admin import cameras_router

        app.include_router(cameras_router(cameras, guard, pages))
    if live is not None:
        install_live(app, live, guard, pages)

    return app
