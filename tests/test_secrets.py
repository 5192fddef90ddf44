"""Credential masking: the pure functions behind every log line, repr and error."""

from __future__ import annotations

import pytest

from nvr.secrets import MASK, Secret, mask_url, scrub


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:hunter2@192.0.2.7:554/stream1", "rtsp://admin:***@192.0.2.7:554/stream1"),
        ("rtsp://admin:p%40ss@cam/x", "rtsp://admin:***@cam/x"),
        ("rtsp://cam.local/stream", "rtsp://cam.local/stream"),
        ("rtsp://onlyuser@cam/stream", "rtsp://onlyuser@cam/stream"),
        (
            "postgresql+psycopg://nvr:s3cret@127.0.0.1:5432/nvr",
            "postgresql+psycopg://nvr:***@127.0.0.1:5432/nvr",
        ),
        ("rtsp://:pw@cam/", "rtsp://:***@cam/"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_scrub_masks_urls_and_pairs_in_free_text() -> None:
    text = (
        "open rtsp://admin:hunter2@10.0.0.5/live failed; retry with password=hunter2 "
        "and token: 'abc123' (api_key=zzz)"
    )
    out = scrub(text)
    assert "hunter2" not in out
    assert "abc123" not in out
    assert "zzz" not in out
    assert "rtsp://admin:***@10.0.0.5/live" in out
    assert "password=***" in out


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "camera porch online fps=15 url=rtsp://cam/live"
    assert scrub(text) == text


def test_password_with_at_sign_is_masked_whole() -> None:
    out = scrub("rtsp://admin:p@ss@cam/live")
    assert "p@ss" not in out
    assert out.endswith("@cam/live")


def test_secret_never_prints_itself() -> None:
    s = Secret("hunter2")
    assert s.reveal() == "hunter2"
    for shown in (str(s), repr(s), f"{s}", f"{s!r}", str([s]), str({"pw": s})):
        assert "hunter2" not in shown
        assert MASK in shown
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert not Secret("")
