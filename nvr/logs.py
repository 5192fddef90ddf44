"""Structured, journald-friendly logging with credentials scrubbed.

One call, ``setup_logging(level, fmt)``, configures the root logger (and uvicorn's loggers,
which propagate to it). Every line passes through ``nvr.secrets.scrub`` after formatting,
so a password inside a URL, an exception message or a third-party log line never reaches
the journal.

Formats:
- ``text``: ``2026-11-27T18:00:00Z INFO nvr.service: message key=value``. Under systemd
  (``$JOURNAL_STREAM`` names our stderr) the timestamp is dropped and each line starts with
  the syslog priority ``<N>``, which journald turns into the entry's priority.
- ``json``: one object per line: ``time, level, logger, msg`` plus the record's ``extra``
  fields, for log shippers.

Extra fields: ``log.info("camera online", extra={"camera": "porch", "fps": 15})``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, TextIO

from nvr.secrets import scrub

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "color_message"}

_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields attached to a record, in insertion order."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text)
    return text


class TextFormatter(logging.Formatter):
    """``[<prio>]|[time ]LEVEL logger: message k=v ...`` with credentials scrubbed."""

    def __init__(self, *, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        fields = " ".join(f"{k}={_format_value(v)}" for k, v in extra_fields(record).items())
        line = f"{record.levelname} {record.name}: {message}"
        if fields:
            line = f"{line} {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        if self.journald:
            prio = _SYSLOG_PRIORITY.get(record.levelno, 6)
            # journald reads one priority prefix per line; keep continuation lines at it too.
            line = "\n".join(f"<{prio}>{part}" for part in line.split("\n"))
        else:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
            line = f"{stamp} {line}"
        return scrub(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, credentials scrubbed in every string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry[key] = (
                value if isinstance(value, int | float | bool) or value is None else str(value)
            )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False))


def under_journald(stream: TextIO, env: dict[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal stream systemd gave us (``$JOURNAL_STREAM``)."""
    value = (env if env is not None else dict(os.environ)).get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return bool(dev and ino) and f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def setup_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Configure the root logger once for the process (idempotent: replaces our handler)."""
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    handler.set_name("nvr")
    formatter: logging.Formatter
    formatter = JsonFormatter() if fmt == "json" else TextFormatter(journald=under_journald(out))
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # The service owns the process's logging: drop every other root handler, ours from an
    # earlier call and any a library installed at import (onvif-zeep-async calls
    # logging.basicConfig), which would print lines that never passed the scrubber.
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers carry their own handlers when it configures logging; we pass
    # log_config=None to uvicorn and let them propagate here instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # Libraries that are chatty at INFO about internals no operator needs.
    for name in ("alembic", "aiortc", "aioice", "zeep", "httpx"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
