"""The typed configuration: one `Config` tree, validated from the YAML file.

Contract: field names here are what other packages code against. `Config()` is a valid
configuration with every default and no camera. Models are frozen, reject unknown keys and
hold no runtime state; secrets are `nvr.secrets.Secret` values that print as `***`.
Derived values that several packages need (the database URL, the quota in bytes, whether the
demo camera runs) are methods here so the rule lives in one place.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from nvr.config.base import Section
from nvr.config.cameras import CameraConfig, RetentionConfig
from nvr.config.types import ConfigPath, DatabaseUrl, Quota, SecretText, invalid, parse_quota

__all__ = [
    "Config",
    "DatabaseConfig",
    "DemoConfig",
    "LoggingConfig",
    "MetricsConfig",
    "MqttConfig",
    "MqttTlsConfig",
    "NotificationsConfig",
    "RetentionConfig",
    "SecurityConfig",
    "ServerConfig",
    "StorageConfig",
    "TlsConfig",
    "WebhookConfig",
    "WebhookEvent",
    "is_local_address",
]


class TlsConfig(Section):
    """The dashboard's TLS certificate."""

    mode: Literal["self-signed", "files"] = "self-signed"
    """`self-signed`: generate one in the data directory; `files`: use `cert` and `key`."""
    cert: ConfigPath | None = None
    """PEM certificate chain (`mode: files` only)."""
    key: ConfigPath | None = None
    """PEM private key (`mode: files` only)."""

    @model_validator(mode="after")
    def _files_match_mode(self) -> TlsConfig:
        if self.mode == "files":
            for key in ("cert", "key"):
                if getattr(self, key) is None:
                    raise invalid(f"mode 'files' needs both cert and key; {key} is missing")
        else:
            for key in ("cert", "key"):
                if getattr(self, key) is not None:
                    raise invalid(f"{key} is only used with mode: files", key)
        return self


class ServerConfig(Section):
    """The HTTPS dashboard and API."""

    bind: str = "0.0.0.0"  # noqa: S104  (a LAN appliance: the dashboard is for the house)
    """IP address to listen on: `0.0.0.0` (all IPv4), `::` (all), or one address."""
    port: int = Field(default=8443, ge=1, le=65535)
    """HTTPS port."""
    http_redirect_port: int | None = Field(default=None, ge=1, le=65535)
    """If set, a plain-HTTP port that only redirects to HTTPS."""
    tls: TlsConfig = Field(default_factory=TlsConfig)
    """TLS certificate settings."""

    @field_validator("bind")
    @classmethod
    def _ip_address(cls, bind: str) -> str:
        if bind != "localhost":
            try:
                ipaddress.ip_address(bind)
            except ValueError:
                raise invalid(
                    "{value} is not an IP address (such as 0.0.0.0, 127.0.0.1 or ::)", value=bind
                ) from None
        return bind

    @model_validator(mode="after")
    def _distinct_ports(self) -> ServerConfig:
        if self.http_redirect_port == self.port:
            raise invalid("must differ from port", "http_redirect_port")
        return self


class StorageConfig(Section):
    """Where and how recordings are written."""

    data_dir: ConfigPath = Path("/var/lib/nvr")
    """Folder for recordings, database and keys; a relative path starts at the config's folder."""
    segment_seconds: int = Field(default=60, ge=10, le=300)
    """Length of one recording segment file."""
    fsync_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    """At most this much footage is lost on a power cut."""
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    """Retention periods."""
    quota: str | None = None
    """Most space recordings may use: a size (`500GB`, `1.5TiB`) or a share (`90%`)."""
    export_memory_mib: int = Field(default=512, ge=128, le=65_536)
    """Memory one export may use, in MiB; a longer clip is refused (split it)."""

    @field_validator("quota", mode="before")
    @classmethod
    def _bytes_as_text(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("quota")
    @classmethod
    def _parse(cls, quota: str | None) -> str | None:
        if quota is not None:
            try:
                parse_quota(quota)
            except ValueError as exc:
                raise invalid(str(exc)) from None
        return quota

    def parsed_quota(self) -> Quota | None:
        """The quota as bytes or percent, or `None` when there is none."""
        return None if self.quota is None else parse_quota(self.quota)

    def quota_bytes(self, volume_size: int) -> int | None:
        """The quota in bytes on a volume of `volume_size` bytes; `None` if unlimited."""
        quota = self.parsed_quota()
        return None if quota is None else quota.resolve(volume_size)


class DatabaseConfig(Section):
    """The index database."""

    url: DatabaseUrl | None = None
    """SQLAlchemy URL, e.g. `postgresql+psycopg://nvr:${PGPASSWORD}@db/nvr`; empty: SQLite."""


class MqttTlsConfig(Section):
    """TLS to the MQTT broker."""

    enabled: bool = False
    """Connect with TLS (the broker's certificate is always checked)."""
    ca_file: ConfigPath | None = None
    """PEM file of the CA that signed the broker's certificate; none: the system's CAs."""
    cert_file: ConfigPath | None = None
    """PEM client certificate, for brokers that want one (needs `key_file`)."""
    key_file: ConfigPath | None = None
    """PEM private key of `cert_file`."""

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            raise invalid("cert_file and key_file go together", missing)
        return self


class MqttConfig(Section):
    """MQTT events, with Home Assistant discovery."""

    enabled: bool = False
    """Publish events to an MQTT broker."""
    host: str = "127.0.0.1"
    """Broker host name or address."""
    port: int = Field(default=1883, ge=1, le=65535)
    """Broker port (usually 1883, or 8883 with TLS)."""
    tls: MqttTlsConfig = Field(default_factory=MqttTlsConfig)
    """TLS to the broker; `true` or `false` is short for `{enabled: ...}`."""
    username: str | None = None
    """Broker user name."""
    password: SecretText | None = None
    """Broker password."""
    topic_prefix: str = "porchlight"
    """First level of the topics Porchlight publishes to."""
    discovery_prefix: str = "homeassistant"
    """Home Assistant's discovery prefix."""
    queue_size: int = Field(default=1000, ge=10, le=100_000)
    """Events kept while the broker is unreachable; beyond this the oldest are dropped."""

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_flag(cls, value: object) -> object:
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _plain_topic(cls, prefix: str) -> str:
        if not prefix or prefix.startswith("/") or prefix.endswith("/"):
            raise invalid("must be a non-empty topic without a leading or trailing '/'")
        if "#" in prefix or "+" in prefix:
            raise invalid("must not contain the MQTT wildcards '#' or '+'")
        return prefix


WebhookEvent = Literal["motion", "doorbell", "camera_offline", "camera_online"]


def is_local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private (RFC 1918, ULA) or link-local: an address inside the house."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_private or address.is_link_local


class WebhookConfig(Section):
    """An HTTP POST sent to a local service when an event happens."""

    name: str = Field(min_length=1)
    """Label used in logs; unique."""
    url: str
    """`http://` or `https://` URL to POST to."""
    secret: SecretText
    """Shared key with which the receiver checks that a request came from Porchlight."""
    events: list[WebhookEvent] = Field(min_length=1)
    """Which events to send."""
    allow_public: bool = False
    """Allow a receiver outside the local network (its host resolves to a public address)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise invalid("must be an http:// or https:// URL")
        if parts.password is not None:
            # The URL is a plain string that may be logged: no credentials in it.
            raise invalid("must not contain a password; the receiver can check 'secret'")
        try:
            parts.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError:
            raise invalid("has a port that is not a number from 1 to 65535") from None
        if not parts.hostname:
            raise invalid("must name a host")
        return url

    @model_validator(mode="after")
    def _local_unless_allowed(self) -> WebhookConfig:
        host = urlsplit(self.url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return self  # a name: checked when it is resolved, before each request
        if not self.allow_public and not is_local_address(address):
            raise invalid(
                "is a public address; webhooks go to the local network unless allow_public: true",
                "url",
            )
        return self


class NotificationsConfig(Section):
    """Where events are sent. Nothing leaves the box unless enabled here."""

    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    """MQTT broker settings."""
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    """Webhooks to call."""

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, hooks: list[WebhookConfig]) -> list[WebhookConfig]:
        _raise_on_duplicate([hook.name for hook in hooks], "webhook", "webhooks")
        return hooks


class LoggingConfig(Section):
    """Log output (to the journal under systemd)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Least severe level written."""
    format: Literal["text", "json"] = "text"
    """One line of text per record, or one JSON object per line."""


class SecurityConfig(Section):
    """How long a sign-in and unlocked footage stay open without use."""

    footage_idle_lock_seconds: int = Field(default=600, ge=10, le=86_400)
    """Footage locks after this many seconds without a footage request; the owner's key
    passphrase opens it again. Under 60 is only sensible for tests (minimum 10)."""
    session_idle_seconds: int = Field(default=1800, ge=60, le=604_800)
    """A session ends after this many seconds without a request (sign in again)."""
    session_max_age_seconds: int = Field(default=43_200, ge=300, le=2_592_000)
    """A session ends this many seconds after sign-in, whatever happens."""

    @model_validator(mode="after")
    def _ordered(self) -> SecurityConfig:
        if self.session_idle_seconds > self.session_max_age_seconds:
            raise invalid("must not exceed session_max_age_seconds", "session_idle_seconds")
        if self.footage_idle_lock_seconds > self.session_max_age_seconds:
            raise invalid("must not exceed session_max_age_seconds", "footage_idle_lock_seconds")
        return self

    def footage_idle_lock(self) -> timedelta:
        return timedelta(seconds=self.footage_idle_lock_seconds)

    def session_idle(self) -> timedelta:
        return timedelta(seconds=self.session_idle_seconds)

    def session_max_age(self) -> timedelta:
        return timedelta(seconds=self.session_max_age_seconds)


class MetricsConfig(Section):
    """Prometheus metrics on a listener of their own, bound to this box only."""

    enabled: bool = False
    """Serve `/metrics` (plain HTTP, no sign-in) on `listen`. Off: nothing listens."""
    listen: str = "127.0.0.1:9108"
    """`HOST:PORT` to listen on; the host must be a loopback address (`127.0.0.1`,
    `[::1]`): the metrics name the cameras and are not for the network."""

    @field_validator("listen")
    @classmethod
    def _loopback(cls, listen: str) -> str:
        host, port = split_listen(listen)
        if not ipaddress.ip_address(host).is_loopback:
            raise invalid(
                "{value} is not a loopback address: metrics are served to this box only "
                "(scrape through an SSH tunnel or a reverse proxy with its own sign-in)",
                value=host,
            )
        if not 0 <= port <= 65535:
            raise invalid("port {value} is not 0..65535", value=port)
        return listen

    def address(self) -> tuple[str, int]:
        """``(host, port)`` to bind (IPv6 without brackets)."""
        return split_listen(self.listen)


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9108"`` / ``"[::1]:9108"`` -> host and port; ``invalid`` otherwise."""
    host, sep, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
        if not sep or not port.isdigit():
            raise ValueError
    except ValueError:
        raise invalid(
            "{value} is not HOST:PORT with an IP address (such as 127.0.0.1:9108)", value=listen
        ) from None
    return host, int(port)


# demo.scene -> the endless scene of nvr.demo.scene that plays it.
DEMO_SCENES = {"visitors": "demo", "faces": "demo_faces"}


class DemoConfig(Section):
    """The built-in demo doorbell, for trying Porchlight without a camera."""

    enabled: Literal["auto", "on", "off"] = "auto"
    """`auto`: run it only when no camera is configured."""
    scene: Literal["visitors", "faces"] = "visitors"
    """What the demo doorbell shows: `visitors` (people passing and ringing, for motion
    events) or `faces` (a visitor looking into the camera every 20 s, for trying redaction
    and the sharing flow)."""

    def scene_name(self) -> str:
        """The ``nvr.demo.scene`` scene that plays this choice (both are endless)."""
        return DEMO_SCENES[self.scene]


class Config(Section):
    """Porchlight configuration."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    """Dashboard and API."""
    storage: StorageConfig = Field(default_factory=StorageConfig)
    """Recordings on disk."""
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    """Index database."""
    cameras: list[CameraConfig] = Field(default_factory=list)
    """Cameras to record."""
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    """MQTT and webhooks."""
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    """Log level and format."""
    demo: DemoConfig = Field(default_factory=DemoConfig)
    """Demo camera."""
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    """Idle lock of footage, session lifetimes."""
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    """Prometheus metrics (off unless enabled)."""

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        _raise_on_duplicate([camera.name for camera in cameras], "camera", "cameras")
        return cameras

    def database_url(self) -> str:
        """The real database URL (password included): SQLite in the data dir by default."""
        if self.database.url is not None:
            return self.database.url.reveal()
        return f"sqlite:///{self.storage.data_dir / 'nvr.sqlite3'}"

    def demo_wanted(self) -> bool:
        """Whether to run the built-in demo doorbell."""
        if self.demo.enabled == "auto":
            return not self.cameras
        return self.demo.enabled == "on"


def _raise_on_duplicate(names: list[str], what: str, key: str) -> None:
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in first:
            raise invalid(
                f"{what} name {{value}} is already used by {key}[{first[name]}]",
                index,
                "name",
                value=name,
            )
        first[name] = index
