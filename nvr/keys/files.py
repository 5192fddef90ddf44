"""Small whole-file helpers over the age format, and atomic private file writes."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from nvr.crypto import Identity, Recipient, decrypt, encrypt_stream


def seal(data: bytes, recipients: Sequence[Recipient]) -> bytes:
    """``data`` as an age file encrypted to ``recipients``."""
    out = io.BytesIO()
    with encrypt_stream(out, recipients) as writer:
        writer.write(data)
    return out.getvalue()


def unseal(data: bytes, identities: Sequence[Identity]) -> bytes:
    """The plaintext of an age file (authenticated in full)."""
    return decrypt(io.BytesIO(data), identities).read()


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path`` atomically (temp file, fsync, rename, fsync folder), mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
