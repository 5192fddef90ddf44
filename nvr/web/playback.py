"""Clip playback over HTTP: ``GET /api/v1/cameras/{camera}/clip?start=ISO&end=ISO[&audio=0]``.

Needs a signed-in session allowed ``footage.view`` whose owner unlock is still open (the
``viewer`` dependency the app factory passes in: 401 when signed out or locked). Answers
``video/mp4`` built by ``nvr.playback.build_clip`` with ``Accept-Ranges: bytes``: 206 for
one ``Range`` (``a-b``, ``a-``, ``-n``), 416 when it lies past the end, 400 for a malformed
range or bad times (not ISO 8601 with a zone, start not before end, longer than
``max_span``), 404 when there is no footage. Headers ``Porchlight-Clip-Start`` and
``-End`` give the clip's real wall-clock span; ``Porchlight-Gap-End`` (when present) says
where footage resumes after the hole the clip stopped at (docs/design/playback.md).
The recorded audio is included unless ``audio=0``; ``Porchlight-Audio`` says what the
clip carries: the codec (``aac``), ``none`` (nothing recorded), or ``omitted (<reason>)``.

A built clip is cached for a short time per (session, camera, start, end, audio) so a
player's range requests reuse it; building it is the view, and writes one ``footage.view``
audit entry. Every request still checks that the session is unlocked.

No ``from __future__ import annotations``: the route's ``Annotated[..., Depends(viewer)]``
names the dependency given to the router factory.
"""

import asyncio
import functools
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from nvr.audit.entry import Actor
from nvr.clock import Clock, SystemClock
from nvr.crypto import AgeError, NoIdentityMatchError
from nvr.keys.unlock import Locked
from nvr.playback import BadRange, Clip, ClipCache, NoFootage, Unsatisfiable, build_clip
from nvr.playback.ranges import parse_range
from nvr.service.unlock import Record, UnlockManager
from nvr.storage.segments import SegmentStore

log = logging.getLogger(__name__)

MAX_SPAN = timedelta(minutes=10)  # the whole clip is held in memory (docs/design/playback.md)
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")

ClipKey = tuple[str, str, datetime, datetime, bool]


@dataclass(frozen=True)
class Viewer:
    """Who asks for footage: the unlock that opens it, and who to name in the audit log."""

    unlock_token: str
    actor: Actor


def parse_time(value: str, name: str) -> datetime:
    """An ISO 8601 instant with a zone (``Z`` or an offset), in UTC; 400 otherwise."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: not an ISO 8601 time: {value!r}") from None
    if when.tzinfo is None:
        raise HTTPException(400, f"{name}: give a time zone (e.g. 'Z' or '+01:00')")
    return when.astimezone(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _headers(clip: Clip) -> dict[str, str]:
    stamp = clip.start.strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{_SAFE.sub("_", clip.camera)}-{stamp}.mp4"',
        "Porchlight-Clip-Start": _iso(clip.start),
        "Porchlight-Clip-End": _iso(clip.end),
    }
    if clip.gap is not None and clip.gap.end is not None:
        headers["Porchlight-Gap-End"] = _iso(clip.gap.end)
    headers["Porchlight-Audio"] = audio_header(clip)
    return headers


def audio_header(clip: Clip) -> str:
    """``aac`` (the track's codec), ``none`` or ``omitted (<reason>)``."""
    if clip.audio is not None:
        return clip.audio
    return "none" if clip.audio_omitted is None else f"omitted ({clip.audio_omitted})"


def playback_router(
    store_factory: Callable[[], SegmentStore],
    unlock: UnlockManager,
    record: Record,
    *,
    viewer: Callable[[Request], Viewer],
    clock: Clock | None = None,
    max_span: timedelta = MAX_SPAN,
    cache: ClipCache[Clip] | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["playback"])
    clips: ClipCache[Clip] = cache if cache is not None else ClipCache(clock or SystemClock())
    building = asyncio.Lock()  # one build at a time: bounded memory, no duplicate builds

    async def get_clip(
        who: Viewer, camera: str, start: datetime, end: datetime, audio: bool
    ) -> Clip:
        token = who.unlock_token
        try:
            identities = unlock.identities(token)
        except Locked as exc:
            raise HTTPException(401, exc.message) from None
        key: ClipKey = (hashlib.sha256(token.encode()).hexdigest(), camera, start, end, audio)
        clip = clips.get(key)
        if clip is not None:
            return clip
        async with building:
            clip = clips.get(key)  # built by the request we waited for?
            if clip is not None:
                return clip
            try:
                store = store_factory()
                clip = await asyncio.to_thread(
                    functools.partial(build_clip, audio=audio),
                    store,
                    identities,
                    camera,
                    start,
                    end,
                )
            except NoFootage as exc:
                raise HTTPException(404, exc.message) from None
            except AgeError as exc:
                if isinstance(exc, NoIdentityMatchError) and who.actor.role != "owner":
                    # A household key opens only footage recorded since it was added
                    # (for the owner, whose keys open everything, it means tampering).
                    raise HTTPException(
                        403, "this account's key does not open the footage in this range"
                    ) from None
                # A segment failed authentication: tampering or disk corruption. Say so
                # (and log it) rather than answer 500; 'nvr storage verify' names the file.
                log.error(
                    "footage failed authentication", extra={"camera": camera, "reason": exc.reason}
                )
                raise HTTPException(
                    409,
                    "recorded footage in this range failed authentication "
                    "(tampered or corrupt); run 'nvr storage verify'",
                ) from None
            payload = {
                "camera": camera,
                "start": _iso(start),
                "end": _iso(end),
                "audio": clip.audio is not None,
            }
            await asyncio.to_thread(record, "footage.view", payload, who.actor)
            clips.put(key, clip, len(clip.data))
            return clip

    @router.get(
        "/cameras/{camera}/clip",
        summary="An MP4 of a camera's footage over a time range (byte ranges supported)",
        response_class=Response,
        responses={
            200: {"content": {"video/mp4": {}}},
            206: {"description": "the requested byte range"},
            416: {"description": "range not satisfiable"},
        },
    )
    async def clip_route(
        camera: str,
        who: Annotated[Viewer, Depends(viewer)],
        start: Annotated[str, Query(description="ISO 8601 with a zone")],
        end: Annotated[str, Query(description="ISO 8601 with a zone")],
        audio: Annotated[
            bool, Query(description="include the recorded audio (0: video only)")
        ] = True,
        range_header: Annotated[str | None, Header(alias="range")] = None,
    ) -> Response:
        begin, until = parse_time(start, "start"), parse_time(end, "end")
        if begin >= until:
            raise HTTPException(400, "start must be before end")
        if until - begin > max_span:
            raise HTTPException(400, f"at most {int(max_span.total_seconds())} s per clip")
        try:
            parse_range(range_header, 1 << 62)  # syntax first: no build for a bad header
        except BadRange as exc:
            raise HTTPException(400, str(exc)) from None
        except Unsatisfiable:
            pass
        clip = await get_clip(who, camera, begin, until, audio)
        size = len(clip.data)
        headers = _headers(clip)
        try:
            span = parse_range(range_header, size)
        except Unsatisfiable as exc:
            headers["Content-Range"] = f"bytes */{size}"
            return JSONResponse({"error": str(exc)}, status_code=416, headers=headers)
        if span is None:
            return Response(clip.data, media_type=clip.content_type, headers=headers)
        first, last = span
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        body = clip.data[first : last + 1]
        return Response(body, status_code=206, media_type=clip.content_type, headers=headers)

    return router
