"""What machine a benchmark ran on: CPU, cores, RAM, the board (a Raspberry Pi's model),
the disk under a folder, Python and the OpenSSL builds in use (Python's ``ssl`` and the
one inside ``cryptography``).

``describe(path)`` reads /proc and /sys (Linux); anything it cannot find is ``None`` or
"unknown", never an error. The parsers are pure functions over the files' text, so a
Raspberry Pi's /proc/cpuinfo (no "model name"; "Model" and "CPU part" instead) is tested
without one.
"""

from __future__ import annotations

import os
import platform
import ssl
from dataclasses import dataclass
from pathlib import Path

import cryptography
from cryptography.hazmat.backends.openssl import backend as _openssl

# CPU features that decide how fast ChaCha20-Poly1305 and SHA-256 run.
NOTABLE_FEATURES = ("avx2", "avx512f", "avx512vl", "sha_ni", "asimd", "neon", "sha2", "pmull")
# ARM "CPU part" numbers of the cores found in single-board computers (ARM's TRMs).
ARM_PARTS = {
    "0xd03": "Cortex-A53",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd09": "Cortex-A73",
    "0xd0b": "Cortex-A76",
}


@dataclass(frozen=True)
class Disk:
    path: str  # the folder measured
    mount_point: str | None
    device: str | None
    filesystem: str | None
    model: str | None
    rotational: bool | None


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    logical_cpus: int
    usable_cpus: int
    cpu_features: tuple[str, ...]
    ram_bytes: int | None
    os: str
    arch: str
    python: str
    python_openssl: str
    cryptography: str
    cryptography_openssl: str
    disk: Disk
    board: str | None = None  # /proc/device-tree/model: "Raspberry Pi 4 Model B Rev 1.4"


def _fields(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.append((key.strip(), value.strip()))
    return out


def cpu_model(cpuinfo: str) -> str:
    """The CPU's name from /proc/cpuinfo: x86 "model name"; on a Raspberry Pi the board
    ("Model") and the core type (from "CPU part")."""
    first: dict[str, str] = {}
    for key, value in _fields(cpuinfo):
        first.setdefault(key, value)
    if first.get("model name"):
        return first["model name"]
    core = ARM_PARTS.get(first.get("CPU part", "").lower())
    board = first.get("Model") or first.get("Hardware")
    if board and core:
        return f"{board} ({core})"
    return board or core or "unknown"


def cpu_features(cpuinfo: str) -> tuple[str, ...]:
    """The ``NOTABLE_FEATURES`` the CPU has (x86 "flags", ARM "Features")."""
    for key, value in _fields(cpuinfo):
        if key in ("flags", "Features"):
            have = set(value.split())
            return tuple(f for f in NOTABLE_FEATURES if f in have)
    return ()


def board_model(text: str | None) -> str | None:
    """The board's name from /proc/device-tree/model (a Raspberry Pi has one; a PC has
    none): the text up to its terminating NUL."""
    if not text:
        return None
    return text.split("\0", 1)[0].strip() or None


def ram_bytes(meminfo: str) -> int | None:
    for key, value in _fields(meminfo):
        if key == "MemTotal":
            number, _, unit = value.partition(" ")
            return int(number) * (1024 if unit.strip() == "kB" else 1)
    return None


def _unescape(field: str) -> str:
    # /proc/self/mounts writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_of(path: str, mounts: str) -> tuple[str, str, str] | None:
    """(device, mount point, filesystem type) of the mount holding absolute ``path``: the
    longest mount point that is a prefix of it (the last one mounted wins a tie)."""
    best: tuple[str, str, str] | None = None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        device, point, fstype = _unescape(parts[0]), _unescape(parts[1]), parts[2]
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[1])):
            best = (device, point, fstype)
    return best


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _block_info(device: str) -> tuple[str | None, bool | None]:
    """Model and rotational flag of a block device (of its whole disk for a partition)."""
    if not device.startswith("/dev/"):
        return None, None
    node = Path("/sys/class/block") / Path(device).name
    if not node.exists():
        return None, None
    disk = node.resolve().parent if (node / "partition").exists() else node.resolve()
    model = _read(disk / "device" / "model") or _read(disk / "device" / "name")
    flag = _read(disk / "queue" / "rotational")
    return model, None if flag is None else flag == "1"


def describe_disk(path: Path) -> Disk:
    absolute = str(path.resolve())
    found = mount_of(absolute, _read(Path("/proc/self/mounts")) or "")
    if found is None:
        return Disk(absolute, None, None, None, None, None)
    device, point, fstype = found
    model, rotational = _block_info(device)
    return Disk(absolute, point, device, fstype, model, rotational)


def describe(path: Path) -> Machine:
    """The machine, with the disk that holds ``path``."""
    cpuinfo = _read(Path("/proc/cpuinfo")) or ""
    logical = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = logical
    return Machine(
        cpu_model=cpu_model(cpuinfo) if cpuinfo else platform.processor() or "unknown",
        logical_cpus=logical,
        usable_cpus=usable,
        cpu_features=cpu_features(cpuinfo),
        ram_bytes=ram_bytes(_read(Path("/proc/meminfo")) or ""),
        os=f"{platform.system()} {platform.release()}",
        arch=platform.machine(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        python_openssl=ssl.OPENSSL_VERSION,
        cryptography=cryptography.__version__,
        cryptography_openssl=_openssl.openssl_version_text(),
        disk=describe_disk(path),
        board=board_model(_read(Path("/proc/device-tree/model"))),
    )
