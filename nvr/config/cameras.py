"""Camera entries of the config: where the streams are and what to do with them.

Contract: a camera has a slug `name` and exactly one stream source, `main_url` (with an
optional `sub_url`) or `onvif` (the streams are asked from the camera). URLs print with
their password masked; `url.reveal()` or `CameraConfig.stream_url()` give the real one.
Motion polygons are lists of at least three `(x, y)` points, each a fraction (0..1) of the
picture's width and height, origin top left.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from nvr.config.base import Section
from nvr.config.types import RtspUrl, SecretText, invalid
from nvr.secrets import Secret

__all__ = [
    "CameraConfig",
    "DoorbellWebhookConfig",
    "MotionConfig",
    "MotionMask",
    "MotionZone",
    "OnvifConfig",
    "PrivacyMask",
]

CAMERA_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

Fraction = Annotated[float, Field(ge=0, le=1)]
Point = tuple[Fraction, Fraction]
Polygon = Annotated[list[Point], Field(min_length=3)]


class PrivacyMask(Section):
    """An area blacked out of every clip released from this camera (a neighbour's window,
    a street). Filled solid by redaction; motion in it is still detected (see masks)."""

    name: str | None = None
    """Optional label, for your own reference."""
    points: Polygon
    """Corners of the polygon, `[x, y]` fractions of the picture (0..1), at least three."""


Sensitivity = Literal["low", "medium", "high"]


class MotionZone(Section):
    """An area of the picture; motion in it raises an event tagged with the zone's name."""

    name: str = Field(min_length=1)
    """Shown on events and used to filter notifications; unique within the camera."""
    points: Polygon
    """Corners of the polygon, `[x, y]` fractions of the picture (0..1), at least three."""
    sensitivity: Sensitivity | None = None
    """This zone's own sensitivity, instead of the camera's `motion.sensitivity`."""


class MotionMask(Section):
    """An area whose motion is ignored: a busy street, a tree, a timestamp overlay."""

    name: str | None = None
    """Optional label, for your own reference."""
    points: Polygon
    """Corners of the polygon, `[x, y]` fractions of the picture (0..1), at least three."""


class MotionConfig(Section):
    """Motion detection on the camera's sub-stream."""

    enabled: bool = True
    """Detect motion on this camera."""
    sensitivity: Sensitivity = "medium"
    """How little change counts as motion: `high` catches more, with more false alarms."""
    fps: float = Field(default=5.0, gt=0, le=30)
    """Frames analysed per second; frames in between are skipped, never queued."""
    analysis_height: int = Field(default=180, ge=72, le=720)
    """Height in pixels the picture is scaled to for analysis (the width keeps the aspect)."""
    start_frames: int = Field(default=2, ge=1, le=50)
    """Consecutive analysed frames with motion needed to start an event."""
    quiet_seconds: float = Field(default=6.0, gt=0, le=600)
    """Seconds without motion after which an event ends."""
    zones: list[MotionZone] = Field(default_factory=list)
    """Named areas; with none, the whole picture (minus masks) is one zone."""
    masks: list[MotionMask] = Field(default_factory=list)
    """Areas to ignore; they win over zones."""

    @model_validator(mode="after")
    def _unique_zone_names(self) -> MotionConfig:
        seen: dict[str, int] = {}
        for index, zone in enumerate(self.zones):
            if zone.name in seen:
                raise invalid(
                    f"zone name {{value}} is already used by zones[{seen[zone.name]}]",
                    "zones",
                    index,
                    "name",
                    value=zone.name,
                )
            seen[zone.name] = index
        return self


def with_userinfo(url: str, username: str | None, password: Secret | str | None) -> str:
    """``url`` with ``username``/``password`` as its userinfo, unless it already has one
    or no username is given. The password is revealed here: never log the result."""
    parts = urlsplit(url)
    if not username or parts.username is not None:
        return url
    userinfo = quote(username, safe="")
    if password:
        secret = password.reveal() if isinstance(password, Secret) else password
        userinfo += ":" + quote(secret, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


class OnvifConfig(Section):
    """A camera reached through ONVIF: stream URLs and events are asked from the device."""

    host: str = Field(min_length=1)
    """Host name or IP address of the camera."""
    port: int = Field(default=80, ge=1, le=65535)
    """Port of the camera's ONVIF (HTTP) service."""
    username: str | None = None
    """ONVIF user name."""
    password: SecretText | None = None
    """ONVIF password. Prefer `${VAR}` or `!secret name` to writing it here."""


DOORBELL_SECRET_MIN = 32


class DoorbellWebhookConfig(Section):
    """A bell button that reports presses to Porchlight with a signed HTTP POST."""

    secret: SecretText
    """Shared key (at least 32 characters) with which the button signs each press."""

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, secret: Secret) -> Secret:
        if len(secret.reveal()) < DOORBELL_SECRET_MIN:
            raise invalid(
                f"must be at least {DOORBELL_SECRET_MIN} characters; "
                "make one with 'openssl rand -hex 32'"
            )
        return secret


class RetentionConfig(Section):
    """How long recordings are kept; the quota can remove them sooner."""

    continuous_days: int = Field(default=14, ge=0)
    """Days to keep continuous recordings; 0 means no age limit (only the quota applies)."""
    event_days: int = Field(default=30, ge=0)
    """Days to keep event recordings; 0 means no age limit (only the quota applies)."""


class CameraConfig(Section):
    """One camera."""

    name: str
    """Short id: 1-32 of `a-z 0-9 _ -`, starting with a letter or digit; unique."""
    main_url: RtspUrl | None = None
    """RTSP URL of the full-quality stream that is recorded (`rtsp://` or `rtsps://`)."""
    sub_url: RtspUrl | None = None
    """RTSP URL of a low-resolution stream for motion detection (needs `main_url`)."""
    onvif: OnvifConfig | None = None
    """Ask the camera for its streams over ONVIF instead of giving `main_url`."""
    username: str | None = None
    """RTSP user name, for URLs that carry no credentials."""
    password: SecretText | None = None
    """RTSP password, for URLs that carry no credentials. Needs `username`."""
    transport: Literal["tcp", "udp"] = "tcp"
    """RTSP transport; TCP survives Wi-Fi packet loss better."""
    record: Literal["continuous", "events", "off"] = "continuous"
    """Record all the time, only around events, or not at all (live view only)."""
    audio: bool = False
    """Record and stream the camera's microphone. Check local law before turning it on."""
    motion: MotionConfig = Field(default_factory=MotionConfig)
    """Motion detection settings."""
    doorbell_topic: str | None = None
    """MQTT topic whose messages mean "the doorbell was pressed" (for non-ONVIF buttons)."""
    doorbell_webhook: DoorbellWebhookConfig | None = None
    """Accept signed doorbell presses at `POST /api/v1/cameras/<name>/doorbell`."""
    retention: RetentionConfig | None = None
    """This camera's own retention, instead of `storage.retention`."""
    privacy_masks: list[PrivacyMask] = Field(default_factory=list)
    """Areas filled solid in every clip released from this camera (docs/design/redaction.md)."""

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not CAMERA_NAME.fullmatch(name):
            raise invalid(
                "{value} is not a valid camera name: use 1-32 of a-z, 0-9, '_' and '-', "
                "starting with a letter or digit",
                value=name,
            )
        return name

    @field_validator("doorbell_topic")
    @classmethod
    def _topic(cls, topic: str | None) -> str | None:
        if topic is not None and not topic.strip():
            raise invalid("must not be empty; leave the key out instead")
        return topic

    @model_validator(mode="after")
    def _one_source(self) -> CameraConfig:
        if self.main_url is not None and self.onvif is not None:
            raise invalid("give either main_url or onvif, not both", "onvif")
        if self.main_url is None and self.onvif is None:
            raise invalid("needs main_url (an RTSP URL) or onvif (to ask the camera for it)")
        if self.sub_url is not None and self.main_url is None:
            raise invalid("sub_url needs main_url; ONVIF cameras report their streams", "sub_url")
        if self.password is not None and self.username is None:
            raise invalid("password needs username", "password")
        url_user = None if self.main_url is None else urlsplit(self.main_url.reveal()).username
        if self.username is not None and url_user is not None:
            raise invalid(
                "credentials are given both in main_url and in username/password; keep one",
                "username",
            )
        return self

    def stream_url(self, stream: Literal["main", "sub"] = "main") -> str | None:
        """The real URL to open for `stream`, with `username`/`password` filled in.

        `None` when the camera has no such configured URL (ONVIF cameras, or no sub-stream).
        """
        url = self.main_url if stream == "main" else self.sub_url
        if url is None:
            return None
        return with_userinfo(url.reveal(), self.username, self.password)
