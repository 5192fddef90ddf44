"""The owner's share page: ``GET /share?camera=&start=&end=&request=`` (docs/design/share-flow.md).

One clip (one camera, a time range picked on the timeline) on its way out: redaction
options, the redacted preview, the recipient, the consent signed with the re-entered
passphrase, the export job and the bundle's download (``web/templates/share_clip.html``,
``web/static/share.js``, all over the JSON API of ``nvr.web.consents``). Needs
``sharing.manage`` (the owner); installed by ``create_app`` with ``Sharing.exports``.

The page is rendered with what the server knows and the script needs at once: the clip
as given, the request it answers (organisation, reference, requested window and cameras;
404 for an unknown request) and the camera's privacy masks from the config
(``Sharing.privacy_masks``), which the page sends as ``redactions.masks`` so the consent
records exactly what was applied. Without a clip, the page says to pick one on the
timeline (200); with one that is not a clip (unparsable, empty, over 6 h), it says why
(400). The page releases nothing by itself.

No ``from __future__ import annotations`` (FastAPI reads the annotations at runtime).
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from nvr.auth.deps import Caller
from nvr.auth.policy import Permission
from nvr.sharing.requests import NoSuchRequest
from nvr.web.pages import Pages
from nvr.web.session import Accounts
from nvr.web.sharing import Sharing

# The consent's own limit (nvr.sharing.consent): a longer clip cannot be consented to.
MAX_CLIP = timedelta(hours=6)


def _instant(value: str | None) -> datetime | None:
    """An RFC 3339 time with a zone, in UTC; None when missing or not one."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else None


def _z(when: datetime | None) -> str:
    return "" if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clip_problem(camera: str | None, start: datetime | None, end: datetime | None) -> str | None:
    """Why the query names no clip the owner could consent to, or None."""
    if not camera or start is None or end is None:
        return "Pick a clip on the timeline first: one camera, a start and an end."
    if end <= start:
        return "The clip must end after it starts."
    if end - start > MAX_CLIP:
        return "A clip is at most 6 hours long: pick a shorter one."
    return None


def add_share_page(app: FastAPI, accounts: Accounts, sharing: Sharing, pages: Pages) -> None:
    """``GET /share`` on the app itself (out of the OpenAPI schema; the route matrix
    finds it)."""
    Sharer = Annotated[Caller, Depends(accounts.authorizer.require(Permission.SHARING_MANAGE))]

    @app.get("/share", response_class=HTMLResponse, include_in_schema=False)
    def share_page(
        request: Request,
        caller: Sharer,
        camera: Annotated[str | None, Query(max_length=64)] = None,
        start: Annotated[str | None, Query(max_length=40)] = None,
        end: Annotated[str | None, Query(max_length=40)] = None,
        request_id: Annotated[int | None, Query(alias="request", ge=1, le=2**53 - 1)] = None,
    ) -> HTMLResponse:
        lower, upper = _instant(start), _instant(end)
        answered: dict[str, Any] | None = None
        if request_id is not None:
            try:
                view = sharing.requests.get(request_id)
            except NoSuchRequest as exc:
                raise HTTPException(404, exc.message) from None
            answered = {
                "id": view.id,
                "organisation": view.organisation,
                "reference": view.reference,
                "state": view.state.value,
                "window_start": _z(view.window_start),
                "window_end": _z(view.window_end),
                "cameras": view.cameras,
            }
        given = any(v is not None for v in (camera, start, end))
        problem = clip_problem(camera, lower, upper)
        masks = [[[x, y] for x, y in polygon] for polygon in sharing.privacy_masks(camera or "")]
        return pages.render(
            request,
            "share_clip.html",
            caller,
            # Nothing given: the page just says how to pick a clip; a clip that is not one: 400.
            status_code=400 if problem and given else 200,
            title="Share a clip",
            problem=problem,
            camera=camera or "",
            start=_z(lower),
            end=_z(upper),
            answered=answered,
            answered_json=json.dumps(answered),
            masks_json=json.dumps(masks),
            mask_count=len(masks),
        )
