"""``python -m nvr.demo``: run the demo doorbell on its own, for manual checks and CPU
measurements (``ffplay -rtsp_transport tcp URL`` to watch). Prints the URL on stdout, runs
until SIGINT/SIGTERM. ``nvr demo`` (the service with this camera wired in) is the normal
way to use it; this entry point exists so the camera can be looked at in isolation.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from nvr.demo.rtsp_server import DemoDoorbell
from nvr.demo.scene import SCENE_NAMES


async def _run(args: argparse.Namespace) -> None:
    bell = DemoDoorbell(
        args.host,
        args.port,
        width=args.width,
        height=args.height,
        fps=args.fps,
        seed=args.seed,
        scene=args.scene,
    )
    await bell.start()
    print(bell.url, flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await bell.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nvr.demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scene", default="demo", choices=SCENE_NAMES)
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
