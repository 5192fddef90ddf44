"""The ``netns`` fixture gives a working, loopback-only network that is always cleaned up."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.netns import NAME_PREFIX, Netns, list_namespaces, remove_stale_namespaces
from tests.support.rtsp_server import DEFAULT_MOUNTS, RtspCameraFactory

pytestmark = pytest.mark.netns

REPO = Path(__file__).resolve().parents[2]
# The venv's interpreter, so code inside the namespace has PyAV and the project.
PYTHON = sys.executable
WS_DISCOVERY = ("239.255.255.250", "3702")


def python_in(netns: Netns, *args: str) -> list[str]:
    return netns.command([PYTHON, *args])


def test_namespace_holds_only_loopback(netns: Netns) -> None:
    links = netns.run(["ip", "-o", "link", "show"]).stdout.splitlines()
    addresses = netns.run(["ip", "-o", "-4", "addr", "show"]).stdout
    routes = netns.run(["ip", "route", "show"]).stdout

    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    assert "127.0.0.1/8" in addresses
    assert "127.0.0.2/8" in addresses
    assert "224.0.0.0/4 dev lo" in routes
    assert "default" not in routes


def test_outside_addresses_are_unreachable(netns: Netns) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): routed nowhere, and UDP connect() sends nothing.
    route = netns.run(["ip", "route", "get", "192.0.2.1"], check=False)
    probe = netns.run(
        [
            PYTHON,
            "-c",
            "import errno, socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "try:\n"
            "    s.connect(('192.0.2.1', 9))\n"
            "except OSError as e:\n"
            "    print(errno.errorcode[e.errno])\n",
        ]
    )

    assert route.returncode != 0
    assert "unreachable" in route.stderr.lower()
    assert probe.stdout.strip() == "ENETUNREACH"


def test_multicast_inside_the_namespace(netns: Netns) -> None:
    group, port = WS_DISCOVERY
    receiver = netns.popen(
        [PYTHON, "-m", "tests.support.multicast", "recv", group, port, "--timeout", "10"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with receiver:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "LISTENING"
        netns.run([PYTHON, "-m", "tests.support.multicast", "send", group, port, "hello"], cwd=REPO)
        out, err = receiver.communicate(timeout=15)

    assert receiver.returncode == 0, err
    assert json.loads(out) == {"payload": "hello", "sender": "127.0.0.1"}


@pytest.mark.rtsp
def test_camera_inside_namespace_streams_to_a_reader_inside(
    netns: Netns, rtsp_camera_factory: RtspCameraFactory
) -> None:
    camera = rtsp_camera_factory(DEFAULT_MOUNTS, netns=netns)
    guarded = camera.mounts["/digest"]

    reads = [
        netns.run(
            [PYTHON, "-m", "tests.support.rtsp_reader", url, "--frames", "5", "--transport", t],
            cwd=REPO,
        )
        for url, t in [
            (camera.url("/live"), "udp"),
            (camera.url("/digest", guarded.user, guarded.password), "tcp"),
        ]
    ]

    for read in reads:
        assert json.loads(read.stdout) == {"frames": 5, "width": 640, "height": 360, "moving": True}
    # The server really is in the namespace, not on this process's network.
    assert Path(f"/proc/{camera.pid}/ns/net").readlink() != Path("/proc/self/ns/net").readlink()
    assert camera.pid in netns.pids()


@pytest.mark.usefixtures("_netns_session")
def test_namespaces_of_dead_runs_are_removed() -> None:
    # A pid above pid_max never exists: the run that "made" this namespace is gone.
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    stale = Netns(f"{NAME_PREFIX}-{dead}-{secrets.token_hex(4)}")
    subprocess.run(["ip", "netns", "add", stale.name], check=True)
    try:
        assert stale.name in remove_stale_namespaces()
        assert stale.name not in list_namespaces()
    finally:
        stale.delete()


@pytest.mark.usefixtures("_netns_session")
def test_delete_kills_what_is_inside_and_removes_the_namespace() -> None:
    with Netns.create() as netns:
        sleeper = netns.popen(["sleep", "600"])
        # `ip netns exec` enters the namespace after the fork: on a busy machine popen
        # returns before it has. Wait for it (bounded) rather than race it.
        deadline = time.monotonic() + 10
        while sleeper.pid not in netns.pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sleeper.pid in netns.pids()
        name = netns.name

    assert sleeper.wait(timeout=10) == -9
    assert name not in list_namespaces()
    netns.delete()  # idempotent
