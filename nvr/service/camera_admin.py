"""Cameras changed from the dashboard: the config file first, then the running service.

Contract (docs/design/first-run.md, "Cameras"):
- ``CameraAdmin(config_path, cameras, record, ...)`` adds, edits and removes cameras of the
  config file the installer also edits (``nvr.config.edit``: comments kept, the whole
  config re-validated before anything is written; a password goes to the secrets file as
  ``<name>_password`` and the config names it ``!secret <name>_password``, as
  ``nvr cameras add`` does), then applies the change to the running ``CameraSet``
  (``remove_camera`` / ``add_camera``) without a restart. Recorded footage is never
  touched. Each change is an audit entry without any secret.
- Bad input raises ``CameraInputError(field, reason)`` (``field`` relative to the camera,
  e.g. ``main_url`` or ``motion.zones[0].points``) and nothing is written; an unknown
  camera ``CameraNotFound``.
- ``listing()`` is every configured camera with its settings and live status; passwords
  are never returned, only whether one is set.
- Changes are serialised (one ``asyncio.Lock``); the file work runs in a thread.

Only cameras are hot-applied: other config sections (retention, notifications, a camera's
``doorbell_webhook``) still take effect at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from nvr.audit.entry import Actor
from nvr.config import CameraConfig, load_config
from nvr.config.edit import (
    FlowList,
    SecretRef,
    add_camera,
    camera_data,
    camera_names,
    remove_camera,
    replace_camera,
)
from nvr.config.errors import ConfigError
from nvr.secrets import mask_url
from nvr.service.cameras import DEMO_CAMERA, CameraSet
from nvr.service.status import CameraStatus

log = logging.getLogger(__name__)

Record = Callable[[str, dict[str, Any], Actor], object]


class CameraInputError(Exception):
    """A camera the config would refuse: ``field`` (relative to the camera) and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class CameraNotFound(Exception):
    pass


@dataclass(frozen=True)
class Polygon:
    points: list[tuple[float, float]]
    name: str | None = None
    sensitivity: str | None = None


@dataclass(frozen=True)
class MotionInput:
    enabled: bool = True
    sensitivity: str = "medium"
    zones: list[Polygon] = field(default_factory=list)
    masks: list[Polygon] = field(default_factory=list)


@dataclass(frozen=True)
class CameraInput:
    """What the dashboard sends for a camera. ``password`` ``None`` keeps the stored one
    (``clear_password`` removes it); ``motion`` ``None`` keeps the motion settings."""

    name: str
    main_url: str | None = None
    sub_url: str | None = None
    onvif_host: str | None = None
    onvif_port: int = 80
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    clear_password: bool = False
    transport: Literal["tcp", "udp"] = "tcp"
    record: Literal["continuous", "events", "off"] = "continuous"
    audio: bool = False
    motion: MotionInput | None = None


def split_userinfo(url: str, what: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user:password@``, and the two (decoded); never echoes the URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise CameraInputError(
            what, "not a valid URL (percent-encode ':' '@' '/' in the password)"
        ) from None
    if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
        raise CameraInputError(what, "must be an rtsp:// or rtsps:// URL with a host")
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, user or None, password or None


_ISSUE_PATH = re.compile(r"cameras\[(\d+)\]\.?(.*)")


def _field_of(issue_path: str, index: int) -> str | None:
    match = _ISSUE_PATH.fullmatch(issue_path)
    if match is None or int(match[1]) != index:
        return None
    return match[2] or "camera"


class CameraAdmin:
    def __init__(
        self,
        config_path: Path,
        cameras: CameraSet,
        record: Record,
        *,
        env: Mapping[str, str] | None = None,
        on_change: Callable[[list[CameraConfig]], None] | None = None,
    ) -> None:
        self.config_path = config_path
        self._cameras = cameras
        self._record = record
        self._env = env
        self._on_change = on_change  # the service keeps its own config's camera list
        self._lock = asyncio.Lock()

    # --- reading -----------------------------------------------------------------------

    def _configured(self) -> list[CameraConfig]:
        if not self.config_path.exists():
            return []
        return load_config(self.config_path, env=self._env).cameras

    def listing(self) -> list[dict[str, Any]]:
        statuses = {s.name: s for s in self._cameras.statuses()}
        out = [_describe(cam, statuses.get(cam.name)) for cam in self._configured()]
        demo = statuses.get(DEMO_CAMERA)
        if demo is not None:
            out.append(
                {
                    "name": DEMO_CAMERA,
                    "demo": True,
                    "editable": False,
                    "source": "built-in demo doorbell",
                    "status": demo,
                }
            )
        return out

    def stream_url(self, name: str) -> str | None:
        """Camera ``name``'s main stream with its stored credentials (never logged), for
        the dashboard's live test of a configured camera; None if it has no RTSP URL."""
        cam = next((c for c in self._configured() if c.name == name), None)
        return None if cam is None else cam.stream_url("main")

    # --- changes -----------------------------------------------------------------------

    async def add(self, body: CameraInput, actor: Actor) -> dict[str, Any]:
        async with self._lock:
            if body.name == DEMO_CAMERA:
                raise CameraInputError("name", f"{DEMO_CAMERA!r} is the built-in demo's name")
            names = await asyncio.to_thread(self._names)
            if body.name in names:
                raise CameraInputError("name", f"a camera named {body.name!r} already exists")
            mapping, secrets = _mapping(body, None)
            await self._write(
                lambda: add_camera(self.config_path, mapping, secrets=secrets, env=self._env),
                len(names),
            )
            cam = await self._apply(body.name, start=True)
            self._record("cameras.add", _audit(cam, bool(secrets)), actor)
            return _describe(cam, None)

    async def edit(self, name: str, body: CameraInput, actor: Actor) -> dict[str, Any]:
        async with self._lock:
            names = await asyncio.to_thread(self._names)
            if name not in names:
                raise CameraNotFound(name)
            if body.name != name:
                raise CameraInputError("name", "a camera cannot be renamed: remove it, add anew")
            old = await asyncio.to_thread(camera_data, self.config_path, name)
            mapping, secrets = _mapping(body, old)
            await self._write(
                lambda: replace_camera(
                    self.config_path, name, mapping, secrets=secrets, env=self._env
                ),
                names.index(name),
            )
            await self._cameras.remove_camera(name)
            cam = await self._apply(name, start=True)
            changed = sorted(k for k in {*old, *mapping} if old.get(k) != mapping.get(k))
            payload = {**_audit(cam, bool(secrets)), "changed": changed}
            self._record("cameras.edit", payload, actor)
            return _describe(cam, None)

    async def remove(self, name: str, actor: Actor) -> None:
        async with self._lock:
            names = await asyncio.to_thread(self._names)
            if name not in names:
                raise CameraNotFound(name)
            await self._write(
                lambda: remove_camera(self.config_path, name, env=self._env), names.index(name)
            )
            await self._cameras.remove_camera(name)
            await self._apply(name, start=False)
            self._record("cameras.remove", {"camera": name, "footage": "kept"}, actor)

    # --- helpers -----------------------------------------------------------------------

    def _names(self) -> list[str]:
        return camera_names(self.config_path)

    async def _write(self, write: Callable[[], None], index: int) -> None:
        try:
            await asyncio.to_thread(write)
        except ConfigError as exc:
            for issue in exc.issues:
                where = _field_of(issue.path, index)
                if where is not None:
                    raise CameraInputError(where, issue.message) from None
            first = exc.issues[0] if exc.issues else None
            raise CameraInputError(
                "config", first.message if first else "the config would not be valid"
            ) from None

    async def _apply(self, name: str, *, start: bool) -> CameraConfig:
        cameras = await asyncio.to_thread(self._configured)
        if self._on_change is not None:
            self._on_change(cameras)
        if not start:
            return CameraConfig.model_construct(name=name)
        cam = next(c for c in cameras if c.name == name)
        if self._cameras.has_camera(name):
            # Running under a name the file did not have (removed with the CLI meanwhile).
            await self._cameras.remove_camera(name)
        await self._cameras.add_camera(cam)
        return cam


def _mapping(
    body: CameraInput, old: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The camera as config data (kept keys of ``old`` the dashboard does not edit), and
    the secrets to store."""
    cam: dict[str, Any] = dict(old or {})
    cam["name"] = body.name
    secret = f"{body.name}_password"
    kept_password = cam.pop("password", None)
    old_onvif = cam.pop("onvif", None)
    if isinstance(old_onvif, dict) and kept_password is None:
        kept_password = old_onvif.get("password")
    for key in ("main_url", "sub_url", "username"):
        cam.pop(key, None)
    username = body.username or None
    password = body.password or None
    if (body.main_url is None) == (body.onvif_host is None):
        raise CameraInputError("main_url", "give either an RTSP URL or an ONVIF host")
    if body.main_url is not None:
        main, url_user, url_password = split_userinfo(body.main_url, "main_url")
        if url_user is not None and username is not None and url_user != username:
            raise CameraInputError("username", "differs from the user name in the URL")
        username = username or url_user
        password = password or url_password
        cam["main_url"] = main
        if body.sub_url:
            sub, sub_user, sub_password = split_userinfo(body.sub_url, "sub_url")
            if sub_user not in (None, username) or sub_password not in (None, password):
                raise CameraInputError("sub_url", "carries other credentials than the main URL")
            cam["sub_url"] = sub
        cam["username"] = username
    else:
        assert body.onvif_host is not None
        host = body.onvif_host.strip()
        if not host or any(c in host for c in "/@ ") or not 1 <= body.onvif_port <= 65535:
            raise CameraInputError("onvif.host", "expected a host name or IP address and a port")
        cam["onvif"] = {"host": host, "port": body.onvif_port, "username": username}
    secrets: dict[str, str] = {}
    ref: Any = None
    if password is not None:
        if username is None:
            raise CameraInputError("password", "a password needs a user name")
        secrets[secret] = password
        ref = SecretRef(secret)
    elif not body.clear_password and username is not None:
        ref = kept_password
    if body.main_url is not None:
        cam["password"] = ref
    else:
        cam["onvif"]["password"] = ref
    cam["transport"] = body.transport
    cam["record"] = body.record
    if body.audio:
        cam["audio"] = True
    else:
        cam.pop("audio", None)
    if body.motion is not None:
        motion = dict(cam.get("motion") or {})
        motion["enabled"] = body.motion.enabled
        motion["sensitivity"] = body.motion.sensitivity
        motion["zones"] = [
            {"name": z.name, "points": _points(z), "sensitivity": z.sensitivity}
            for z in body.motion.zones
        ]
        motion["masks"] = [{"name": m.name, "points": _points(m)} for m in body.motion.masks]
        for key in ("zones", "masks"):
            if not motion[key]:
                del motion[key]
        cam["motion"] = motion
    return {k: v for k, v in cam.items() if v is not None}, secrets


def _points(polygon: Polygon) -> FlowList:
    return FlowList(FlowList([round(x, 4), round(y, 4)]) for x, y in polygon.points)


def _source(cam: CameraConfig) -> str:
    if cam.onvif is not None:
        return f"onvif://{cam.onvif.host}:{cam.onvif.port}"
    return mask_url(cam.main_url.reveal()) if cam.main_url is not None else ""


def _audit(cam: CameraConfig, new_password: bool) -> dict[str, Any]:
    return {
        "camera": cam.name,
        "source": _source(cam),
        "record": cam.record,
        "transport": cam.transport,
        "new_password": new_password,
    }


def _describe(cam: CameraConfig, status: CameraStatus | None) -> dict[str, Any]:
    """A configured camera for the dashboard: settings, never a password."""
    onvif = cam.onvif
    if onvif is not None:
        password_set = onvif.password is not None
        username = onvif.username
    else:
        url_password = urlsplit(cam.main_url.reveal()).password if cam.main_url else None
        password_set = cam.password is not None or bool(url_password)
        username = cam.username or (
            urlsplit(cam.main_url.reveal()).username if cam.main_url else None
        )
    motion = cam.motion
    return {
        "name": cam.name,
        "demo": False,
        "editable": True,
        "source": _source(cam),
        "main_url": None if cam.main_url is None else _bare(cam.main_url.reveal()),
        "sub_url": None if cam.sub_url is None else _bare(cam.sub_url.reveal()),
        "onvif_host": None if onvif is None else onvif.host,
        "onvif_port": None if onvif is None else onvif.port,
        "username": username,
        "password_set": password_set,
        "transport": cam.transport,
        "record": cam.record,
        "audio": cam.audio,
        "motion": {
            "enabled": motion.enabled,
            "sensitivity": motion.sensitivity,
            "zones": [
                {
                    "name": z.name,
                    "points": [list(p) for p in z.points],
                    "sensitivity": z.sensitivity,
                }
                for z in motion.zones
            ],
            "masks": [
                {"name": m.name, "points": [list(p) for p in m.points]} for m in motion.masks
            ],
        },
        "status": status,
    }


def _bare(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def default_config_path(data_dir: Path) -> Path:
    """Where the dashboard writes cameras when the service runs without a config file
    (``nvr demo`` without ``--config``; ``nvr serve`` uses ``/etc/nvr/nvr.yaml``)."""
    return data_dir / "nvr.yaml"


__all__ = [
    "CameraAdmin",
    "CameraInput",
    "CameraInputError",
    "CameraNotFound",
    "MotionInput",
    "Polygon",
    "default_config_path",
    "split_userinfo",
]
