"""Periodic work of the running service, each step in a worker thread so the event loop
never waits on disk or scrypt: lock expired unlock sessions, apply retention, and sign
audit checkpoints when due. ``run_housekeeping`` returns when ``stop`` is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    step: Callable[[], object]


async def run_housekeeping(jobs: list[Job], stop: asyncio.Event, tick: float = 1.0) -> None:
    loop = asyncio.get_running_loop()
    due = {job.name: loop.time() + job.every_seconds for job in jobs}
    while not stop.is_set():
        now = loop.time()
        for job in jobs:
            if now >= due[job.name]:
                due[job.name] = now + job.every_seconds
                try:
                    await asyncio.to_thread(job.step)
                except Exception:
                    # One failing job must not stop the others (or the service).
                    log.exception("housekeeping job failed", extra={"job": job.name})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)
