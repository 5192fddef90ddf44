"""Camera management over the API (``cameras.manage``: owner and installer) and its page.

- ``GET /cameras``: the page (list, add/edit/remove forms, the zone and mask editor).
- ``GET /api/v1/cameras``: every configured camera with its settings and live status;
  passwords never leave the box (``password_set`` says whether one is stored).
- ``POST /api/v1/cameras`` (201), ``PUT /api/v1/cameras/{camera}``,
  ``DELETE /api/v1/cameras/{camera}`` (204): ``CameraAdmin`` writes the config file,
  re-validated as a whole (422 ``{"error", "field"}`` and nothing written when it would
  not load), then applies the change to the running service. 404 for an unknown camera.
- ``POST /api/v1/cameras/test`` ``{url, username?, password?, transport?, camera?}``: opens
  the stream once (``nvr.capture.probe``, the ingest's own FFmpeg options, about 8 s at
  most) and answers ``{codec, width, height, fps, audio_codec, supported}``, or 422 with
  the reason (wrong user name or password, unreachable, no video ...). ``camera`` alone
  tests a configured camera with its stored credentials.
- ``POST /api/v1/cameras/discover`` ``{interface?, timeout?}``: one WS-Discovery probe on
  one LAN interface (default: the first up, non-loopback one with IPv4), a few seconds.

State-changing routes need the CSRF header (the Authorizer). No ``from __future__ import
annotations``: the handlers are built in the factory.
"""

import asyncio
import socket
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, SecretStr

from nvr.audit.entry import Actor
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission
from nvr.errors import UserError
from nvr.service.camera_admin import (
    CameraAdmin,
    CameraInput,
    CameraInputError,
    CameraNotFound,
    MotionInput,
    Polygon,
    split_userinfo,
)
from nvr.web.pages import Pages

PROBE_TIMEOUT = 4.0  # per step: connect, then a frame (so ~8 s at most)
RECORDABLE = frozenset({"h264", "hevc"})
LOCAL = Actor(role="local", user=None)  # a loopback client before any owner exists

Guard = Callable[[Permission], Callable[[Request], Caller | None]]


class ZoneIn(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=64)
    points: list[tuple[float, float]] = Field(max_length=64)
    sensitivity: Literal["low", "medium", "high"] | None = None


class MaskIn(BaseModel):
    model_config = {"extra": "forbid"}
    name: str | None = Field(default=None, max_length=64)
    points: list[tuple[float, float]] = Field(max_length=64)


class MotionIn(BaseModel):
    model_config = {"extra": "forbid"}
    enabled: bool = True
    sensitivity: Literal["low", "medium", "high"] = "medium"
    zones: list[ZoneIn] = Field(default_factory=list, max_length=16)
    masks: list[MaskIn] = Field(default_factory=list, max_length=16)


class CameraIn(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=64)
    main_url: str | None = Field(default=None, max_length=2048)
    sub_url: str | None = Field(default=None, max_length=2048)
    onvif_host: str | None = Field(default=None, max_length=255)
    onvif_port: int = 80
    username: str | None = Field(default=None, max_length=128)
    password: SecretStr | None = Field(default=None, max_length=1024)
    clear_password: bool = False
    transport: Literal["tcp", "udp"] = "tcp"
    record: Literal["continuous", "events", "off"] = "continuous"
    audio: bool = False
    motion: MotionIn | None = None

    def to_input(self) -> CameraInput:
        motion = None
        if self.motion is not None:
            motion = MotionInput(
                enabled=self.motion.enabled,
                sensitivity=self.motion.sensitivity,
                zones=[Polygon(z.points, z.name, z.sensitivity) for z in self.motion.zones],
                masks=[Polygon(m.points, m.name) for m in self.motion.masks],
            )
        return CameraInput(
            name=self.name.strip(),
            main_url=self.main_url or None,
            sub_url=self.sub_url or None,
            onvif_host=self.onvif_host or None,
            onvif_port=self.onvif_port,
            username=self.username,
            password=None if self.password is None else self.password.get_secret_value(),
            clear_password=self.clear_password,
            transport=self.transport,
            record=self.record,
            audio=self.audio,
            motion=motion,
        )


class TestRequest(BaseModel):
    model_config = {"extra": "forbid"}
    url: str | None = Field(default=None, max_length=2048)
    username: str | None = Field(default=None, max_length=128)
    password: SecretStr | None = Field(default=None, max_length=1024)
    transport: Literal["tcp", "udp"] = "tcp"
    camera: str | None = Field(default=None, max_length=64)


class TestResult(BaseModel):
    codec: str
    width: int
    height: int
    fps: float | None
    audio_codec: str | None
    supported: bool
    summary: str


class DiscoverRequest(BaseModel):
    model_config = {"extra": "forbid"}
    interface: str | None = Field(default=None, max_length=32)
    timeout: float = Field(default=3.0, gt=0, le=10)


def _refusal(exc: CameraInputError) -> HTTPException:
    return HTTPException(422, {"reason": exc.reason, "field": exc.field})


def _with_credentials(url: str, user: str | None, password: str | None) -> str:
    from nvr.config.cameras import with_userinfo

    return with_userinfo(url, user, password)


def default_interface() -> str | None:
    """The first interface that is not loopback and has an IPv4 address."""
    from nvr.onvif.discovery import interface_ipv4

    for _, name in socket.if_nameindex():
        if name == "lo":
            continue
        try:
            interface_ipv4(name)
        except UserError:
            continue
        return name
    return None


def cameras_router(admin: CameraAdmin, guard: Guard, pages: Pages) -> APIRouter:
    router = APIRouter(tags=["cameras"])
    manage = guard(Permission.CAMERAS_MANAGE)

    def actor(caller: Caller | None) -> Actor:
        return LOCAL if caller is None else actor_of(caller.principal)

    @router.get("/cameras", response_class=HTMLResponse, include_in_schema=False)
    def cameras_page(
        request: Request,
        caller: Caller | None = Depends(manage),  # noqa: B008 (a per-app dependency)
    ) -> HTMLResponse:
        return pages.render(request, "cameras.html", caller, title="Cameras")

    @router.get("/api/v1/cameras", summary="Configured cameras, settings and status")
    def list_cameras(
        caller: Caller | None = Depends(manage),  # noqa: B008
    ) -> dict[str, Any]:
        try:
            return {"config": str(admin.config_path), "cameras": admin.listing()}
        except UserError as exc:
            raise HTTPException(409, f"the config file cannot be read: {exc.message}") from None

    async def change(run: Callable[[], Any]) -> Any:
        try:
            return await run()
        except CameraInputError as exc:
            raise _refusal(exc) from None
        except CameraNotFound:
            raise HTTPException(404, "no such camera in the config file") from None
        except UserError as exc:
            raise HTTPException(409, exc.message) from None

    @router.post("/api/v1/cameras", status_code=201, summary="Add a camera (hot)")
    async def add(
        body: CameraIn,
        caller: Caller | None = Depends(manage),  # noqa: B008
    ) -> dict[str, Any]:
        result: dict[str, Any] = await change(lambda: admin.add(body.to_input(), actor(caller)))
        return result

    @router.put("/api/v1/cameras/{camera}", summary="Edit a camera (hot)")
    async def edit(
        camera: str,
        body: CameraIn,
        caller: Caller | None = Depends(manage),  # noqa: B008
    ) -> dict[str, Any]:
        result: dict[str, Any] = await change(
            lambda: admin.edit(camera, body.to_input(), actor(caller))
        )
        return result

    @router.delete("/api/v1/cameras/{camera}", status_code=204, summary="Remove a camera (hot)")
    async def remove(
        camera: str,
        caller: Caller | None = Depends(manage),  # noqa: B008
    ) -> Response:
        await change(lambda: admin.remove(camera, actor(caller)))
        return Response(status_code=204)

    @router.post("/api/v1/cameras/test", summary="Open a stream once and say what it sends")
    async def test(
        body: TestRequest,
        caller: Caller | None = Depends(manage),  # noqa: B008
    ) -> TestResult:
        from nvr.capture.probe import probe

        if body.url:
            try:
                bare, url_user, url_password = split_userinfo(body.url, "url")
            except CameraInputError as exc:
                raise _refusal(exc) from None
            password = body.password.get_secret_value() if body.password else url_password
            url = _with_credentials(bare, body.username or url_user, password)
        elif body.camera:
            stored = await asyncio.to_thread(admin.stream_url, body.camera)
            if stored is None:
                raise HTTPException(404, "no such camera with an RTSP URL in the config file")
            url = stored
        else:
            raise HTTPException(422, {"reason": "give the stream's URL", "field": "url"})
        try:
            found = await asyncio.to_thread(
                probe, url, transport=body.transport, timeout=PROBE_TIMEOUT
            )
        except UserError as exc:
            # The message names the URL with its password masked; keep only the reason.
            reason = exc.message.rpartition(": ")[2] if ": " in exc.message else exc.message
            raise HTTPException(422, {"reason": reason, "field": "url", "hint": exc.hint}) from None
        supported = found.codec in RECORDABLE
        refusal = f": not H.264 or H.265, Porchlight cannot record {found.codec}"
        return TestResult(
            codec=found.codec,
            width=found.width,
            height=found.height,
            fps=found.fps,
            audio_codec=found.audio_codec,
            supported=supported,
            summary=found.summary() + ("" if supported else refusal),
        )

    @router.post("/api/v1/cameras/discover", summary="Find ONVIF cameras on the LAN")
    async def discover(
        body: DiscoverRequest,
        caller: Caller | None = Depends(manage),  # noqa: B008
    ) -> dict[str, Any]:
        from nvr.onvif.discovery import discover as ws_discover

        interface = body.interface or await asyncio.to_thread(default_interface)
        if interface is None:
            raise HTTPException(409, "this box has no network interface with an IPv4 address")
        try:
            devices = await ws_discover(interface, body.timeout)
        except UserError as exc:
            raise HTTPException(422, {"reason": exc.message, "field": "interface"}) from None
        out = []
        for device in devices:
            from urllib.parse import urlsplit

            xaddr = device.xaddrs[0] if device.xaddrs else ""
            parts = urlsplit(xaddr)
            out.append(
                {
                    "xaddr": xaddr,
                    "host": parts.hostname,
                    "port": parts.port or (443 if parts.scheme == "https" else 80),
                    "name": device.name,
                    "hardware": device.hardware,
                }
            )
        return {"interface": interface, "devices": out}

    return router
