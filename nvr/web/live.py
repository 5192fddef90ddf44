"""Live view over HTTP: WHEP (RFC 9725) sessions, snapshots, and the live pages.

Routes (every one guarded by ``live.view`` on the ``camera`` path parameter, so a viewer
reaches only the cameras the owner allowed and an installer only inside an install window):

- ``POST /api/v1/cameras/{camera}/whep`` with ``Content-Type: application/sdp`` (the
  browser's offer): **201 Created**, ``application/sdp`` answer, ``Location`` of the
  session resource and an ``ETag``. The answer carries every ICE candidate (host only:
  the box uses no STUN or TURN), so there is no trickle. 404 unknown camera, 503 camera
  offline or the viewer cap reached (with a reason, and ``Retry-After`` for the cap), 415
  not SDP, 413 too large, 422 an offer without H.264 (packetization-mode=1), which the box
  cannot serve because it passes the camera's H.264 through and never transcodes.
- ``DELETE /api/v1/cameras/{camera}/whep/{session_id}``: ends the session (200); 404 for a
  session that is not this caller's (or the owner's to end) or already ended.
- ``PATCH`` on the session: **405**, no trickle ICE or ICE restart (documented in
  docs/design/live.md); ``OPTIONS`` on the endpoint: 204 with ``Allow`` and ``Accept-Post``.
- ``GET /api/v1/cameras/{camera}/snapshot.jpg``: the camera's latest picture as JPEG
  (decoded on demand, reused for ~1 s): the fallback when WebRTC cannot connect and the
  picture the zone editor draws on.
- ``GET /live`` (every camera the caller may see) and ``GET /live/{camera}``: the pages.

State changes need the session cookie and the CSRF header like every other POST (the
Authorizer). Live view does *not* need the owner's footage unlock: live video is not
recorded footage and is never decrypted; each start and end is audited instead
(``live.start`` / ``live.stop``, and ``live.snapshot`` at most every 10 minutes per viewer
and camera, by ``LiveService``).

No ``from __future__ import annotations``: handlers use ``Annotated[..., Depends(...)]``
on dependencies local to the factory.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from nvr.audit.entry import Actor
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission, Role
from nvr.live import (
    CameraOffline,
    LiveError,
    LiveService,
    OfferRejected,
    TooManyViewers,
    UnknownCamera,
)
from nvr.web.pages import Pages

MAX_OFFER_BYTES = 64 * 1024
SDP = "application/sdp"
RETRY_AFTER_SECONDS = "30"
LOCAL = Actor(role="local", user=None)  # the loopback-only state: no account exists yet

Guard = Callable[[Permission], Callable[[Request], Caller | None]]


def error_for(exc: LiveError) -> HTTPException:
    if isinstance(exc, UnknownCamera):
        return HTTPException(404, exc.reason)
    if isinstance(exc, TooManyViewers):
        return HTTPException(503, exc.reason, headers={"Retry-After": RETRY_AFTER_SECONDS})
    if isinstance(exc, CameraOffline):
        return HTTPException(503, exc.reason)
    if isinstance(exc, OfferRejected):
        return HTTPException(422, exc.reason)
    return HTTPException(400, exc.reason)


def session_path(camera: str, session_id: str) -> str:
    return f"/api/v1/cameras/{camera}/whep/{session_id}"


def install_live(app: FastAPI, live: LiveService, guard: Guard, pages: Pages) -> None:
    """Add the live API (a router) and the live pages (on ``app`` itself, like the other
    pages, so route listings that read ``app.routes`` see them) to ``app``."""
    app.include_router(live_router(live, guard))
    Live = Annotated[Caller | None, Depends(guard(Permission.LIVE_VIEW))]

    def visible(caller: Caller | None) -> list[str]:
        names = live.cameras()
        allowed = caller.decision.cameras if caller is not None else None
        return names if allowed is None else [n for n in names if n in allowed]

    @app.get("/live", response_class=HTMLResponse, include_in_schema=False)
    async def live_grid(request: Request, caller: Live) -> HTMLResponse:
        return pages.render(
            request, "live.html", caller, title="Live", cameras=visible(caller), single=False
        )

    @app.get("/live/{camera}", response_class=HTMLResponse, include_in_schema=False)
    async def live_single(camera: str, request: Request, caller: Live) -> HTMLResponse:
        if camera not in live.cameras():
            raise HTTPException(404, f"no camera named '{camera}'")
        return pages.render(
            request, "live.html", caller, title=f"Live: {camera}", cameras=[camera], single=True
        )


def live_router(live: LiveService, guard: Guard) -> APIRouter:
    router = APIRouter()
    Live = Annotated[Caller | None, Depends(guard(Permission.LIVE_VIEW))]

    @router.post(
        "/api/v1/cameras/{camera}/whep",
        tags=["live"],
        summary="Start live view (WHEP): an SDP offer in, the SDP answer out",
        status_code=201,
        response_class=Response,
        responses={201: {"content": {SDP: {}}}},
    )
    async def whep_start(camera: str, request: Request, caller: Live) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != SDP:
            raise HTTPException(415, f"send the offer as Content-Type: {SDP}")
        body = await request.body()
        if len(body) > MAX_OFFER_BYTES:
            raise HTTPException(413, f"an SDP offer is at most {MAX_OFFER_BYTES} bytes")
        try:
            offer = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(422, "the offer is not UTF-8 text") from None
        actor = actor_of(caller.principal) if caller is not None else LOCAL
        try:
            session = await live.start(camera, offer, actor)
        except LiveError as exc:
            raise error_for(exc) from None
        return Response(
            session.answer,
            status_code=201,
            media_type=SDP,
            headers={
                "Location": session_path(camera, session.id),
                "ETag": f'"{session.id}"',
            },
        )

    @router.options(
        "/api/v1/cameras/{camera}/whep",
        tags=["live"],
        summary="What the WHEP endpoint accepts",
        status_code=204,
        response_class=Response,
    )
    async def whep_options(camera: str, caller: Live) -> Response:
        return Response(status_code=204, headers={"Allow": "OPTIONS, POST", "Accept-Post": SDP})

    @router.delete(
        "/api/v1/cameras/{camera}/whep/{session_id}",
        tags=["live"],
        summary="End a live view session",
        response_class=Response,
    )
    async def whep_stop(camera: str, session_id: str, caller: Live) -> Response:
        session = live.session(session_id)
        mine = session is not None and (
            caller is None
            or caller.principal.role is Role.OWNER
            or session.actor == actor_of(caller.principal)
        )
        if session is None or session.camera != camera or not mine:
            raise HTTPException(404, "no such live session (it may have ended already)")
        await live.stop(session_id, "viewer left")
        return Response(status_code=200)

    @router.patch(
        "/api/v1/cameras/{camera}/whep/{session_id}",
        tags=["live"],
        summary="Trickle ICE / ICE restart: not supported (the answer has every candidate)",
        response_class=Response,
        status_code=405,
    )
    async def whep_patch(camera: str, session_id: str, caller: Live) -> Response:
        raise HTTPException(
            405,
            "trickle ICE and ICE restarts are not supported: the answer carries every "
            "candidate; start a new session instead",
            headers={"Allow": "DELETE"},
        )

    @router.get(
        "/api/v1/cameras/{camera}/snapshot.jpg",
        tags=["live"],
        summary="The camera's latest picture as JPEG",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    async def snapshot(camera: str, caller: Live) -> Response:
        actor = actor_of(caller.principal) if caller is not None else LOCAL
        try:
            shot = await live.snapshot(camera, actor)
        except LiveError as exc:
            raise error_for(exc) from None
        return Response(
            shot.jpeg,
            media_type="image/jpeg",
            headers={"Porchlight-Size": f"{shot.width}x{shot.height}"},
        )

    return router
