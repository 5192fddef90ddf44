"""Signed HTTP POSTs to local services when events happen (docs/design/home-assistant.md).

Contract::

    sink = WebhookSink(hook, device_id, version)   # one per notifications.webhooks entry
    sink.offer(notice)                             # queued if the hook wants its event
    await sink.run(stop)                           # deliver until stop

Each delivery is ``POST <url>`` with a JSON body (``Notice.as_json()`` plus ``event``, the
webhook event name, and ``box``, this box's device id) and the headers
``X-Porchlight-Event``, ``X-Porchlight-Timestamp: <unix seconds>`` and
``X-Porchlight-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` (the
same scheme the doorbell webhook accepts, ``nvr.web.doorbell.sign``): a receiver checks
the signature in constant time and refuses a timestamp far from its clock (replay).
Every attempt is signed afresh with its own timestamp.

Which notices: ``doorbell`` presses; ``motion`` (starts, ends and camera-side motion);
``camera_offline`` / ``camera_online``.

Delivery: in order, one at a time, from a bounded ``Outbox``. A 2xx answer delivers. A
connection error, a timeout or a 5xx answer is retried after ``retry_min`` seconds,
doubling, ``attempts`` times in all; then the notice is dropped and logged. Any other
answer (a 3xx is not followed, a 4xx means the receiver refuses it) drops it at once.
Before each attempt the URL's host is resolved and, unless ``allow_public``, every address
must be loopback, private or link-local (a name that resolves outside the house is not
sent to; see the caveat on DNS in the design doc). The secret is never logged; the URL is
(it may not hold a password).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import json
import logging
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from nvr.clock import Clock, SystemClock
from nvr.config import WebhookConfig
from nvr.config.models import WebhookEvent, is_local_address
from nvr.notify.notice import Notice, NoticeKind, Outbox
from nvr.web.doorbell import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["EVENT_HEADER", "Delivery", "WebhookSink", "webhook_event"]

log = logging.getLogger(__name__)

EVENT_HEADER = "X-Porchlight-Event"
QUEUE_SIZE = 500
TIMEOUT_SECONDS = 10.0
ATTEMPTS = 5

_EVENTS: dict[NoticeKind, WebhookEvent] = {
    "motion_start": "motion",
    "motion_end": "motion",
    "camera_motion": "motion",
    "doorbell": "doorbell",
    "camera_online": "camera_online",
    "camera_offline": "camera_offline",
}


def webhook_event(notice: Notice) -> WebhookEvent:
    return _EVENTS[notice.kind]


class NotLocal(Exception):
    """The webhook's host resolves to an address outside the local network."""


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt: the HTTP status, or ``None`` with the error."""

    status: int | None
    error: str | None = None
    retryable: bool = True

    @property
    def retry(self) -> bool:
        return self.retryable and (self.status is None or self.status >= 500)


class WebhookSink:
    """One webhook's queue and sender; see the module docstring."""

    def __init__(
        self,
        hook: WebhookConfig,
        device_id: str,
        version: str,
        *,
        clock: Clock | None = None,
        queue_size: int = QUEUE_SIZE,
        attempts: int = ATTEMPTS,
        retry_min: float = 1.0,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.hook = hook
        self.device_id = device_id
        self.version = version
        self.clock = clock or SystemClock()
        self.attempts = attempts
        self.retry_min = retry_min
        self.timeout = timeout
        self.outbox = Outbox(queue_size, f"webhook {hook.name}")
        self.delivered = 0
        self.failed = 0
        self._wanted = frozenset(hook.events)
        self._stopping = False

    def cameras(self, names: object) -> None:
        """Webhooks announce nothing (the dispatcher calls every sink)."""

    def offer(self, notice: Notice) -> None:
        if webhook_event(notice) in self._wanted:
            self.outbox.put(notice)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver queued notices in order until ``stop`` is set (what is queued then is
        dropped: a stopping box does not hold its shutdown for a slow receiver)."""
        watcher = asyncio.create_task(self._watch(stop))
        try:
            while not self._stopping:
                notice = self.outbox.peek()
                if notice is None:
                    await self.outbox.wait()
                    continue
                await self._deliver(notice, stop)
                self.outbox.pop()
        finally:
            watcher.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True
        self.outbox.wake()

    async def _deliver(self, notice: Notice, stop: asyncio.Event) -> None:
        event = webhook_event(notice)
        body = json.dumps(
            {"event": event, **notice.as_json(), "box": self.device_id}, separators=(",", ":")
        ).encode()
        delay = self.retry_min
        outcome = Delivery(None, "not tried")
        for attempt in range(1, self.attempts + 1):
            outcome = await asyncio.to_thread(self._post, event, body)
            if outcome.status is not None and 200 <= outcome.status < 300:
                self.delivered += 1
                return
            if not outcome.retry or attempt == self.attempts or self._stopping:
                break
            log.warning(
                "webhook delivery failed; retrying",
                extra={
                    "webhook": self.hook.name,
                    "status": outcome.status,
                    "error": outcome.error,
                    "attempt": attempt,
                    "retry_in_s": delay,
                },
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay *= 2
        self.failed += 1
        log.error(
            "webhook delivery given up",
            extra={
                "webhook": self.hook.name,
                "url": self.hook.url,
                "event": event,
                "camera": notice.camera,
                "status": outcome.status,
                "error": outcome.error,
            },
        )

    def _post(self, event: str, body: bytes) -> Delivery:
        """One attempt, on a worker thread."""
        parts = urlsplit(self.hook.url)
        host = parts.hostname or ""
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        try:
            self._check_local(host, port)
        except NotLocal as exc:
            return Delivery(None, str(exc), retryable=False)
        except OSError as exc:
            return Delivery(None, f"cannot resolve {host}: {exc}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        timestamp = int(self.clock.wall().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Porchlight/{self.version}",
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.hook.secret.reveal(), timestamp, body),
        }
        conn: http.client.HTTPConnection
        if https:
            conn = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(65536)
            return Delivery(response.status)
        except (OSError, http.client.HTTPException) as exc:
            return Delivery(None, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def _check_local(self, host: str, port: int) -> None:
        if self.hook.allow_public:
            return
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if not is_local_address(address):
                raise NotLocal(
                    f"{host} resolves to {address}, outside the local network "
                    "(set allow_public: true to send there)"
                )
