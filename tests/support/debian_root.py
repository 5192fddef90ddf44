"""A fresh Debian 12 root for the installer test, made with debootstrap and cached.

Contract:

- ``base_tarball()`` is a tar of a ``debootstrap --variant=minbase`` bookworm root (plus
  ``systemd-sysv``: every Debian and Raspberry Pi OS box has systemd as its init) for
  this machine's architecture, built from the Debian mirror apt already uses here
  (``debian_mirror()``). It is cached as ``/var/cache/porchlight-test/
  debian12-<arch>-<YYYYMMDD>.tar``: built once a day per machine (minutes), then only
  unpacked (seconds). A lock file serialises builders; older tarballs are deleted.
- ``unpack(tarball, root)`` extracts it (owners and modes kept: needs root) into ``root``
  and gives it this machine's name resolution and its local CA certificates
  (``/usr/local/share/ca-certificates``: a TLS-inspecting proxy's, on some networks), so
  apt and pip reach their registries from inside as they do from here. ``PIP_ENV`` is
  what pip inside then needs to trust them (pip reads certifi's bundle by default).
- ``in_chroot(root, script, binds=...)`` runs a bash ``script`` chrooted into ``root`` inside
  a private mount namespace (``unshare --mount``): ``/proc``, ``/dev`` (bind) and the
  ``binds`` (host path -> path in the root, read-only unless named in ``writable``) are
  mounted there only, so they vanish with the namespace when the command ends, whatever
  happens: nothing is ever left mounted, and the root can be deleted with
  ``remove_root`` (``rm --one-file-system``, after checking nothing is mounted under it).
- ``boot(root, probe)`` boots the root with its own systemd (``systemd-nspawn -b``, a
  private network, not registered with a machined): a oneshot unit runs the bash
  ``probe`` once ``multi-user.target`` is reached (``binds`` mounted read-only), its
  output is returned, and the machine powers off. The probe unit is removed afterwards.
  ``nspawn_unavailable()`` says why this cannot run here.
- ``unavailable()`` says why this cannot run here (not root, no debootstrap/unshare), or
  ``None``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

CACHE = Path("/var/cache/porchlight-test")
SUITE = "bookworm"
DEBOOTSTRAP_TIMEOUT = 1800.0  # seconds: a slow mirror on a small machine


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "debootstrap and chroot need root"
    for tool in ("debootstrap", "unshare", "chroot", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt install debootstrap util-linux)"
    return None


def debian_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The first plain Debian mirror apt uses here (deb822 ``.sources`` or one-line form),
    for the bookworm main suite; deb.debian.org when none is configured."""
    found: list[str] = []
    for sources in sorted(etc_apt.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", sources.read_text(encoding="utf-8")):
            fields = {
                k.strip().lower(): v.strip()
                for k, _, v in (
                    line.partition(":")
                    for line in stanza.splitlines()
                    if line and not line.startswith("#")
                )
            }
            if SUITE in fields.get("suites", "").split() and "deb" in fields.get("types", ""):
                found += fields.get("uris", "").split()
    for listing in [etc_apt / "sources.list", *sorted(etc_apt.glob("sources.list.d/*.list"))]:
        if not listing.is_file():
            continue
        for line in listing.read_text(encoding="utf-8").splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                found.append(words[1])
    for uri in found:
        if "debian" in uri and "security" not in uri:
            return uri
    return "http://deb.debian.org/debian"


def architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def base_tarball(cache: Path = CACHE, today: dt.date | None = None) -> Path:
    """The cached base root for today, built first if there is none (see the contract)."""
    cache.mkdir(parents=True, exist_ok=True)
    day = (today or dt.datetime.now(dt.UTC).date()).strftime("%Y%m%d")
    tarball = cache / f"debian12-{architecture()}-{day}.tar"
    with (cache / "debootstrap.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not tarball.exists():
            _build(tarball)
        for old in cache.glob("debian12-*.tar"):
            if old != tarball:
                old.unlink(missing_ok=True)
    return tarball


def _build(tarball: Path) -> None:
    work = tarball.with_suffix(".build")
    remove_root(work)
    partial = tarball.with_suffix(".partial")
    try:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=systemd-sysv,ca-certificates",
                SUITE,
                str(work),
                debian_mirror(),
            ],
            check=True,
            capture_output=True,
            timeout=DEBOOTSTRAP_TIMEOUT,
        )
        # The packages' .debs are not needed in the tarball.
        for deb in (work / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(work), "-cf", str(partial), "."], check=True
        )
        partial.replace(tarball)
    finally:
        partial.unlink(missing_ok=True)
        remove_root(work)


def unpack(tarball: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["tar", "--numeric-owner", "--same-permissions", "-C", str(root), "-xf", str(tarball)],
        check=True,
    )
    # Name resolution for apt and pip inside the root: this machine's.
    resolv = root / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    local_cas = Path("/usr/local/share/ca-certificates")
    if any(local_cas.rglob("*.crt")):
        shutil.copytree(local_cas, root / "usr/local/share/ca-certificates", dirs_exist_ok=True)
        done = in_chroot(root, "update-ca-certificates >/dev/null")
        if done.returncode != 0:
            raise RuntimeError(f"update-ca-certificates failed: {done.stderr}")


# pip inside the root trusts the system's CA bundle (with the local CAs copied in), and
# takes the proxy settings of this machine's environment, if any.
PIP_ENV = {
    "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
    **{
        k: v
        for k, v in os.environ.items()
        if k.lower() in ("http_proxy", "https_proxy", "no_proxy", "pip_index_url")
    },
}


def mounted_under(root: Path) -> list[str]:
    """Mount points at or under ``root`` in this (the test's) mount namespace."""
    prefix = str(root.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return points


def remove_root(root: Path) -> None:
    """Delete a root made here; refuses while anything is mounted under it."""
    if not root.exists():
        return
    busy = mounted_under(root)
    if busy:
        raise RuntimeError(f"refusing to delete {root}: still mounted: {busy}")
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=True)


def in_chroot(
    root: Path,
    script: str,
    *,
    binds: Mapping[Path, str] | None = None,
    writable: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 1800.0,
) -> subprocess.CompletedProcess[str]:
    """Run bash ``script`` chrooted into ``root`` in a private mount namespace (see the
    module docstring). Returns the finished process (output captured, not checked)."""
    mounts = [
        f"mount -t proc proc {shlex.quote(str(root / 'proc'))}",
        f"mount --rbind /dev {shlex.quote(str(root / 'dev'))}",
    ]
    for host, inside in (binds or {}).items():
        target = shlex.quote(str(root / inside.lstrip("/")))
        mounts.append(f"mkdir -p {target} && mount --bind {shlex.quote(str(host))} {target}")
        if inside not in writable:
            mounts.append(f"mount -o remount,bind,ro {target}")
    variables = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        **(env or {}),
    }
    inner = " ".join(
        [
            "exec chroot",
            shlex.quote(str(root)),
            "/usr/bin/env -i",
            *(shlex.quote(f"{k}={v}") for k, v in variables.items()),
            "/bin/bash -euo pipefail -c",
            shlex.quote(script),
        ]
    )
    outer = "set -e\n" + "\n".join(mounts) + "\n" + inner
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", outer],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


PROBE_UNIT = "porchlight-test-probe.service"


def nspawn_unavailable() -> str | None:
    if shutil.which("systemd-nspawn") is None:
        return "systemd-nspawn is not installed (apt install systemd-container)"
    return None


def boot(
    root: Path, probe: str, *, binds: Mapping[Path, str] | None = None, timeout: float = 900.0
) -> str:
    """Boot ``root`` under systemd-nspawn, run ``probe`` in it, power off; its output.
    ``binds``: host folder -> path inside, read-only."""
    units = root / "etc/systemd/system"
    script = root / "porchlight-test-probe.sh"
    result = root / "porchlight-test-probe.out"
    script.write_text(f"#!/bin/bash\n{probe}\n")
    script.chmod(0o755)
    (units / PROBE_UNIT).write_text(
        "[Unit]\nDescription=Porchlight test probe\nAfter=multi-user.target\n"
        "[Service]\nType=oneshot\n"
        f"ExecStart=/bin/sh -c '/{script.name} > /{result.name} 2>&1; systemctl poweroff'\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    wants = units / "multi-user.target.wants"
    wants.mkdir(exist_ok=True)
    (wants / PROBE_UNIT).symlink_to(f"/etc/systemd/system/{PROBE_UNIT}")
    machine = f"porchlight-test-{os.getpid()}"
    try:
        done = subprocess.run(
            [
                *("systemd-nspawn", "--quiet", "--register=no", "--keep-unit"),
                *("--private-network", f"--machine={machine}", "-D", str(root)),
                *(f"--bind-ro={host}:{inside}" for host, inside in (binds or {}).items()),
                "--boot",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if not result.exists():
            raise RuntimeError(f"the probe did not run: {done.stdout[-3000:]} {done.stderr}")
        return result.read_text()
    finally:
        (wants / PROBE_UNIT).unlink(missing_ok=True)
        (units / PROBE_UNIT).unlink(missing_ok=True)
        script.unlink(missing_ok=True)
        result.unlink(missing_ok=True)
        shutil.rmtree(Path("/run/systemd/nspawn/propagate") / machine, ignore_errors=True)
