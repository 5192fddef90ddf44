"""Reading a test camera the way the NVR does: FFmpeg's RTSP client through PyAV.

Contract:

- ``open_rtsp(url, transport=..., timeout=...)`` opens with small probe sizes and FFmpeg's
  socket timeout plus PyAV's open/read deadline, so a dead or silent server makes it
  raise within about ``timeout`` seconds instead of hanging. ``low_latency`` drops what
  FFmpeg reads while probing (``fflags=nobuffer``): right for a live view, wrong when
  every frame of a clip must arrive.
- ``read_frames(url, count, ...)`` decodes ``count`` frames and returns them as arrays
  (``gray`` by default, or ``bgr24``).
- ``python -m tests.support.rtsp_reader URL --frames N [--transport udp]`` does the same
  from another process (e.g. inside a network namespace) and prints one JSON line:
  ``{"frames": N, "width": W, "height": H, "moving": bool}``, ``moving`` meaning the
  first and last frames differ (the live test pattern's ball moves).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Literal

import av
import numpy as np
from av.container import InputContainer

Transport = Literal["tcp", "udp"]


def rtsp_options(transport: Transport, *, timeout: float, low_latency: bool) -> dict[str, str]:
    options = {
        "rtsp_transport": transport,
        "probesize": "32768",
        "analyzeduration": "500000",
        # FFmpeg's own socket I/O timeout, in microseconds.
        "timeout": str(int(timeout * 1_000_000)),
    }
    if low_latency:
        options |= {"fflags": "nobuffer", "flags": "low_delay"}
    return options


def open_rtsp(
    url: str,
    *,
    transport: Transport = "tcp",
    timeout: float = 10.0,
    read_timeout: float | None = None,
    low_latency: bool = True,
) -> InputContainer:
    """Open ``url``; raises an ``av.error.FFmpegError`` subclass on failure.

    ``timeout`` bounds the open and FFmpeg's socket operations; ``read_timeout`` (default
    ``timeout``) bounds each read, after which PyAV gives up with ``av.error.ExitError``.
    """
    return av.open(
        url,
        options=rtsp_options(transport, timeout=timeout, low_latency=low_latency),
        timeout=(timeout, timeout if read_timeout is None else read_timeout),
    )


def decode(container: InputContainer, count: int, *, pix_fmt: str = "gray") -> list[np.ndarray]:
    """The next ``count`` decoded video frames (fewer only if the stream ends)."""
    frames: list[np.ndarray] = []
    for frame in container.decode(video=0):
        frames.append(frame.to_ndarray(format=pix_fmt))
        if len(frames) >= count:
            break
    return frames


def read_frames(
    url: str,
    count: int,
    *,
    transport: Transport = "tcp",
    timeout: float = 10.0,
    low_latency: bool = True,
    pix_fmt: str = "gray",
) -> list[np.ndarray]:
    """Open ``url``, decode ``count`` frames, close."""
    with open_rtsp(url, transport=transport, timeout=timeout, low_latency=low_latency) as c:
        return decode(c, count, pix_fmt=pix_fmt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--transport", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    frames = read_frames(args.url, args.frames, transport=args.transport, timeout=args.timeout)
    summary: dict[str, object] = {"frames": len(frames)}
    if frames:
        first, last = frames[0].astype(np.int16), frames[-1].astype(np.int16)
        summary |= {
            "width": first.shape[1],
            "height": first.shape[0],
            "moving": bool(np.abs(first - last).max() > 32),
        }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
