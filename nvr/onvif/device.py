"""Ask one ONVIF camera what it is: identity, streams, clock and event support.

Contract:

- ``await probe_device(host, port, username, password, timeout=...)`` returns an
  ``OnvifDevice`` or raises an ``OnvifError`` subclass (``OnvifUnreachable``,
  ``OnvifAuthFailed``, ``NotOnvifDevice``) with a one-line message that names host:port
  and never a password. The whole exchange is bounded by ``timeout`` seconds.
- Stream URIs come back with any userinfo the camera embedded stripped out; the
  credentials travel separately in ``OnvifDevice.credentials`` (password as a ``Secret``),
  so a URI can be logged or stored in config as is.
- ``main`` is the profile with the largest resolution, ``sub`` the smallest (``None``
  when the camera has one profile); a device without a media service has no profiles.
- ``clock_offset_s`` is the camera's UTC clock minus ours, in seconds (positive: the
  camera is ahead), from GetSystemDateAndTime against the ``Clock`` passed in.
- The decisions (which profile is main, stripping URIs, the offset, mapping a library
  exception to a user error) are pure functions below, tested without a camera.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
from onvif import ONVIFCamera, ONVIFError
from onvif.util import is_auth_error
from zeep.exceptions import Fault, TransportError, XMLParseError, XMLSyntaxError

from nvr.clock import Clock, SystemClock
from nvr.onvif.errors import NotOnvifDevice, OnvifAuthFailed, OnvifError, OnvifUnreachable
from nvr.secrets import Secret, scrub

log = logging.getLogger(__name__)

EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
_STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: Secret


@dataclass(frozen=True)
class StreamProfile:
    token: str
    name: str
    encoding: str | None
    width: int
    height: int
    uri: str | None  # RTSP URI without credentials; None if the camera gave none


@dataclass(frozen=True)
class OnvifDevice:
    host: str
    port: int
    manufacturer: str
    model: str
    firmware: str
    serial: str
    profiles: tuple[StreamProfile, ...]
    main: StreamProfile | None
    sub: StreamProfile | None
    clock_offset_s: float | None
    events_supported: bool
    credentials: Credentials | None


# --- pure decisions -------------------------------------------------------------------


def strip_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``uri`` without userinfo, plus the user and password it carried (if any)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=hostport))
    return clean, unquote(user) or None, unquote(password) if sep else None


def pick_main_sub(
    profiles: Sequence[StreamProfile],
) -> tuple[StreamProfile | None, StreamProfile | None]:
    """Main = largest resolution, sub = smallest; ties keep the camera's order."""
    usable = [p for p in profiles if p.uri]
    if not usable:
        return None, None
    main = max(usable, key=lambda p: p.width * p.height)
    sub = min(usable, key=lambda p: p.width * p.height)
    return main, (sub if sub is not main else None)


def clock_offset(camera_utc: datetime, ours: datetime) -> float:
    """Seconds the camera's clock is ahead of ours (negative: behind)."""
    return (camera_utc - ours).total_seconds()


def camera_utc(system_date_and_time: Any) -> datetime | None:
    """The UTC time in a GetSystemDateAndTime answer, or None if it gave none."""
    utc = getattr(system_date_and_time, "UTCDateTime", None)
    if utc is None:
        return None
    d, t = utc.Date, utc.Time
    return datetime(
        int(d.Year), int(d.Month), int(d.Day), int(t.Hour), int(t.Minute), int(t.Second), tzinfo=UTC
    )


def translate_error(exc: BaseException, host: str, port: int) -> OnvifError | None:
    """The user error a library exception means, or None if it is not a camera problem."""
    where = f"{host}:{port}"
    causes: list[BaseException] = [exc]
    if exc.__cause__ is not None:
        causes.append(exc.__cause__)
    for err in causes:
        if isinstance(err, Fault) and is_auth_error(err):
            return OnvifAuthFailed(
                f"ONVIF camera at {where} refused the login (NotAuthorized)",
                hint="check the camera's ONVIF user name and password",
            )
        if isinstance(err, TimeoutError | asyncio.TimeoutError):
            return OnvifUnreachable(f"ONVIF camera at {where} did not answer in time")
        if isinstance(err, aiohttp.ClientConnectionError | ConnectionError):
            return OnvifUnreachable(
                f"cannot reach ONVIF camera at {where}: {type(err).__name__}",
                hint="check the address, the port (often 80, 8000 or 8080) and the network",
            )
        if isinstance(err, TransportError | XMLSyntaxError | XMLParseError | Fault):
            return NotOnvifDevice(
                f"{where} answered but is not an ONVIF device ({type(err).__name__})",
                hint="check the port: ONVIF is often on 80, 8000 or 8080, not the web UI's",
            )
    if isinstance(exc, ONVIFError):
        return NotOnvifDevice(f"{where} answered but is not an ONVIF device: {scrub(str(exc))}")
    return None


def events_supported(xaddrs: dict[str, str], capabilities: dict[str, Any] | None) -> bool:
    """Whether the camera advertises an event service (GetServices or GetCapabilities)."""
    if xaddrs.get(EVENTS_NS):
        return True
    events = (capabilities or {}).get("Events")
    return bool(isinstance(events, dict) and events.get("XAddr"))


# --- I/O ------------------------------------------------------------------------------


def _profile(raw: Any, uri: str | None) -> StreamProfile:
    encoder = getattr(raw, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None)
    return StreamProfile(
        token=str(raw.token),
        name=str(getattr(raw, "Name", "") or raw.token),
        encoding=str(encoder.Encoding) if encoder is not None and encoder.Encoding else None,
        width=int(resolution.Width) if resolution is not None else 0,
        height=int(resolution.Height) if resolution is not None else 0,
        uri=uri,
    )


async def _streams(media: Any) -> tuple[list[StreamProfile], tuple[str | None, str | None]]:
    """Every profile with its URI stripped, plus credentials a URI carried (if any)."""
    profiles = []
    embedded: tuple[str | None, str | None] = (None, None)
    for raw in await media.GetProfiles() or []:
        answer = await media.GetStreamUri({"StreamSetup": _STREAM_SETUP, "ProfileToken": raw.token})
        uri = getattr(answer, "Uri", None)
        clean = None
        if uri:
            clean, user, pw = strip_credentials(str(uri))
            embedded = (user, pw) if user else embedded
        profiles.append(_profile(raw, clean))
    return profiles, embedded


async def _probe(
    camera: Any, username: str | None, password: str | None, clock: Clock
) -> OnvifDevice:
    await camera.update_xaddrs()
    devicemgmt = await camera.create_devicemgmt_service()
    info = await devicemgmt.GetDeviceInformation()
    offset: float | None = None
    try:
        when = camera_utc(await devicemgmt.GetSystemDateAndTime())
        offset = None if when is None else clock_offset(when, clock.wall())
    except (Fault, ONVIFError) as exc:
        log.info("camera %s:%s gave no clock: %s", camera.host, camera.port, scrub(str(exc)))
    try:
        capabilities = await camera.get_capabilities()
    except (Fault, ONVIFError):
        capabilities = None
    # A device without a media service (an events-only door station) has no streams.
    if MEDIA_NS in camera.xaddrs:
        profiles, embedded = await _streams(await camera.create_media_service())
    else:
        profiles, embedded = [], (None, None)
    main, sub = pick_main_sub(profiles)
    user = username or embedded[0]
    secret = password if password is not None else embedded[1]
    return OnvifDevice(
        host=camera.host,
        port=camera.port,
        manufacturer=str(info.Manufacturer or ""),
        model=str(info.Model or ""),
        firmware=str(info.FirmwareVersion or ""),
        serial=str(info.SerialNumber or ""),
        profiles=tuple(profiles),
        main=main,
        sub=sub,
        clock_offset_s=offset,
        events_supported=events_supported(dict(camera.xaddrs), capabilities),
        credentials=Credentials(user, Secret(secret or "")) if user else None,
    )


async def probe_device(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    *,
    timeout: float,
    clock: Clock | None = None,
) -> OnvifDevice:
    """Identity, main/sub stream URIs, clock offset and event support of one camera."""
    # adjust_time: sign WS-Security with the camera's clock, so a camera hours off
    # still accepts the login and we can tell the owner about its clock.
    camera = ONVIFCamera(
        host, port, username or "", password or "", no_cache=True, adjust_time=True
    )
    try:
        async with asyncio.timeout(timeout):
            return await _probe(camera, username, password, clock or SystemClock())
    except Exception as exc:
        user_error = translate_error(exc, host, port)
        if user_error is None:
            raise
        raise user_error from None
    finally:
        await camera.close()
