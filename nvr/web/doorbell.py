"""Signed doorbell presses from bell buttons without ONVIF events
(``POST /api/v1/cameras/{camera}/doorbell``).

Contract:
- The route exists only when a camera has ``doorbell_webhook`` configured; only those
  cameras accept presses (deny by default). It is not limited to loopback: the button is
  another device on the LAN. The request proves itself instead.
- Authentication: ``X-Porchlight-Timestamp: <unix seconds>`` and
  ``X-Porchlight-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``,
  compared in constant time. The body (empty or up to 4 KiB, e.g. ``{}``) is signed but
  otherwise ignored; a longer one is refused with 413 before any check.
- Every authentication failure that could tell a prober something answers the same
  401 ``invalid signature``: a wrong signature, an unknown camera and a camera without a
  webhook look alike (an HMAC is computed with a throw-away key so the timing matches).
  Missing or malformed headers get their own 401 reason, which depends on nothing secret.
  A timestamp more than ``replay_window`` seconds from the box's clock, and a signature
  already accepted within the window, are refused (401 with the reason) only *after* the
  signature checked out, so only a holder of the secret learns about clocks and replays.
- A client address with 10 failures within a minute gets 429 (``Retry-After``) for a
  minute, valid presses included. The tables of clients and of accepted signatures are
  bounded; a camera that has accepted ``MAX_SEEN`` presses within one window refuses more
  (429) rather than forgetting a signature that could then be replayed.
- A press answers 204 and calls ``on_press(camera, now)`` on the event loop. Presses are
  logged; rejections are logged and audited as ``doorbell.rejected``
  ``{camera, reason, client}`` (the secret and the signature never). While a client is
  throttled only the start of the block is audited, so a flood cannot fill the audit log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets as random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NoReturn

from fastapi import APIRouter, HTTPException, Request, Response

from nvr.audit.entry import Actor
from nvr.clock import Clock
from nvr.secrets import Secret
from nvr.service.unlock import Record

__all__ = [
    "MAX_BODY",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ReplayCache",
    "Throttle",
    "doorbell_router",
    "sign",
]

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Porchlight-Timestamp"
SIGNATURE_HEADER = "X-Porchlight-Signature"
MAX_BODY = 4096
MAX_SEEN = 1000  # accepted signatures remembered per camera within one replay window
CALLER = Actor(role="anonymous", user=None)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")

INVALID = "invalid signature"
MALFORMED = f"missing or malformed {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
STALE = "timestamp outside the allowed window; check the device's clock"
REPLAYED = "replayed request"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Porchlight-Signature`` value a button sends for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass
class _Client:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class Throttle:
    """Failed attempts per client address (monotonic seconds in, decisions out)."""

    def __init__(
        self,
        limit: int = 10,
        period: float = 60.0,
        block: float = 60.0,
        max_clients: int = 4096,
    ) -> None:
        self.limit, self.period, self.block, self.max_clients = limit, period, block, max_clients
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def blocked_for(self, client: str, now: float) -> float:
        """Seconds ``client`` must still wait; 0 when it may try."""
        entry = self._clients.get(client)
        return max(0.0, entry.blocked_until - now) if entry is not None else 0.0

    def fail(self, client: str, now: float) -> bool:
        """Count a failure; ``True`` when it starts a block."""
        entry = self._clients.pop(client, None) or _Client()
        self._clients[client] = entry  # most recently seen last
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        entry.failures.append(now)
        while entry.failures and entry.failures[0] <= now - self.period:
            entry.failures.popleft()
        if len(entry.failures) >= self.limit and entry.blocked_until <= now:
            entry.blocked_until = now + self.block
            entry.failures.clear()
            return True
        return False


class ReplayCache:
    """Signatures accepted within the replay window, per camera, bounded."""

    def __init__(self, window: float, per_camera: int = MAX_SEEN) -> None:
        self.window = window
        self.per_camera = per_camera
        self._seen: dict[str, dict[bytes, float]] = {}

    def add(
        self, camera: str, digest: bytes, timestamp: float, now: float
    ) -> Literal["new", "replay", "full"]:
        seen = self._seen.setdefault(camera, {})
        # A signature dated before now - window can no longer pass the window check.
        for old in [d for d, ts in seen.items() if ts < now - self.window]:
            del seen[old]
        if digest in seen:
            return "replay"
        if len(seen) >= self.per_camera:
            return "full"
        seen[digest] = timestamp
        return "new"


def doorbell_router(
    secrets: Callable[[str], Secret | None],
    on_press: Callable[[str, datetime], None],
    clock: Clock,
    *,
    replay_window: int = 300,
    audit: Record | None = None,
    throttle: Throttle | None = None,
) -> APIRouter:
    """``secrets(camera)`` is the camera's webhook secret, or ``None`` when it has none."""
    router = APIRouter(prefix="/api/v1", tags=["doorbell"])
    decoy = random.token_bytes(32)  # keyed HMAC for cameras that do not exist
    replays = ReplayCache(replay_window)
    limiter = throttle or Throttle()

    async def reject(camera: str, client: str, reason: str, status: int, detail: str) -> NoReturn:
        started_block = limiter.fail(client, clock.monotonic())
        facts = {"camera": camera[:64], "reason": reason, "client": client}
        log.warning("doorbell press rejected", extra=facts)
        if started_block:
            log.warning("doorbell webhook: client throttled", extra={"client": client})
        if audit is not None:
            try:
                await asyncio.to_thread(audit, "doorbell.rejected", facts, CALLER)
                if started_block:
                    blocked = {"camera": camera[:64], "reason": "throttled", "client": client}
                    await asyncio.to_thread(audit, "doorbell.rejected", blocked, CALLER)
            except Exception:
                log.exception("could not audit a rejected doorbell press")
        raise HTTPException(status, detail)

    @router.post(
        "/cameras/{camera}/doorbell",
        status_code=204,
        summary="A doorbell press, signed with the camera's webhook secret",
        responses={401: {}, 413: {}, 429: {}},
    )
    async def press(camera: str, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = limiter.blocked_for(client, clock.monotonic())
        if wait > 0:
            log.debug("doorbell press from a throttled client", extra={"client": client})
            raise HTTPException(
                429,
                "too many failed attempts; try again later",
                headers={"Retry-After": str(math.ceil(wait))},
            )

        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            await reject(camera, client, "body too large", 413, f"body over {MAX_BODY} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                await reject(camera, client, "body too large", 413, f"body over {MAX_BODY} bytes")

        stamp = _TIMESTAMP.fullmatch(request.headers.get(TIMESTAMP_HEADER, ""))
        signature = _SIGNATURE.fullmatch(request.headers.get(SIGNATURE_HEADER, ""))
        if stamp is None or signature is None:
            await reject(camera, client, "missing or malformed headers", 401, MALFORMED)

        secret = secrets(camera)
        key = secret.reveal().encode() if secret is not None else decoy
        expected = hmac.new(key, stamp[0].encode() + b"." + bytes(body), hashlib.sha256).digest()
        given = bytes.fromhex(signature[1])
        if not hmac.compare_digest(expected, given) or secret is None:
            reason = "bad signature" if secret is not None else "unknown camera or no webhook"
            await reject(camera, client, reason, 401, INVALID)

        now = clock.wall()
        timestamp = int(stamp[0])
        if abs(now.timestamp() - timestamp) > replay_window:
            await reject(camera, client, "stale or future timestamp", 401, STALE)
        seen = replays.add(camera, given, timestamp, now.timestamp())
        if seen == "replay":
            await reject(camera, client, "replayed signature", 401, REPLAYED)
        if seen == "full":
            log.warning("doorbell presses arrive too fast", extra={"camera": camera})
            raise HTTPException(429, "too many presses; try again later")

        log.info("doorbell press", extra={"camera": camera, "client": client})
        on_press(camera, now)
        return Response(status_code=204)

    return router
