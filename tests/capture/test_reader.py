"""StreamReader against real cameras: the demo doorbell and GStreamer's RTSP server."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from nvr.capture import CapturedPacket, StreamHealth, StreamReader, Subscription
from nvr.clock import SystemClock
from nvr.demo.rtsp_server import DemoDoorbell
from tests.support.rtsp_server import RtspCamera

PASSWORD = "s3cret-Pa55"


def with_password(url: str, password: str = PASSWORD, user: str = "viewer") -> str:
    return url.replace("rtsp://", f"rtsp://{user}:{password}@", 1)


async def wait_for(
    reader: StreamReader, check: Callable[[StreamHealth], bool], timeout: float = 15.0
) -> StreamHealth:
    deadline = time.monotonic() + timeout
    while True:
        health = reader.health()
        if check(health):
            return health
        assert time.monotonic() < deadline, f"timed out; last health: {health}"
        await asyncio.sleep(0.05)


async def next_packet(sub: Subscription, timeout: float = 10.0) -> CapturedPacket:
    return await asyncio.wait_for(sub.aget(), timeout)


@pytest.fixture
def reader_factory() -> Iterator[Callable[..., StreamReader]]:
    readers: list[StreamReader] = []

    def make(url: str, **kwargs: object) -> StreamReader:
        reader = StreamReader("front-door", url, clock=SystemClock(), **kwargs)  # type: ignore[arg-type]
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.stop()


async def test_reads_the_demo_doorbell(
    doorbell: DemoDoorbell,
    reader_factory: Callable[..., StreamReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    reader = reader_factory(with_password(doorbell.url))
    assert reader.health().state == "connecting"
    sub = reader.subscribe(maxsize=100, loop=asyncio.get_running_loop())
    reader.start()
    first = await next_packet(sub)
    assert first.keyframe  # the stream starts decodable: the cached GOP reaches us whole
    assert (first.info.codec, first.info.width, first.info.height) == ("h264", 320, 180)
    assert first.info.session == 1
    assert first.info.extradata
    await asyncio.sleep(2.5)
    health = reader.health()
    assert health.state == "online"
    assert (health.codec, health.width, health.height) == ("h264", 320, 180)
    assert health.fps == pytest.approx(10.0, rel=0.2)
    assert health.bitrate is not None
    assert health.bitrate > 0
    assert health.packets >= 20
    assert health.last_packet_at is not None
    assert (health.reconnects, health.last_error) == (0, None)
    assert PASSWORD not in repr(health)
    assert ":***@" in health.url
    assert await asyncio.to_thread(reader.stop)
    assert reader.health().state == "offline"
    assert PASSWORD not in caplog.text


async def test_reconnects_when_the_camera_comes_back(
    reader_factory: Callable[..., StreamReader],
) -> None:
    bell = DemoDoorbell(width=320, height=180, gop_seconds=1.0)
    await bell.start()
    port = bell.port
    reader = reader_factory(bell.url)
    sub = reader.subscribe(maxsize=1000, loop=asyncio.get_running_loop())
    reader.start()
    await wait_for(reader, lambda h: h.state == "online")
    await bell.stop()
    down = await wait_for(reader, lambda h: h.state == "offline" and h.reconnects >= 1)
    assert down.last_error is not None
    bell = DemoDoorbell(port=port, width=320, height=180, gop_seconds=1.0)
    await bell.start()
    try:
        back = await wait_for(reader, lambda h: h.state == "online")
        assert back.reconnects >= 1
        assert back.last_error is None
        sessions: dict[int, CapturedPacket] = {}
        while 2 not in sessions:
            packet = await next_packet(sub)
            sessions.setdefault(packet.info.session, packet)
        # Each connection's packets start at a keyframe and say which connection they are.
        assert sessions[1].keyframe
        assert sessions[2].keyframe
        assert sessions[2].received_mono > sessions[1].received_mono
    finally:
        await asyncio.to_thread(reader.stop)
        await bell.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_unreachable_camera_and_a_prompt_stop(
    reader_factory: Callable[..., StreamReader],
) -> None:
    reader = reader_factory(with_password(f"rtsp://127.0.0.1:{free_port()}/doorbell"))
    sub = reader.subscribe()
    reader.start()
    health = await wait_for(reader, lambda h: h.state == "unreachable")
    assert health.last_error is not None
    assert "refused" in health.last_error
    assert PASSWORD not in repr(health)
    # Waiting between attempts must not delay stop.
    assert await asyncio.to_thread(reader.stop, 2.0)
    assert sub.closed


async def test_a_camera_gone_silent_is_noticed_and_stop_does_not_hang(
    reader_factory: Callable[..., StreamReader],
) -> None:
    # The camera in its own process, frozen with SIGSTOP: its TCP connection stays open
    # but no byte arrives, the case only a read timeout can catch.
    argv = [sys.executable, "-m", "nvr.demo", "--width", "320", "--height", "180"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as camera:
        try:
            assert camera.stdout is not None
            url = await asyncio.wait_for(asyncio.to_thread(camera.stdout.readline), 30)
            reader = reader_factory(url.strip(), read_timeout=2.0)
            reader.start()
            await wait_for(reader, lambda h: h.state == "online")
            camera.send_signal(signal.SIGSTOP)
            silent = await wait_for(reader, lambda h: h.state == "offline")
            assert silent.last_error == "timed out waiting for the camera"
            # Reconnecting to a frozen camera blocks in FFmpeg's open; stop still returns.
            assert await asyncio.to_thread(reader.stop, 7.0)
        finally:
            camera.kill()


@pytest.mark.rtsp
@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_reads_the_gstreamer_live_mount(
    rtsp_camera: RtspCamera, reader_factory: Callable[..., StreamReader], transport: str
) -> None:
    reader = reader_factory(rtsp_camera.url("/live"), transport=transport, open_timeout=10.0)
    sub = reader.subscribe(maxsize=100, loop=asyncio.get_running_loop())
    reader.start()
    first = await next_packet(sub, timeout=20.0)
    assert first.info.codec == "h264"
    for _ in range(10):
        await next_packet(sub)
    health = reader.health()
    assert health.state == "online"
    assert health.packets >= 11


@pytest.mark.rtsp
@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_packets_carry_the_cameras_rtcp_clock(
    rtsp_camera: RtspCamera, reader_factory: Callable[..., StreamReader], transport: str
) -> None:
    # GStreamer's server sends RTCP sender reports on this machine's clock, so once the
    # first report is in, each packet's camera time is its capture time: a little before
    # its arrival (encoder and network latency), never after it.
    reader = reader_factory(rtsp_camera.url("/live"), transport=transport, open_timeout=10.0)
    sub = reader.subscribe(maxsize=200, loop=asyncio.get_running_loop())
    reader.start()
    packets = [await next_packet(sub, timeout=20.0)]
    while sum(p.camera_time is not None for p in packets) < 30:
        assert len(packets) < 300, "no RTCP sender report reached the reader"
        packets.append(await next_packet(sub))
    first = next(n for n, p in enumerate(packets) if p.camera_time is not None)
    timed = packets[first:]
    assert all(p.camera_time is not None for p in timed), "a timed stream lost its clock"
    lead = [(p.received_at - p.camera_time).total_seconds() for p in timed if p.camera_time]
    assert all(-0.05 <= s <= 2.0 for s in lead), lead
    times = [p.camera_time for p in timed if p.camera_time is not None]
    assert times == sorted(times)


@pytest.mark.rtsp
@pytest.mark.parametrize("mount", ["/basic", "/digest"])
async def test_wrong_password_is_auth_failed(
    rtsp_camera: RtspCamera,
    reader_factory: Callable[..., StreamReader],
    caplog: pytest.LogCaptureFixture,
    mount: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    reader = reader_factory(rtsp_camera.url(mount, "viewer", PASSWORD), open_timeout=10.0)
    reader.start()
    health = await wait_for(reader, lambda h: h.state == "auth_failed", timeout=20.0)
    assert health.last_error is not None
    assert "401" in health.last_error
    await asyncio.sleep(1.5)
    assert reader.health().reconnects == 0  # slow retries: no storm of failed logins
    assert PASSWORD not in repr(reader.health())
    assert PASSWORD not in caplog.text
    assert await asyncio.to_thread(reader.stop, 2.0)
