"""deploy/install.sh in a fresh Debian 12 root (debootstrap, chroot): install, use, boot it
with its own systemd (systemd-nspawn) to see the hardened service record, upgrade over it,
uninstall keeping the data, purge.

THE SLOW TEST of the suite (marked ``slow``): the first run on a machine builds the
Debian root with debootstrap (minutes; then cached a day, tests/support/debian_root.py),
and every run installs Python packages inside it (PyPI wheels, cached in
/var/cache/porchlight-test/pip). No systemd runs in a chroot, so nothing is started there:
the installer detects that and only enables the units, which is part of what is checked.
Then the root is booted (systemd-nspawn: its own systemd 252, as on the box) and the
enabled nvr.service must come up under every hardening setting of the unit, say READY,
ping the watchdog and write footage.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.db.migrate import HEAD
from tests.support import debian_root
from tests.support.procs import require

REPO = Path(__file__).resolve().parents[2]
SRC = "/srv/porchlight"  # the checkout inside the root (read-only bind)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# Run inside the booted root: wait (bounded) until the service records, report; then
# upgrade with systemd running (from a wheel, no index: the root has no network), report.
BOOT_PROBE = """
report() {
  systemctl show nvr.service -p ActiveState -p SubState -p NRestarts -p StatusText \\
    -p WatchdogUSec -p WatchdogTimestampMonotonic
  [ -n "$(find /var/lib/nvr/segments -type f 2>/dev/null | head -n 1)" ] && echo "footage: yes"
}
for _ in $(seq 120); do
  if systemctl is-active --quiet nvr.service &&
     [ -n "$(find /var/lib/nvr/segments -type f 2>/dev/null | head -n 1)" ]; then
    break
  fi
  sleep 1
done
sleep 20  # a few watchdog rounds while recording
report
nvr status || true
journalctl -u nvr.service --no-pager -o cat
echo "=== upgrade while running ==="
rc=0; PIP_NO_INDEX=1 /srv/porchlight/deploy/install.sh --wheel /srv/wheel/WHEEL || rc=$?
echo "install exit $rc"
sleep 10
report
"""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    require(debian_root.unavailable())
    require(debian_root.nspawn_unavailable())
    tarball = debian_root.base_tarball()
    path = tmp_path / "root"
    debian_root.unpack(tarball, path)
    try:
        yield path
    finally:
        debian_root.remove_root(path)


def chroot(root: Path, script: str) -> str:
    caches = {
        debian_root.CACHE / "pip": "/root/.cache/pip",
        debian_root.CACHE / "apt-archives": "/var/cache/apt/archives",
    }
    for host in caches:
        (host / "partial").mkdir(parents=True, exist_ok=True)
    done = debian_root.in_chroot(
        root,
        script,
        binds={REPO: SRC, **caches},
        writable=list(caches.values()),
        env=debian_root.PIP_ENV,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}:\n{output[-6000:]}"
    return output


def build_wheel(folder: Path) -> Path:
    """This checkout's wheel, built here from a copy (the build writes beside the sources)."""
    src = folder / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("nvr", "web"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(src)],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(src)
    (wheel,) = folder.glob("porchlight-*.whl")
    return wheel


def settings(text: str) -> dict[str, str]:
    """The ``Key=value`` lines of ``systemctl show``."""
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Za-z]+=", line))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode(path: Path) -> str:
    return f"{path.stat().st_mode & 0o7777:04o}"


def test_install_upgrade_uninstall_in_a_fresh_debian_root(root: Path) -> None:
    out = chroot(root, f"{SRC}/deploy/install.sh")
    assert "systemd is not running here" in out
    assert "nothing was started" in out
    assert "wrote /etc/nvr/nvr.yaml" in out

    # What was made, with the owners and modes promised.
    etc, data = root / "etc/nvr", root / "var/lib/nvr"
    assert mode(etc / "nvr.yaml") == "0640"
    assert mode(data) == "0700"
    assert (root / "opt/nvr/venv/bin/nvr").is_file()
    for unit in ("nvr.service", "nvr-fstrim.service", "nvr-fstrim.timer"):
        assert (root / "etc/systemd/system" / unit).read_text() == (
            REPO / "deploy/systemd" / unit
        ).read_text()
    wants = root / "etc/systemd/system"
    assert (wants / "multi-user.target.wants/nvr.service").is_symlink()
    assert (wants / "timers.target.wants/nvr-fstrim.timer").is_symlink()

    # The installed command works in the root (as the service user, via the wrapper).
    used = chroot(
        root,
        """
        stat -c '%U:%G %a %n' /etc/nvr /etc/nvr/nvr.yaml /var/lib/nvr
        id nvr
        getent passwd nvr | cut -d: -f7
        nvr --help
        /opt/nvr/venv/bin/python -c 'from nvr.web.app import web_root; print("web", web_root())'
        nvr config check
        rc=0; nvr status || rc=$?
        echo "status exit $rc"
        printf 'sunny-Meadow-42-quietly\\n' > /var/lib/nvr/pw
        chown nvr:nvr /var/lib/nvr/pw; chmod 600 /var/lib/nvr/pw
        nvr keys init --passphrase-file /var/lib/nvr/pw --work-factor 15
        rm /var/lib/nvr/pw
        nvr db current --config /etc/nvr/nvr.yaml
        systemctl is-enabled nvr.service nvr-fstrim.timer
        systemd-analyze verify /etc/systemd/system/nvr.service \
            /etc/systemd/system/nvr-fstrim.service /etc/systemd/system/nvr-fstrim.timer
        echo verified
        """,
    )
    assert "root:nvr 2770 /etc/nvr" in used
    assert "root:nvr 640 /etc/nvr/nvr.yaml" in used
    assert "nvr:nvr 700 /var/lib/nvr" in used
    assert "/usr/sbin/nologin" in used
    assert "Porchlight: a private, local video recorder" in used  # --help
    assert "web /opt/nvr/venv/share/porchlight/web" in used  # the wheel carries web/
    assert (root / "opt/nvr/venv/share/porchlight/web/templates/base.html").is_file()
    assert (root / "opt/nvr/venv/share/porchlight/web/static/api.js").is_file()
    assert "/etc/nvr/nvr.yaml: OK (0 cameras)" in used
    assert re.search(r"Dashboard: +https://", used)
    assert "TLS certificate SHA-256" in used
    assert re.search(r"status exit [03]\b", used)  # 3: the service is not running here
    assert "enabled\nenabled" in used
    assert "verified" in used
    verify_lines = used[used.index("systemd-analyze") :] if "systemd-analyze" in used else ""
    assert "nvr.service:" not in verify_lines  # systemd-analyze verify printed nothing
    keys = sorted(p for p in (data / "keys").rglob("*") if p.is_file())
    assert keys, "nvr keys init wrote no keys"
    before = {p: digest(p) for p in keys}
    assert f"{HEAD} (head)" in used  # nvr db current: migrated to the newest

    # Booted with its own systemd, the enabled service runs under the unit's hardening.
    wheel = build_wheel(root.parent / "wheel")
    probe = BOOT_PROBE.replace("WHEEL", wheel.name)
    booted, upgraded = debian_root.boot(
        root, probe, binds={REPO: SRC, wheel.parent: "/srv/wheel"}
    ).split("=== upgrade while running ===")
    shown = settings(booted)
    assert shown["ActiveState"] == "active", booted
    assert shown["SubState"] == "running", booted
    assert shown["NRestarts"] == "0", booted
    assert shown["StatusText"] == "running: no recorder stalled", booted
    assert shown["WatchdogUSec"] == "1min", booted
    assert shown["WatchdogTimestampMonotonic"] != "0", booted  # a WATCHDOG=1 arrived
    assert "footage: yes" in booted, booted
    assert "Traceback" not in booted
    assert "Operation not permitted" not in booted
    fingerprint = re.search(r"TLS certificate SHA-256: ([0-9A-F:]{95})", booted)
    assert fingerprint, booted
    cert = data / "tls" / "cert.pem"
    served = digest(cert)

    # The upgrade path under a running systemd: stop, reinstall, migrate, start (READY),
    # and the closing 'nvr status' shows the dashboard and the same certificate.
    assert "install exit 0" in upgraded, upgraded
    assert "stopping nvr.service for the upgrade" in upgraded
    assert "starting the upgraded service" in upgraded
    assert re.search(r"Dashboard: +https://\S+:8443/", upgraded), upgraded
    assert f"TLS certificate SHA-256: {fingerprint.group(1)}" in upgraded
    after = settings(upgraded)
    assert (after["ActiveState"], after["SubState"]) == ("active", "running"), upgraded
    assert after["NRestarts"] == "0"
    assert digest(cert) == served

    # The owner edits the config; an upgrade keeps it, the keys and the database.
    with (etc / "nvr.yaml").open("a") as f:
        f.write("# the owner's own note\n")
    edited = digest(etc / "nvr.yaml")
    again = chroot(root, f"{SRC}/deploy/install.sh && nvr db current --config /etc/nvr/nvr.yaml")
    assert "wrote /etc/nvr/nvr.yaml" not in again
    assert "created the system user" not in again
    assert "database:" in again
    assert digest(etc / "nvr.yaml") == edited
    assert {p: digest(p) for p in keys} == before
    assert mode(etc / "nvr.yaml") == "0640"
    assert mode(data) == "0700"
    assert f"{HEAD} (head)" in again
    assert digest(cert) == served  # the fingerprint the owner noted stays valid

    # Uninstall keeps config and data; --purge removes them and the user.
    gone = chroot(root, f"{SRC}/deploy/install.sh --uninstall")
    assert "kept the config" in gone
    assert not (root / "opt/nvr").exists()
    assert not (root / "usr/local/bin/nvr").exists()
    assert not (root / "etc/systemd/system/nvr.service").exists()
    assert not (wants / "multi-user.target.wants/nvr.service").exists()
    assert digest(etc / "nvr.yaml") == edited
    assert {p: digest(p) for p in keys} == before
    chroot(root, f"{SRC}/deploy/install.sh --uninstall --purge")
    assert not etc.exists()
    assert not data.exists()
    assert "nvr:" not in (root / "etc/passwd").read_text()
