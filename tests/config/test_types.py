"""Field types: quota parsing, masked URLs, secrets in dumps and in the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from nvr.config.base import Section
from nvr.config.types import (
    ConfigPath,
    DatabaseUrl,
    MaskedUrl,
    Quota,
    RtspUrl,
    SecretText,
    parse_quota,
)
from nvr.secrets import Secret


class _Holder(Section):
    secret: SecretText | None = None
    rtsp: RtspUrl | None = None
    db: DatabaseUrl | None = None
    path: ConfigPath | None = None


@pytest.mark.parametrize(
    ("text", "quota"),
    [
        ("500GB", Quota(bytes=500 * 1000**3)),
        ("1.5TiB", Quota(bytes=int(1.5 * 1024**4))),
        ("90%", Quota(percent=90.0)),
        ("12.5 %", Quota(percent=12.5)),
        ("100%", Quota(percent=100.0)),
        ("250 mib", Quota(bytes=250 * 1024**2)),
        ("1000000", Quota(bytes=1_000_000)),
        ("1000000B", Quota(bytes=1_000_000)),
    ],
)
def test_parse_quota(text: str, quota: Quota) -> None:
    assert parse_quota(text) == quota


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lots", "must be a size such as 500GB"),
        ("500 parsecs", "unknown unit 'parsecs'"),
        ("500G", "unknown unit 'G'"),
        ("0%", "more than 0%"),
        ("101%", "at most 100%"),
        ("0GB", "more than 0 bytes"),
        ("-5GB", "must be a size"),
        ("", "must be a size"),
    ],
)
def test_parse_quota_rejects_junk_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_quota(text)


def test_quota_resolves_against_the_volume() -> None:
    assert Quota(percent=90.0).resolve(1000) == 900
    assert Quota(bytes=5).resolve(1000) == 5


def test_masked_url_prints_masked_and_reveals_the_real_url() -> None:
    url = MaskedUrl("rtsp://admin:hunter2@192.0.2.7/live?password=hunter2")
    assert str(url) == "rtsp://admin:***@192.0.2.7/live?password=***"
    assert repr(url) == "MaskedUrl('rtsp://admin:***@192.0.2.7/live?password=***')"
    assert url.reveal() == "rtsp://admin:hunter2@192.0.2.7/live?password=hunter2"
    assert isinstance(url, Secret)


def test_secret_fields_dump_masked_in_json_and_whole_in_python() -> None:
    holder = _Holder.model_validate(
        {"secret": "hunter2", "rtsp": "rtsp://u:hunter2@cam/", "db": "sqlite:///x.db"}
    )
    dumped = json.dumps(holder.model_dump(mode="json"))
    assert "hunter2" not in dumped
    assert "hunter2" not in holder.model_dump_json()
    assert "hunter2" not in repr(holder)
    assert holder.model_dump(mode="json")["rtsp"] == "rtsp://u:***@cam/"
    assert holder.model_dump(mode="json")["secret"] == "***"
    assert isinstance(holder.secret, Secret)
    assert holder.secret.reveal() == "hunter2"


@pytest.mark.parametrize(
    "url",
    ["http://cam/", "cam/stream", "rtsp:///nohost", "rtsp://a:b/c@host/"],
)
def test_rtsp_url_rejects_non_rtsp(url: str) -> None:
    with pytest.raises(ValidationError):
        _Holder.model_validate({"rtsp": url})


def test_bad_port_error_does_not_quote_the_password() -> None:
    # urlsplit reads "zq" as the port here; its own message would quote it.
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate({"rtsp": "rtsp://admin:zq/ss@cam/"})
    (error,) = info.value.errors()
    assert "zq" not in error["msg"]
    assert "zq" not in str(info.value)


def test_secret_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="put it in quotes"):
        _Holder.model_validate({"secret": 1234})


def test_config_path_is_relative_to_the_base_dir_given_in_context(tmp_path: Path) -> None:
    holder = _Holder.model_validate({"path": "data"}, context={"base_dir": tmp_path})
    assert holder.path == tmp_path / "data"
    assert _Holder.model_validate({"path": "data"}).path == Path("data")
    assert _Holder.model_validate({"path": "/abs"}, context={"base_dir": tmp_path}).path == Path(
        "/abs"
    )
