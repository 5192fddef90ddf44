"""``nvr doctor``: look at this box and its config and say what to do about each problem.

Contract: ``diagnose(config_path, data_dir=None, *, cameras=True, ...) -> list[Finding]``
runs every check in turn and never raises for what it finds: a check that cannot look says
so as an ``info`` finding. Each ``Finding`` has a ``check`` id, a ``severity`` (``ok``,
``info``, ``warning``, ``error``), a one-line ``summary`` and a ``remedy`` (never empty: an
``ok`` finding says why nothing needs doing). ``worst(findings)`` is the most severe.

The checks, in order:

- ``config``: the config loader's own errors, one finding per issue, with file, line and
  key path (nvr/config/errors.py); the other checks then use the defaults (and
  ``data_dir``).
- ``disk.free``: free space on the data directory's filesystem against the footage
  reserve (nvr/storage/volume.py) and a comfortable margin.
- ``disk.speed``: a bounded write test in the data directory: at most ``WRITE_TEST_BYTES``
  in 1 MiB blocks, fsync'd, for at most ``WRITE_TEST_SECONDS``, into a file created with
  O_EXCL and removed afterwards. Skipped when the data directory does not exist yet.
- ``disk.device``: which block device holds the data directory (``/sys/dev/block``): an
  SD card (``mmcblk*``) is a warning, a spinning disk (``queue/rotational``) is fine.
- ``clock``: ``nvr.clock_status.clock_status()``; not synchronised is a warning.
- ``pi.temperature`` and ``pi.throttling``: ``/sys/class/thermal`` and, on a Raspberry Pi,
  ``vcgencmd get_throttled`` (when installed, 2 s timeout); on other machines throttling is
  ``info``: not applicable.
- ``camera.<name>``: each configured camera, and only those: RTSP (OPTIONS, DESCRIBE,
  SETUP, PLAY through FFmpeg, one frame; nvr/capture/probe.py) with its configured
  credentials, ONVIF (nvr/onvif) where configured; ``camera_timeout`` bounds each. A
  rejected password is an ``error`` that says so. No other outbound connection is made.
- ``ports``: TCP sockets listening on non-loopback addresses (``/proc/net/tcp``,
  ``/proc/net/tcp6``), named by process where this user may see it.

No finding contains a secret: camera URLs are masked, config errors never quote a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nvr.clock_status import clock_status
from nvr.config import CameraConfig, Config, ConfigError, load_config, locate_config
from nvr.errors import UserError
from nvr.secrets import mask_url
from nvr.storage.volume import volume_of

__all__ = ["Finding", "Severity", "diagnose", "worst"]

Severity = Literal["ok", "info", "warning", "error"]
_RANK: dict[str, int] = {"ok": 0, "info": 1, "warning": 2, "error": 3}

WRITE_TEST_BYTES = 64 * 1024 * 1024
WRITE_TEST_SECONDS = 3.0
WRITE_BLOCK = 1024 * 1024
SLOW_WRITE = 5e6  # bytes/s: below this, a few cameras and the database compete badly
VERY_SLOW_WRITE = 1e6  # below this, one HD camera cannot be kept up with
LOW_FREE = 5 * 1000**3  # below this much free space, warn
HOT_C = 80.0  # a Pi 4/5 starts to throttle at 80-85 °C
CRITICAL_C = 85.0
CAMERA_TIMEOUT = 8.0
# vcgencmd get_throttled bits (Raspberry Pi firmware documentation).
_THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    summary: str
    remedy: str


def worst(findings: list[Finding]) -> Severity:
    if not findings:
        return "ok"
    return max((f.severity for f in findings), key=lambda s: _RANK[s])


def diagnose(
    config_path: Path | None,
    data_dir: Path | None = None,
    *,
    cameras: bool = True,
    camera_timeout: float = CAMERA_TIMEOUT,
    sys_root: Path = Path("/"),
    write_test_bytes: int = WRITE_TEST_BYTES,
) -> list[Finding]:
    """Every check's findings; see the module docstring."""
    findings: list[Finding] = []
    cfg, config_findings = _config(config_path)
    findings += config_findings
    if data_dir is not None:
        cfg = cfg.model_copy(
            update={"storage": cfg.storage.model_copy(update={"data_dir": data_dir})}
        )
    data = cfg.storage.data_dir
    findings.append(_disk_free(data))
    findings.append(_disk_speed(data, write_test_bytes))
    findings.append(_disk_device(data, sys_root))
    findings.append(_clock())
    findings += _pi(sys_root)
    if cameras:
        findings += _cameras(cfg.cameras, camera_timeout)
    findings.append(_ports(cfg, sys_root))
    return findings


# --- config -------------------------------------------------------------------------------


def _config(path: Path | None) -> tuple[Config, list[Finding]]:
    try:
        located = locate_config(path)
        cfg = load_config(located)
    except ConfigError as exc:
        return Config(), [
            Finding(
                "config",
                "error",
                str(issue),
                f"fix {issue.path or 'this'} in {issue.file}"
                + (f" (line {issue.line})" if issue.line else "")
                + ", then run 'nvr config check'; the other checks below use the defaults",
            )
            for issue in exc.issues
        ]
    except UserError as exc:
        return Config(), [Finding("config", "error", exc.message, exc.hint or "fix the file")]
    if located is None:
        return cfg, [
            Finding(
                "config",
                "info",
                "no config file found: using the defaults (the demo doorbell, no camera)",
                "write /etc/nvr/nvr.yaml (see config/nvr.example.yaml) or pass --config FILE",
            )
        ]
    return cfg, [Finding("config", "ok", f"{located} is valid", "nothing to do")]


# --- disk ---------------------------------------------------------------------------------


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (a data directory not made yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gb(n: float) -> str:
    return f"{n / 1000**3:.1f} GB"


def _disk_free(data: Path) -> Finding:
    try:
        vol = volume_of(_existing(data))
    except OSError as exc:
        return Finding("disk.free", "error", f"cannot read {data}: {exc.strerror}", _PERM)
    summary = f"{_gb(vol.free)} free of {_gb(vol.total)} on the filesystem of {data}"
    if vol.low:
        return Finding(
            "disk.free",
            "error",
            summary + " (less than the reserve kept free of footage)",
            "free space on that filesystem, lower the retention (storage.retention), or move "
            "storage.data_dir to a bigger disk (a USB SSD)",
        )
    if vol.free < LOW_FREE or vol.free < vol.total * 0.05:
        return Finding(
            "disk.free",
            "warning",
            summary,
            "retention will evict old footage early: use a bigger disk or lower "
            "storage.retention so what you keep fits",
        )
    return Finding("disk.free", "ok", summary, "nothing to do")


_PERM = "check the path and its permissions (run doctor as the service user)"


def _disk_speed(data: Path, limit: int) -> Finding:
    if not data.is_dir():
        return Finding(
            "disk.speed",
            "info",
            f"not measured: {data} does not exist yet",
            "start the service once (it creates the data directory), then run doctor again",
        )
    path = data / f".doctor-write-test-{os.getpid()}"
    block = os.urandom(WRITE_BLOCK)
    written = 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return Finding("disk.speed", "error", f"cannot write in {data}: {exc.strerror}", _PERM)
    started = time.perf_counter()
    try:
        while written < limit and time.perf_counter() - started < WRITE_TEST_SECONDS:
            written += os.write(fd, block)
        os.fsync(fd)
        elapsed = time.perf_counter() - started
    except OSError as exc:
        return Finding(
            "disk.speed",
            "error",
            f"writing in {data} failed: {exc.strerror}",
            "check the disk (dmesg, 'nvr storage verify') and its free space",
        )
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
    rate = written / elapsed if elapsed > 0 else float("inf")
    summary = f"sustained write {rate / 1e6:.1f} MB/s ({written // WRITE_BLOCK} MiB, fsync'd)"
    if rate < VERY_SLOW_WRITE:
        return Finding(
            "disk.speed",
            "error",
            summary,
            "too slow to record even one camera: put storage.data_dir on a USB SSD",
        )
    if rate < SLOW_WRITE:
        return Finding(
            "disk.speed",
            "warning",
            summary,
            "slow (an SD card or a tired USB stick?): a USB SSD keeps several cameras safe",
        )
    return Finding("disk.speed", "ok", summary, "nothing to do")


def _block_device(data: Path, sys_root: Path) -> str | None:
    """The whole-disk name (``sda``, ``mmcblk0``, ``nvme0n1``) holding ``data``."""
    st = _existing(data).stat()
    node = sys_root / "sys/dev/block" / f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    try:
        real = node.resolve(strict=True)
    except OSError:
        return None
    # .../block/sda/sda1 for a partition (it has a 'partition' file), .../block/sda else.
    return real.parent.name if (real / "partition").exists() else real.name


def _disk_device(data: Path, sys_root: Path) -> Finding:
    try:
        disk = _block_device(data, sys_root)
    except OSError as exc:
        return Finding("disk.device", "info", f"cannot tell: {exc.strerror}", _PERM)
    if disk is None:
        return Finding(
            "disk.device",
            "info",
            f"{data} is not on a local block device (tmpfs, overlay or a network share)",
            "fine for trying Porchlight; for years of recording use a local USB SSD",
        )
    sd = disk.startswith("mmcblk")
    rotational = _read(sys_root / "sys/block" / disk / "queue/rotational") == "1"
    if sd:
        others = _other_disks(sys_root, disk)
        where = (
            f"move storage.data_dir to a folder on {', '.join(others)} (attached)"
            if others
            else "attach a USB SSD and set storage.data_dir to a folder on it"
        )
        return Finding(
            "disk.device",
            "warning",
            f"{data} is on an SD card ({disk})",
            f"continuous recording wears SD cards out: {where}",
        )
    kind = "a spinning disk" if rotational else "an SSD or flash disk"
    return Finding("disk.device", "ok", f"{data} is on {kind} ({disk})", "nothing to do")


def _other_disks(sys_root: Path, disk: str) -> list[str]:
    """Real disks other than ``disk`` and other SD cards (USB or NVMe drives)."""
    virtual = ("loop", "ram", "zram", "dm-", "md", "mmcblk", "sr")
    try:
        names = sorted(p.name for p in (sys_root / "sys/block").iterdir())
    except OSError:
        return []
    return [n for n in names if n != disk and not n.startswith(virtual)]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


# --- clock --------------------------------------------------------------------------------


def _clock() -> Finding:
    st = clock_status()
    if st.source == "ntp":
        err = "" if st.max_error_ms is None else f", max error {st.max_error_ms:.0f} ms"
        return Finding("clock", "ok", f"clock synchronised (NTP{err})", "nothing to do")
    if st.source == "unsynchronized":
        return Finding(
            "clock",
            "warning",
            "the clock is not synchronised: footage times and audit entries may be wrong",
            "turn NTP on ('sudo timedatectl set-ntp true') and let the box reach a time "
            "server, or run a local one on your network",
        )
    return Finding(
        "clock",
        "info",
        "cannot ask the kernel whether the clock is synchronised",
        "check 'timedatectl' by hand",
    )


# --- Raspberry Pi ---------------------------------------------------------------------------


def _is_pi(sys_root: Path) -> bool:
    model = _read(sys_root / "proc/device-tree/model") or ""
    return "Raspberry Pi" in model


def _pi(sys_root: Path) -> list[Finding]:
    out = [_temperature(sys_root)]
    if not _is_pi(sys_root):
        out.append(
            Finding(
                "pi.throttling",
                "info",
                "not a Raspberry Pi: firmware throttling does not apply",
                "nothing to do",
            )
        )
        return out
    vcgencmd = shutil.which("vcgencmd")
    if vcgencmd is None:
        out.append(
            Finding(
                "pi.throttling",
                "info",
                "vcgencmd is not installed: throttling cannot be read",
                "install it ('sudo apt install libraspberrypi-bin' or 'raspi-utils')",
            )
        )
        return out
    try:
        done = subprocess.run(
            [vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=2, check=False
        )
        value = int(done.stdout.strip().split("=", 1)[1], 16)
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        out.append(Finding("pi.throttling", "info", "vcgencmd get_throttled gave no answer", _VCG))
        return out
    flags = [text for bit, text in _THROTTLE_BITS.items() if value & (1 << bit)]
    if not flags:
        out.append(
            Finding("pi.throttling", "ok", "no throttling or under-voltage", "nothing to do")
        )
    else:
        now = any(value & (1 << bit) for bit in range(4))
        out.append(
            Finding(
                "pi.throttling",
                "error" if now else "warning",
                f"get_throttled=0x{value:x}: " + ", ".join(flags),
                "use the official power supply (5.1 V, 3 A for a Pi 4, 5 A for a Pi 5) and a "
                "case with a heatsink or fan",
            )
        )
    return out


_VCG = "run 'vcgencmd get_throttled' by hand (the user may need to be in the 'video' group)"


def _temperature(sys_root: Path) -> Finding:
    temps: list[float] = []
    for zone in sorted((sys_root / "sys/class/thermal").glob("thermal_zone*")):
        raw = _read(zone / "temp")
        if raw is not None and raw.lstrip("-").isdigit():
            temps.append(int(raw) / 1000)
    if not temps:
        return Finding(
            "pi.temperature",
            "info",
            "no CPU temperature sensor is exposed (/sys/class/thermal)",
            "nothing to do (virtual machines and containers often have none)",
        )
    hottest = max(temps)
    summary = f"CPU temperature {hottest:.1f} °C"
    if hottest >= CRITICAL_C:
        return Finding("pi.temperature", "error", summary, _COOL)
    if hottest >= HOT_C:
        return Finding("pi.temperature", "warning", summary, _COOL)
    return Finding("pi.temperature", "ok", summary, "nothing to do")


_COOL = "the CPU is throttling or about to: add a heatsink or fan, give the case air"


# --- cameras --------------------------------------------------------------------------------


def _cameras(cameras: list[CameraConfig], timeout: float) -> list[Finding]:
    if not cameras:
        return [
            Finding(
                "cameras",
                "info",
                "no camera configured",
                "add one with 'nvr cameras add' or on the dashboard's Cameras page",
            )
        ]
    with ThreadPoolExecutor(max_workers=min(4, len(cameras))) as pool:
        return list(pool.map(lambda cam: _camera(cam, timeout), cameras))


def _camera(cam: CameraConfig, timeout: float) -> Finding:
    check = f"camera.{cam.name}"
    url = cam.stream_url("main")
    if url is None:
        return _onvif_camera(cam, timeout)
    from nvr.capture.probe import ProbeFailed, probe

    try:
        result = probe(url, transport=cam.transport, timeout=timeout)
    except ProbeFailed as exc:
        if exc.state == "auth_failed":
            return Finding(
                check,
                "error",
                f"{cam.name}: authentication failed: {exc.message}",
                "the camera rejected the user name or password: fix username/password "
                "(or the secrets file) for this camera, and check the account on the camera",
            )
        return Finding(
            check,
            "error",
            f"{cam.name}: not reachable: {exc.message}",
            exc.hint or "check the address, the port and that the camera is on",
        )
    except UserError as exc:
        return Finding(check, "error", f"{cam.name}: {exc.message}", exc.hint or "check it")
    return Finding(
        check, "ok", f"{cam.name}: {mask_url(url)} answers: {result.summary()}", "nothing to do"
    )


def _onvif_camera(cam: CameraConfig, timeout: float) -> Finding:
    from nvr.onvif import OnvifAuthFailed, OnvifError, probe_device

    check = f"camera.{cam.name}"
    onvif = cam.onvif
    if onvif is None:
        return Finding(check, "info", f"{cam.name}: no stream address", "check the config")
    password = onvif.password.reveal() if onvif.password is not None else None
    try:
        device = asyncio.run(
            asyncio.wait_for(
                probe_device(onvif.host, onvif.port, onvif.username, password, timeout=timeout),
                timeout * 2,
            )
        )
    except OnvifAuthFailed as exc:
        return Finding(
            check,
            "error",
            f"{cam.name}: ONVIF authentication failed: {exc.message}",
            "fix onvif.username/onvif.password for this camera (an ONVIF user on the camera)",
        )
    except (OnvifError, TimeoutError) as exc:
        reason = exc.message if isinstance(exc, OnvifError) else "no answer in time"
        return Finding(
            check,
            "error",
            f"{cam.name}: ONVIF at {onvif.host}:{onvif.port} not reachable: {reason}",
            "check the camera's address and ONVIF port, and that ONVIF is enabled on it",
        )
    has_stream = device.main is not None and device.main.uri is not None
    return Finding(
        check,
        "ok" if has_stream else "error",
        f"{cam.name}: ONVIF {device.manufacturer} {device.model}"
        + ("" if has_stream else ": reports no RTSP stream"),
        "nothing to do" if has_stream else "enable an H.264 RTSP profile on the camera",
    )


# --- ports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int


def listeners(sys_root: Path = Path("/")) -> list[Listener]:
    """TCP sockets in LISTEN state on this box (this network namespace)."""
    out: list[Listener] = []
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            lines = (sys_root / "proc/net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "0A":
                continue
            hexaddr, hexport = parts[1].split(":")
            out.append(Listener(_address(hexaddr, width), int(hexport, 16), int(parts[9])))
    return out


def _address(hexaddr: str, width: int) -> str:
    raw = bytes.fromhex(hexaddr)
    # /proc prints each 32-bit word in host (little-endian) order.
    fixed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(fixed) if width == 32 else ipaddress.IPv4Address(fixed)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _owners(sys_root: Path) -> dict[int, str]:
    """Socket inode -> process name, for the processes this user may look into."""
    owners: dict[int, str] = {}
    for proc in (sys_root / "proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            name = (proc / "comm").read_text().strip()
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = str(fd.readlink())
                    if target.startswith("socket:["):
                        owners[int(target[8:-1])] = name
    return owners


def _ports(cfg: Config, sys_root: Path) -> Finding:
    found = [
        lst for lst in listeners(sys_root) if not ipaddress.ip_address(lst.address).is_loopback
    ]
    if not found:
        return Finding(
            "ports",
            "ok",
            "nothing listens on a network address (only this box can connect)",
            "nothing to do (start the service to serve the dashboard to your network)",
        )
    owners = _owners(sys_root)
    ours = {cfg.server.port, cfg.server.http_redirect_port}
    shown: list[str] = []
    for lst in sorted(found, key=lambda x: (x.port, x.address)):
        what = owners.get(lst.inode) or ("dashboard?" if lst.port in ours else "unknown")
        host = f"[{lst.address}]" if ":" in lst.address else lst.address
        item = f"{host}:{lst.port} ({what})"
        if item not in shown:
            shown.append(item)
    return Finding(
        "ports",
        "info",
        "listening on the network: " + ", ".join(shown),
        "the dashboard port is expected; close what you do not use ('systemctl disable "
        "--now UNIT') or firewall it to your home network",
    )
