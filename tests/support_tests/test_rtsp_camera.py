"""The GStreamer test camera serves what the fixtures promise, read through PyAV/FFmpeg."""

from __future__ import annotations

import itertools
import socket
import subprocess
import time

import av
import numpy as np
import pytest
from av.container import InputContainer

from tests.support.footage import SyntheticClipFactory
from tests.support.procs import ProcessRegistry, group_alive
from tests.support.rtsp_reader import Transport, decode, open_rtsp, read_frames
from tests.support.rtsp_server import (
    DEFAULT_MOUNTS,
    GST_PYTHON,
    SERVER_SCRIPT,
    Mount,
    RtspCamera,
    RtspCameraFactory,
)

pytestmark = pytest.mark.rtsp

# Open/read deadline: generous for a loaded CI machine, yet far below pytest-timeout, so a
# hang shows up as a PyAV timeout error naming the URL rather than a killed test.
TIMEOUT = 10.0


# FFmpeg's AVERROR_HTTP_UNAUTHORIZED is -FFERRTAG(0xF8, '4', '0', '1'); PyAV reports errno
# as the positive tag.
AVERROR_HTTP_UNAUTHORIZED = int.from_bytes(b"\xf8401", "little")


def moved(frames: list[np.ndarray]) -> bool:
    first, last = frames[0].astype(np.int16), frames[-1].astype(np.int16)
    return bool(np.abs(first - last).max() > 32)


def drain(container: InputContainer, limit: int = 100) -> str:
    """Decode until the stream stops: ``ended`` (end of stream) or ``truncated``."""
    try:
        for count, _ in enumerate(container.decode(video=0)):
            if count >= limit:
                return "still streaming"
    except av.error.InvalidDataError:
        # The cut left a partial frame, which the decoder rejects.
        return "truncated"
    return "ended"


def describe(camera: RtspCamera, mount: str) -> str:
    """The status line and headers of a bare DESCRIBE (no credentials)."""
    with socket.create_connection(("127.0.0.1", camera.port), timeout=TIMEOUT) as sock:
        request = f"DESCRIBE {camera.url(mount)} RTSP/1.0\r\nCSeq: 1\r\n\r\n"
        sock.sendall(request.encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n\r\n", 1)[0].decode()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_live_mount_streams_moving_frames(rtsp_camera: RtspCamera, transport: Transport) -> None:
    frames = read_frames(rtsp_camera.url("/live"), 8, transport=transport, timeout=TIMEOUT)

    assert len(frames) == 8
    assert frames[0].shape == (360, 640)
    assert moved(frames)


def test_udp_transport_ports_are_bound_on_loopback_only(rtsp_camera: RtspCamera) -> None:
    with open_rtsp(rtsp_camera.url("/live"), transport="udp", timeout=TIMEOUT) as container:
        assert len(decode(container, 3)) == 3
        sockets = subprocess.run(
            ["ss", "-uanpH"], capture_output=True, text=True, check=True
        ).stdout.splitlines()

    local = [line.split()[3] for line in sockets if f"pid={rtsp_camera.pid}," in line]
    assert len(local) >= 2  # RTP and RTCP
    assert all(address.startswith("127.0.0.1:") for address in local), local


def test_shared_mount_serves_two_viewers_at_once(rtsp_camera: RtspCamera) -> None:
    url = rtsp_camera.url("/live")
    with open_rtsp(url, timeout=TIMEOUT) as first, open_rtsp(url, timeout=TIMEOUT) as second:
        assert len(decode(first, 3)) == 3
        assert len(decode(second, 3)) == 3


@pytest.mark.parametrize(
    ("mount", "transport"), [("/basic", "tcp"), ("/digest", "tcp"), ("/digest", "udp")]
)
def test_right_credentials_get_frames(
    rtsp_camera: RtspCamera, mount: str, transport: Transport
) -> None:
    guarded = rtsp_camera.mounts[mount]
    url = rtsp_camera.url(mount, guarded.user, guarded.password)

    frames = read_frames(url, 3, transport=transport, timeout=TIMEOUT)

    assert len(frames) == 3


def test_each_mount_challenges_with_its_own_scheme(rtsp_camera: RtspCamera) -> None:
    assert describe(rtsp_camera, "/live").startswith("RTSP/1.0 200 OK")
    basic = describe(rtsp_camera, "/basic")
    digest = describe(rtsp_camera, "/digest")

    assert basic.startswith("RTSP/1.0 401 ")
    assert "WWW-Authenticate: Basic realm=" in basic
    assert "Digest" not in basic
    assert digest.startswith("RTSP/1.0 401 ")
    assert "WWW-Authenticate: Digest realm=" in digest
    assert "nonce=" in digest
    assert "Basic" not in digest


@pytest.mark.parametrize(
    ("mount", "user", "password"),
    [
        ("/basic", "viewer", "wrong"),
        ("/basic", None, None),
        ("/digest", "viewer", "wrong"),
        ("/digest", None, None),
        # Credentials of another mount open nothing here.
        ("/digest", "viewer", "basic-pass"),
        ("/basic", "viewer", "digest-pass"),
    ],
)
def test_wrong_credentials_fail_fast_with_401(
    rtsp_camera: RtspCamera, mount: str, user: str | None, password: str | None
) -> None:
    started = time.monotonic()
    with pytest.raises(av.error.HTTPUnauthorizedError) as raised:
        open_rtsp(rtsp_camera.url(mount, user, password), timeout=TIMEOUT)

    assert raised.value.errno == AVERROR_HTTP_UNAUTHORIZED
    # Rejected by the server, not given up on: well inside the open deadline.
    assert time.monotonic() - started < TIMEOUT


def test_unknown_mount_is_404(rtsp_camera: RtspCamera) -> None:
    with pytest.raises(av.error.HTTPNotFoundError):
        open_rtsp(f"rtsp://127.0.0.1:{rtsp_camera.port}/nowhere", timeout=TIMEOUT)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_killed_camera_ends_the_stream_then_restart_serves_again(
    rtsp_camera: RtspCamera, transport: Transport
) -> None:
    url = rtsp_camera.url("/live")
    port = rtsp_camera.port
    with open_rtsp(url, transport=transport, timeout=TIMEOUT) as container:
        assert len(decode(container, 3)) == 3
        rtsp_camera.kill()
        # The RTSP session's TCP connection drops, so FFmpeg ends the stream at once (a
        # frame or two from its buffers may still come). A hang would end in PyAV's
        # read deadline instead (av.error.ExitError), failing the test.
        assert drain(container) in ("ended", "truncated")

    assert not rtsp_camera.running
    with pytest.raises(av.error.ConnectionRefusedError):
        open_rtsp(url, transport=transport, timeout=TIMEOUT)

    rtsp_camera.restart()

    assert rtsp_camera.port == port
    assert len(read_frames(url, 3, transport=transport, timeout=TIMEOUT)) == 3


def test_frozen_camera_makes_the_reader_give_up_at_its_deadline(
    rtsp_camera: RtspCamera,
) -> None:
    url = rtsp_camera.url("/live")
    with open_rtsp(url, timeout=TIMEOUT, read_timeout=2.0) as container:
        assert len(decode(container, 3)) == 3
        rtsp_camera.freeze()  # sockets stay open, nothing arrives: only a deadline helps
        try:
            with pytest.raises(av.error.ExitError):  # PyAV's read deadline, not a hang
                decode(container, 100)
        finally:
            rtsp_camera.thaw()

    assert len(read_frames(url, 3, timeout=TIMEOUT)) == 3


def test_file_mount_sends_every_frame_of_the_clip(
    rtsp_camera_factory: RtspCameraFactory, synthetic_clip_factory: SyntheticClipFactory
) -> None:
    clip = synthetic_clip_factory("walk_past", 2.0, width=320, height=180)
    camera = rtsp_camera_factory([Mount("/clip", source="file", file=clip.path)])

    for _ in range(2):  # each viewer gets the clip from its first frame
        frames = read_frames(
            camera.url("/clip"), 1000, low_latency=False, pix_fmt="bgr24", timeout=TIMEOUT
        )
        assert len(frames) == len(clip.truths)
        assert frames[0].shape == (180, 320, 3)


def test_looping_file_mount_keeps_timestamps_increasing(
    rtsp_camera_factory: RtspCameraFactory, synthetic_clip_factory: SyntheticClipFactory
) -> None:
    clip = synthetic_clip_factory("walk_past", 1.0, width=320, height=180)
    camera = rtsp_camera_factory([Mount("/loop", source="file", file=clip.path, loop=True)])
    wanted = 2 * len(clip.truths) + 5

    pts: list[int] = []
    with open_rtsp(camera.url("/loop"), low_latency=False, timeout=TIMEOUT) as container:
        for frame in container.decode(video=0):
            if frame.pts is not None:
                pts.append(frame.pts)
            if len(pts) >= wanted:
                break

    assert len(pts) == wanted
    assert all(b > a for a, b in itertools.pairwise(pts)), pts


def test_stop_and_kill_leave_no_process(
    process_registry: ProcessRegistry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    camera = RtspCamera(
        DEFAULT_MOUNTS, registry=process_registry, log_dir=tmp_path_factory.mktemp("cam")
    )
    camera.start()
    first = camera.pid
    camera.kill()
    assert not group_alive(first)

    camera.restart()
    second = camera.pid
    assert second != first
    camera.stop()
    assert not camera.running
    assert not group_alive(second)
    assert "--- start 2" in camera.log_path.read_text()


@pytest.mark.usefixtures("_gst_rtsp_available")
def test_server_refuses_a_non_loopback_address() -> None:
    config = '{"host": "0.0.0.0", "port": 0, "mounts": [{"path": "/live", "source": "live"}]}'
    result = subprocess.run(
        [str(GST_PYTHON), str(SERVER_SCRIPT), config],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
    assert "READY" not in result.stdout
