"""The installer's configuration: one YAML file, validated into one typed ``Config``.

Public API (other packages import only these names from ``nvr.config``):
- ``Config`` and its section models;
- ``load_config(path, *, env=None)``: ``path`` ``None`` locates the file; none found gives
  ``Config()`` (all defaults, no camera);
- ``parse_config_text(text, filename, *, env=None, secrets_file=None)``;
- ``locate_config(explicit, *, env=None, search=DEFAULT_SEARCH)``;
- ``ConfigError`` (a ``UserError``) with ``issues: list[ConfigIssue]``.
Secrets are ``nvr.secrets.Secret`` values; camera and database URLs are ``MaskedUrl``s
(printed with the password masked, ``reveal()`` for the real URL).
The file format is documented key by key in docs/config.md.
"""

from nvr.config.cameras import CameraConfig, MotionConfig, MotionMask, MotionZone, OnvifConfig
from nvr.config.errors import ConfigError, ConfigIssue
from nvr.config.loader import DEFAULT_SEARCH, load_config, locate_config, parse_config_text
from nvr.config.models import (
    Config,
    DatabaseConfig,
    DemoConfig,
    LoggingConfig,
    MqttConfig,
    MqttTlsConfig,
    NotificationsConfig,
    RetentionConfig,
    SecurityConfig,
    ServerConfig,
    StorageConfig,
    TlsConfig,
    WebhookConfig,
)
from nvr.config.types import MaskedUrl, Quota, parse_quota

__all__ = [
    "DEFAULT_SEARCH",
    "CameraConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DatabaseConfig",
    "DemoConfig",
    "LoggingConfig",
    "MaskedUrl",
    "MotionConfig",
    "MotionMask",
    "MotionZone",
    "MqttConfig",
    "MqttTlsConfig",
    "NotificationsConfig",
    "OnvifConfig",
    "Quota",
    "RetentionConfig",
    "SecurityConfig",
    "ServerConfig",
    "StorageConfig",
    "TlsConfig",
    "WebhookConfig",
    "load_config",
    "locate_config",
    "parse_config_text",
    "parse_quota",
]
