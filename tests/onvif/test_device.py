"""probe_device: the pure decisions, then PyPI ipycam (a third-party ONVIF camera, run
inside a namespace), the PullPoint double for event support, and the three failures a
user meets: nothing there, wrong password, not an ONVIF device."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from zeep.exceptions import Fault

from nvr.clock import FakeClock
from nvr.onvif.device import (
    StreamProfile,
    clock_offset,
    pick_main_sub,
    probe_device,
    strip_credentials,
    translate_error,
)
from nvr.onvif.errors import NotOnvifDevice, OnvifAuthFailed, OnvifUnreachable
from tests.onvif.conftest import RunInNetns, StartIpycam
from tests.onvif.pullpoint_double import PullPointDouble
from tests.support.netns import Netns


def _profile(token: str, width: int, height: int, uri: str | None = "rtsp://h/x") -> StreamProfile:
    return StreamProfile(token, token, "H264", width, height, uri)


def test_strip_credentials_returns_them_apart() -> None:
    assert strip_credentials("rtsp://admin:p%40ss@192.0.2.5:554/main") == (
        "rtsp://192.0.2.5:554/main",
        "admin",
        "p@ss",
    )
    assert strip_credentials("rtsp://192.0.2.5/main") == ("rtsp://192.0.2.5/main", None, None)


def test_main_is_the_largest_and_sub_the_smallest_profile() -> None:
    mid, big = _profile("mid", 1280, 720), _profile("big", 2560, 1440)
    small = _profile("s", 640, 360)
    assert pick_main_sub([mid, big, small]) == (big, small)
    assert pick_main_sub([mid]) == (mid, None)
    assert pick_main_sub([_profile("n", 1920, 1080, uri=None)]) == (None, None)


def test_clock_offset_is_camera_minus_ours() -> None:
    ours = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert clock_offset(datetime(2026, 1, 1, 15, 0, 5, tzinfo=UTC), ours) == 3 * 3600 + 5
    assert clock_offset(datetime(2026, 1, 1, 11, 59, 0, tzinfo=UTC), ours) == -60


def _fault(message: str) -> Fault:
    return Fault(message, subcodes=None)  # type: ignore[no-untyped-call]


def test_errors_are_translated_to_one_line_user_errors() -> None:
    auth = translate_error(_fault("Sender not authorized"), "h", 80)
    assert isinstance(auth, OnvifAuthFailed)
    assert isinstance(translate_error(TimeoutError(), "h", 80), OnvifUnreachable)
    assert isinstance(translate_error(ConnectionRefusedError(), "h", 80), OnvifUnreachable)
    assert isinstance(translate_error(_fault("ActionNotSupported"), "h", 80), NotOnvifDevice)
    assert translate_error(KeyError("bug"), "h", 80) is None


@pytest.mark.netns
def test_probe_ipycam_reads_identity_profiles_and_stream_uris(
    netns: Netns, ipycam_factory: StartIpycam, run_in_netns: RunInNetns
) -> None:
    port = ipycam_factory(netns)
    code, out, err = run_in_netns(netns, "probe", "127.0.0.1", str(port))
    assert code == 0, out + err
    device = json.loads(out)
    assert (device["manufacturer"], device["model"]) == ("PythonCam", "VirtualCam-1")
    assert device["serial"] == "PY-TEST-0001"
    assert device["firmware"]
    assert [p["token"] for p in device["profiles"]] == ["Profile_Main", "Profile_Sub"]
    assert device["main"]["uri"] == "rtsp://127.0.0.1:8554/video_main"
    assert (device["main"]["width"], device["main"]["height"]) == (640, 480)
    assert device["sub"]["uri"] == "rtsp://127.0.0.1:8554/video_sub"
    assert (device["sub"]["width"], device["sub"]["height"]) == (320, 240)
    assert abs(device["clock_offset_s"]) < 5
    assert device["events_supported"] is False  # ipycam has no event service
    assert device["credentials"] is None


@pytest.mark.netns
def test_probe_ipycam_with_credentials_and_with_a_wrong_password(
    netns: Netns, ipycam_factory: StartIpycam, run_in_netns: RunInNetns, tmp_path: Path
) -> None:
    port = ipycam_factory(netns, ("admin", "right-horse-battery"))
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("right-horse-battery\n")
    bad.write_text("wrong-horse-battery\n")

    code, out, err = run_in_netns(netns, "probe", "127.0.0.1", str(port), "admin", str(good))
    assert code == 0, out + err
    device = json.loads(out)
    assert device["credentials"] == {"username": "admin", "password": "***"}
    assert "@" not in device["main"]["uri"]

    code, out, err = run_in_netns(netns, "probe", "127.0.0.1", str(port), "admin", str(bad))
    assert code == 1
    assert out == (
        f"ERROR OnvifAuthFailed: ONVIF camera at 127.0.0.1:{port} refused the login "
        "(NotAuthorized)\n"
    )
    assert "wrong-horse" not in out + err


async def test_probe_the_event_double_reports_event_support() -> None:
    double = PullPointDouble(manufacturer="Acme", model="Bell-2")
    port = await double.start()
    try:
        clock = FakeClock(datetime.now(UTC))
        device = await probe_device("127.0.0.1", port, "admin", "pw", timeout=10, clock=clock)
    finally:
        await double.close()
    assert (device.manufacturer, device.model) == ("Acme", "Bell-2")
    assert device.events_supported is True
    assert (device.profiles, device.main) == ((), None)  # the double has no media service


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_nothing_listening_is_unreachable() -> None:
    port = _free_port()
    with pytest.raises(OnvifUnreachable) as caught:
        await probe_device("127.0.0.1", port, "admin", "s3cret-pw", timeout=10)
    assert str(caught.value).startswith(f"cannot reach ONVIF camera at 127.0.0.1:{port}")
    assert "s3cret" not in str(caught.value) + str(caught.value.hint)


@pytest.fixture
async def web_page() -> AsyncIterator[int]:
    """A plain web server (a camera's web UI, say) on 127.0.0.1: HTML, not SOAP."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Login</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


async def test_a_web_page_is_not_an_onvif_device(web_page: int) -> None:
    with pytest.raises(NotOnvifDevice) as caught:
        await probe_device("127.0.0.1", web_page, "admin", "s3cret-pw", timeout=10)
    message = str(caught.value)
    assert message.startswith(f"127.0.0.1:{web_page} answered but is not an ONVIF device")
    assert "\n" not in message
    assert "s3cret" not in message


async def test_a_silent_server_times_out_as_unreachable() -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # accept, read nothing, answer nothing: a hung camera
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OnvifUnreachable, match="did not answer in time"):
            await probe_device("127.0.0.1", port, None, None, timeout=0.5)
    finally:
        release.set()
        await asyncio.sleep(0.05)  # let the handlers close their sockets
        server.close()
        await server.wait_closed()
