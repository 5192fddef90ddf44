"""The demo doorbell as a real RTSP camera: ffprobe, PyAV and a byte-level RTSP client."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest

from nvr.demo.rtp import NAL_FU_A, NAL_PPS, NAL_SPS
from nvr.demo.rtsp_server import DemoDoorbell

TCP = {"rtsp_transport": "tcp"}


class RawClient:
    """Speaks RTSP byte by byte, so tests can see exactly what the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.cseq = 0
        self.frames: list[tuple[int, bytes]] = []  # interleaved data seen while waiting

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                self.frames.append(await self._frame_body())
                continue
            head = (first + await self.reader.readuntil(b"\r\n\r\n")).decode()
            status_line, *header_lines = head.strip().split("\r\n")
            found = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
            assert found["cseq"] == str(self.cseq)
            body = await self.reader.readexactly(int(found.get("content-length", "0")))
            return int(status_line.split()[1]), found, body

    async def _frame_body(self) -> tuple[int, bytes]:
        channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
        return channel, await self.reader.readexactly(length)

    async def frame(self) -> tuple[int, bytes]:
        if self.frames:
            return self.frames.pop(0)
        assert await self.reader.readexactly(1) == b"$"
        return await self._frame_body()

    async def play(self, url: str) -> str:
        assert (await self.request("DESCRIBE", url))[0] == 200
        status, headers, _ = await self.request(
            "SETUP", f"{url}/trackID=0", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        )
        assert status == 200
        session = headers["session"].split(";")[0]
        assert (await self.request("PLAY", url, {"Session": session}))[0] == 200
        return session


@pytest.fixture
async def raw(doorbell: DemoDoorbell) -> AsyncIterator[RawClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", doorbell.port)
    yield RawClient(reader, writer)
    writer.close()
    await writer.wait_closed()


async def test_ffprobe_sees_an_h264_stream(doorbell: DemoDoorbell) -> None:
    proc = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-rtsp_transport",
        "tcp",
        "-show_streams",
        "-of",
        "json",
        doorbell.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    (stream,) = json.loads(out)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 180)
    assert stream["r_frame_rate"] == "10/1"


def decode_frames(url: str, count: int) -> list[av.VideoFrame]:
    with av.open(url, options=TCP, timeout=10.0) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) == count:
                return frames
    raise AssertionError("stream ended early")


async def test_plain_pyav_decodes_from_the_first_frame(doorbell: DemoDoorbell) -> None:
    frames = await asyncio.to_thread(decode_frames, doorbell.url, 5)
    assert frames[0].key_frame  # the cached GOP starts with its keyframe
    assert all((f.width, f.height) == (320, 180) for f in frames)


def first_packets(url: str, count: int) -> list[av.Packet[Any]]:
    with av.open(url, options=TCP, timeout=10.0) as container:
        packets = []
        for packet in container.demux(video=0):
            if packet.size:
                packets.append(packet)
            if len(packets) == count:
                return packets
    raise AssertionError("stream ended early")


async def test_two_viewers_and_a_late_one_starts_at_a_keyframe(doorbell: DemoDoorbell) -> None:
    early = asyncio.create_task(asyncio.to_thread(first_packets, doorbell.url, 25))
    await asyncio.sleep(1.5)  # the late viewer joins in the middle of a GOP
    late = await asyncio.to_thread(first_packets, doorbell.url, 5)
    assert late[0].is_keyframe
    packets = await early
    assert packets[0].is_keyframe
    assert sum(p.is_keyframe for p in packets) >= 2  # GOP is 1 s: it saw the stream go on


async def test_rtsp_conversation_byte_by_byte(doorbell: DemoDoorbell, raw: RawClient) -> None:
    url = doorbell.url
    status, headers, _ = await raw.request("OPTIONS", url)
    assert status == 200
    assert set(headers["public"].split(", ")) >= {"DESCRIBE", "SETUP", "PLAY", "TEARDOWN"}

    status, headers, body = await raw.request("DESCRIBE", url, {"Accept": "application/sdp"})
    assert (status, headers["content-type"]) == (200, "application/sdp")
    assert "a=rtpmap:96 H264/90000" in body.decode()
    assert (await raw.request("DESCRIBE", url.replace("doorbell", "garage")))[0] == 404

    udp = {"Transport": "RTP/AVP;unicast;client_port=5000-5001"}
    assert (await raw.request("SETUP", f"{url}/trackID=0", udp))[0] == 461
    assert (await raw.request("PLAY", url, {"Session": "nope"}))[0] == 454

    tcp = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
    status, headers, _ = await raw.request("SETUP", f"{url}/trackID=0", tcp)
    assert status == 200
    assert "interleaved=0-1" in headers["transport"]
    session = headers["session"].split(";")[0]
    status, headers, _ = await raw.request("PLAY", url, {"Session": session})
    assert status == 200
    info = dict(kv.split("=", 1) for kv in headers["rtp-info"].split(";")[1:])

    # The first packet continues the RTP-Info numbering and starts a decodable frame.
    channel, packet = await raw.frame()
    assert channel == 0
    seq, rtp_time = struct.unpack("!HI", packet[2:8])
    assert (seq, rtp_time) == (int(info["seq"]), int(info["rtptime"]))
    assert packet[12] & 0x1F == NAL_SPS
    channel, packet = await raw.frame()
    assert packet[12] & 0x1F == NAL_PPS

    # Frames end with the marker bit; a sender report comes on the RTCP channel.
    markers, report = 0, None
    while markers < 3 or report is None:
        channel, packet = await raw.frame()
        if channel == 1:
            report = packet
        else:
            markers += packet[1] >> 7
            assert packet[12] & 0x1F in (1, 5, NAL_SPS, NAL_PPS, NAL_FU_A, 6)
    assert report[1] == 200

    assert (await raw.request("GET_PARAMETER", url, {"Session": session}))[0] == 200
    assert doorbell.viewers == 1
    assert (await raw.request("TEARDOWN", url, {"Session": session}))[0] == 200
    assert doorbell.viewers == 0


async def test_a_stalled_viewer_is_dropped_and_others_keep_going() -> None:
    # Every frame a keyframe at 30 fps: lots of bytes, so the stall shows within a second.
    bell = DemoDoorbell(
        width=640, height=360, fps=30, gop_seconds=0.01, max_viewer_buffer=64 * 1024
    )
    await bell.start()
    try:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", bell.port))
        reader, writer = await asyncio.open_connection(sock=stalled)
        await RawClient(reader, writer).play(bell.url)  # ...and never reads again
        watcher = asyncio.create_task(asyncio.to_thread(first_packets, bell.url, 90))
        deadline = time.monotonic() + 20
        while bell.dropped_viewers == 0:
            assert time.monotonic() < deadline, "stalled viewer was never dropped"
            await asyncio.sleep(0.1)
        assert not watcher.done()  # dropped while the other viewer was still watching
        assert len(await watcher) == 90  # three seconds of video despite the stalled one
        assert bell.dropped_viewers == 1
        writer.close()
    finally:
        await bell.stop()


async def drain_frames(client: RawClient) -> None:
    while True:
        await client.frame()


async def test_stop_ends_viewers_and_frees_the_port() -> None:
    bell = DemoDoorbell(width=320, height=180)
    await bell.start()
    port = bell.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = RawClient(reader, writer)
    await client.play(bell.url)
    await bell.stop()
    # The viewer's connection ends (after whatever was already in flight).
    with pytest.raises(asyncio.IncompleteReadError):
        await drain_frames(client)
    writer.close()
    again = DemoDoorbell(port=port, width=320, height=180)
    await again.start()
    assert again.port == port
    await again.stop()
