"""systemd's service notifications (``sd_notify``) and a watchdog that pings only while
recording is healthy.

Contract:

- ``SystemdNotifier.from_env(environ)``: the datagram socket systemd names in ``NOTIFY_SOCKET``
  (a path, or ``@name`` for an abstract socket). ``send("READY=1", "STATUS=...")`` sends
  one datagram of newline-separated assignments and never raises: a service must not
  fail because its supervisor went away (a failure is logged once). Without
  ``NOTIFY_SOCKET`` (a terminal, a container, a test) every call is a no-op.
- ``watchdog_seconds(environ)``: systemd's ``WatchdogSec=`` as seconds, from
  ``WATCHDOG_USEC`` (ignored when ``WATCHDOG_PID`` names another process), or ``None``
  when there is no watchdog.
- ``Watchdog(notifier, period, stalled)``: ``run(stop)`` is a task on the service's event
  loop that every ``period / 4`` asks ``stalled()`` (the names of stalled parts, see
  ``CameraSet.stalled``) and sends ``WATCHDOG=1`` only when it is empty. A part counts as
  stalled after ``period / 2`` without progress, so systemd, which restarts the service
  ``period`` after the last ping, does so at most ~1.75 x ``period`` after a stall
  began. Each change between healthy and stalled is one ``STATUS=`` line (shown by
  ``systemctl status``) and one log line. Because the pings come from the event loop, a
  blocked loop (the web server, housekeeping) stops them as well.

What "stalled" means, and why a camera going offline is not a stall, is in
docs/design/appliance.md ("Watchdog").

No library: the protocol is one ``sendmsg`` on an ``AF_UNIX`` datagram socket, and the
PyPI packages for it are either unmaintained or need libsystemd headers to build.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends notifications to systemd's ``NOTIFY_SOCKET``; see the module docstring."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._warned = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram. Whether it was sent."""
        if self.address is None:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]  # Linux abstract socket namespace
        payload = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(target)
                sock.sendall(payload)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %s: %s", self.address, exc.strerror)
            return False
        return True


def watchdog_seconds(environ: Mapping[str, str] | None = None) -> float | None:
    """systemd's watchdog period in seconds, or ``None`` when it asked for none (here)."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


class Watchdog:
    """Pings systemd while nothing is stalled; see the module docstring."""

    def __init__(
        self, notifier: SystemdNotifier, period: float, stalled: Callable[[float], list[str]]
    ) -> None:
        self.notifier = notifier
        self.period = period
        self.interval = period / 4
        self.stall_after = period / 2
        self._stalled = stalled
        self.pings = 0
        self._last: list[str] | None = None

    def tick(self) -> list[str]:
        """One check: ping if healthy, report a change of state. The stalled parts."""
        stalled = self._stalled(self.stall_after)
        if stalled != self._last:
            if stalled:
                text = f"stalled: {', '.join(stalled)} made no progress for {self.stall_after:g} s"
                log.error("watchdog: %s; not pinging systemd", text)
            else:
                text = "running: no recorder stalled"
                if self._last:
                    log.warning("watchdog: no longer stalled; pinging systemd again")
            self.notifier.send(f"STATUS={text}")
            self._last = stalled
        if not stalled and self.notifier.send("WATCHDOG=1"):
            self.pings += 1
        return stalled

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
