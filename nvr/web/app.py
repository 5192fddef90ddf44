"""The FastAPI app factory.

``create_app(status=..., ...)`` builds the whole app from what it is given: no module-level
app, nothing fished out of ``app.state`` by handlers, no I/O at import or construction.
The service runner owns everything long-lived and passes callables in.

Until accounts exist (sign-in arrives with the dashboard), everything but the liveness
probe and the signed doorbell webhook answers only clients on this machine: deny by default.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from nvr import __version__
from nvr.service.status import ServiceStatus
from nvr.service.unlock import Record, UnlockManager
from nvr.storage.segments import SegmentStore
from nvr.web.playback import playback_router
from nvr.web.unlock import unlock_router

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


def web_root() -> Path:
    """The ``web/`` folder (templates, CSS, JS) that ships beside the ``nvr`` package."""
    return Path(__file__).resolve().parent.parent.parent / "web"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_local(request: Request) -> None:
    """Deny every client that is not on this machine (until sign-in exists)."""
    host = request.client.host if request.client else None
    if not is_loopback(host):
        raise HTTPException(
            status_code=403,
            detail="this page is only available on the box itself until sign-in is set up",
        )


def create_app(
    *,
    status: Callable[[], ServiceStatus],
    unlock: UnlockManager | None = None,
    segments: Callable[[], SegmentStore] | None = None,
    record: Record | None = None,
    web_dir: Path | None = None,
    doorbell: APIRouter | None = None,
) -> FastAPI:
    """Build the app. ``status`` returns a fresh snapshot of the service for each request;
    ``unlock`` serves the unlock/lock API and, with ``segments`` and ``record`` (the audit
    call), clip playback. ``doorbell`` (see ``nvr.web.doorbell``) authenticates each request
    itself, so it is the one router not limited to this machine."""
    root = web_dir or web_root()
    app = FastAPI(
        title="Porchlight",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    templates = Jinja2Templates(directory=str(root / "templates"))
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

    # One place maps errors to responses: a reason in JSON, never a traceback or a secret.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "reasons": reasons}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal error, see the service log"}, status_code=500)

    @app.get("/healthz", tags=["health"], summary="Liveness probe (no details)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/api/v1/health",
        tags=["health"],
        summary="Service and camera health",
        dependencies=[Depends(require_local)],
    )
    async def health() -> ServiceStatus:
        return status()

    @app.get(
        "/",
        response_class=HTMLResponse,
        include_in_schema=False,
        dependencies=[Depends(require_local)],
    )
    async def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "index.html", {"status": status()})

    if unlock is not None:
        app.include_router(unlock_router(unlock, guard=Depends(require_local)))
        if segments is not None and record is not None:
            app.include_router(
                playback_router(segments, unlock, record, guard=Depends(require_local))
            )

    if doorbell is not None:
        app.include_router(doorbell)

    return app
