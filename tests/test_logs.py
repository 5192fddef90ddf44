"""Logging: credentials scrubbed in every format, journald priorities, JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from collections.abc import Iterator

import pytest

from nvr.logs import JsonFormatter, TextFormatter, setup_logging, under_journald


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("nvr.test", logging.WARNING, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(record, k, v)
    return record


def test_text_format_scrubs_message_args_and_extra() -> None:
    record = _record("cannot open %s", "rtsp://u:hunter2@cam/x", url="rtsp://u:hunter2@cam/y")
    line = TextFormatter().format(record)
    assert "hunter2" not in line
    assert "WARNING nvr.test: cannot open rtsp://u:***@cam/x" in line
    assert "url=rtsp://u:***@cam/y" in line


def test_text_format_scrubs_exceptions() -> None:
    try:
        raise RuntimeError("auth failed for rtsp://admin:hunter2@cam/live")
    except RuntimeError:
        import sys

        record = logging.LogRecord("nvr", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    line = TextFormatter().format(record)
    assert "RuntimeError" in line
    assert "hunter2" not in line


def test_journald_lines_carry_priority_and_no_timestamp() -> None:
    line = TextFormatter(journald=True).format(_record("disk %s", "full"))
    assert line.startswith("<4>WARNING nvr.test: disk full")


def test_json_format_is_one_object_per_line() -> None:
    line = JsonFormatter().format(
        _record("camera %s online", "porch", fps=15, url="rtsp://a:pw1@h/")
    )
    entry = json.loads(line)
    assert entry["msg"] == "camera porch online"
    assert entry["level"] == "warning"
    assert entry["fps"] == 15
    assert "pw1" not in line


def test_under_journald_matches_the_stream_it_was_given() -> None:
    with tempfile.TemporaryFile("w") as f:
        st = os.fstat(f.fileno())
        assert under_journald(f, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not under_journald(f, {"JOURNAL_STREAM": "1:2"})
        assert not under_journald(f, {})
    assert not under_journald(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


@pytest.mark.usefixtures("restore_root")
def test_setup_logging_routes_uvicorn_through_the_scrubber() -> None:
    out = io.StringIO()
    setup_logging("info", "text", stream=out)
    logging.getLogger("uvicorn.error").info("client sent password=hunter2")
    logging.getLogger("nvr.x").debug("not shown at info")
    text = out.getvalue()
    assert "password=***" in text
    assert "hunter2" not in text
    assert "not shown" not in text


@pytest.mark.usefixtures("restore_root")
def test_setup_logging_drops_handlers_libraries_installed() -> None:
    stray = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(stray))  # as basicConfig would
    out = io.StringIO()
    setup_logging("info", "text", stream=out)
    logging.getLogger("nvr.x").info("open rtsp://u:hunter2@cam/live")
    assert stray.getvalue() == ""
    assert "hunter2" not in out.getvalue()
    assert "rtsp://u:***@cam/live" in out.getvalue()
