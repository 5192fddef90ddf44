"""Field types shared by the config models: secrets, camera URLs, paths and the storage quota.

Contract:
- ``SecretText`` is a ``nvr.secrets.Secret`` built from a YAML string. It dumps as ``***``
  in JSON mode and appears in the JSON Schema as ``{"type": "string", "writeOnly": true}``.
- ``MaskedUrl`` is a ``Secret`` whose printed form is the URL with its credentials masked
  (``rtsp://user:***@host/...``); ``reveal()`` returns the real URL. ``RtspUrl`` (rtsp://,
  rtsps://) and ``DatabaseUrl`` (any ``scheme://``) validate into one.
- ``ConfigPath`` is a ``Path``; a relative one is taken relative to the config file's folder
  when the loader passes ``{"base_dir": ...}`` as validation context.
- ``parse_quota`` turns ``"500GB"``, ``"1.5TiB"`` or ``"90%"`` into a ``Quota``.
Validators raise ``PydanticCustomError``s whose messages never contain the input: the
error translator decides what may be echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from nvr.secrets import MASK, Secret, scrub

__all__ = [
    "ConfigPath",
    "DatabaseUrl",
    "MaskedUrl",
    "Quota",
    "RtspUrl",
    "SecretText",
    "invalid",
    "parse_quota",
]


_NO_VALUE = object()


def invalid(message: str, *at: str | int, value: object = _NO_VALUE) -> PydanticCustomError:
    """A validation error in plain words; ``at`` narrows the location below the validated value.

    A model validator that blames one of its keys passes that key, so the error is reported
    on the key's own line rather than on the line where the mapping starts. ``{value}`` in
    ``message`` shows ``value``, unless the translator decides it must stay hidden.
    """
    ctx: dict[str, object] = {"message": message, "at": at}
    if value is not _NO_VALUE:
        ctx["value"] = value
    return PydanticCustomError("porchlight", "{message}", ctx)


class MaskedUrl(Secret):
    """A URL that may carry credentials: prints masked, ``reveal()`` gives the real one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"MaskedUrl('{self}')"

    def __str__(self) -> str:
        # scrub() masks both user:password@ and ?password=... (some cameras take the latter).
        return scrub(self.reveal())


def _to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    raise PydanticCustomError("secret_type", "expected a string (put it in quotes)")


def _checked_url(value: Any, schemes: frozenset[str] | None, what: str) -> MaskedUrl:
    text = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(text, str):
        raise PydanticCustomError("url_type", "expected a URL string")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        # Never echo the parser's message: it quotes the 'port', which may be half a password.
        raise invalid(
            "is not a valid URL; if the password contains '/', '?', '#' or ':', "
            "percent-encode it or use the username and password keys"
        ) from None
    if "://" not in text or not parts.scheme:
        raise invalid(f"must be {what} of the form scheme://...")
    if schemes is not None and parts.scheme.lower() not in schemes:
        wanted = " or ".join(f"{s}://" for s in sorted(schemes))
        raise invalid(f"must be {what} starting with {wanted}")
    if schemes is not None and not parts.hostname:
        raise invalid(f"must be {what} with a host name or address")
    return MaskedUrl(text)


def _rtsp_url(value: Any) -> MaskedUrl:
    return _checked_url(value, frozenset({"rtsp", "rtsps"}), "an RTSP URL")


def _database_url(value: Any) -> MaskedUrl:
    return _checked_url(value, None, "a database URL")


def _masked_json(value: Secret) -> str:
    return str(value)


def _relative_to_config(value: Path, info: ValidationInfo) -> Path:
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    if isinstance(base, Path) and not value.is_absolute():
        return base / value
    return value


SecretText = Annotated[
    Secret,
    PlainValidator(_to_secret),
    PlainSerializer(lambda _: MASK, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "writeOnly": True}),
]
RtspUrl = Annotated[
    MaskedUrl,
    PlainValidator(_rtsp_url),
    PlainSerializer(_masked_json, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^[Rr][Tt][Ss][Pp][Ss]?://"}),
]
DatabaseUrl = Annotated[
    MaskedUrl,
    PlainValidator(_database_url),
    PlainSerializer(_masked_json, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "writeOnly": True}),
]
ConfigPath = Annotated[Path, AfterValidator(_relative_to_config)]


# Units are explicit on purpose: "500G" could mean GB or GiB, and a quota off by 7% matters.
_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_QUOTA = re.compile(r"\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]*|%)\s*")


@dataclass(frozen=True)
class Quota:
    """A storage quota: either an absolute size in bytes or a percentage of the volume."""

    bytes: int | None = None
    percent: float | None = None

    def resolve(self, volume_size: int) -> int:
        """The quota in bytes on a volume of ``volume_size`` bytes."""
        if self.bytes is not None:
            return self.bytes
        assert self.percent is not None
        return int(volume_size * self.percent / 100)


def parse_quota(text: str) -> Quota:
    """Parse ``"500GB"``, ``"1.5TiB"``, ``"90%"`` or a plain byte count; ``ValueError`` if junk."""
    match = _QUOTA.fullmatch(text)
    if match is None:
        raise ValueError(
            "must be a size such as 500GB or 1.5TiB, or a share of the disk such as 90%"
        )
    number = float(match["num"])
    unit = match["unit"].lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise ValueError("a percentage quota must be more than 0% and at most 100%")
        return Quota(percent=number)
    if unit not in _UNITS and unit != "":
        raise ValueError(
            f"unknown unit {match['unit']!r}: use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB or %"
        )
    size = int(number * _UNITS.get(unit, 1))
    if size <= 0:
        raise ValueError("must be more than 0 bytes")
    return Quota(bytes=size)
