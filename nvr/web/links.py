"""Share links over HTTP: the owner's API and the recipient's public pages
(docs/design/share-links.md; the store is ``nvr.sharing.links``). Installed by
``create_app`` when ``Sharing.exports.links`` is given.

The owner (``sharing.manage``; CSRF on POST through the Authorizer):
- ``POST /api/v1/exports/{job_id}/links`` ``{days: 1..30 = 7, downloads: 1..20 = 3}`` ->
  201 ``{id, consent, request, file, size, created_at, expires_at, max_downloads,
  downloads, revoked_at, revoke_reason, url, token, ...}``: ``url`` is the path
  ``/s/<token>`` (the page prefixes its origin). The token and the url are in this
  answer only: the box keeps a hash. 404 unknown job; 409 the job is not done, or the
  consent does not allow the release (the reason; audited ``release.refused``).
- ``GET /api/v1/links?consent=<id>`` -> ``{links: [...]}`` newest first (no token, no url).
- ``POST /api/v1/links/{id}/revoke`` ``{reason}`` -> the link; 404 unknown, 409 already.
Every link also carries ``camera, start, end, bundle, sha256, created_by, state``
(``active | revoked | used_up | expired``) and ``stored`` (whether its encrypted bundle
is still on the box).

The recipient (no account: ``share_link.open``, the one permission anonymous callers
have; the token in the path is the credential):
- ``GET /s/{token}``: an HTML page describing the bundle, with a download button. Does not
  count a download (chat apps fetch links to preview them); audited ``share.link.view``.
- ``GET /s/{token}/download``: counts one download and sends the bundle
  (``Content-Disposition: attachment``, ``Cache-Control: no-store``).
An unknown token: 404, the same page whatever was presented; a revoked, expired or used-up
link (or one whose consent ended): 410 with the reason. HEAD is not served (405), so it
never counts. Wrong tokens are throttled per client address (``FailureThrottle``: 5 free,
then waits doubling from 1 s to 15 min): a throttled client gets 429 for every token,
and nothing is looked up or logged, so a guesser can neither test tokens nor flood the
audit log. Pages carry ``X-Robots-Tag: noindex`` and the app's ``Referrer-Policy:
no-referrer``; no log line holds the token (the access log is off, and the app's error
log writes ``/s/<token>`` for the path: ``nvr.web.app.loggable``).

No ``from __future__ import annotations`` (FastAPI reads the annotations at runtime).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Decision, Permission
from nvr.auth.throttle import FailureThrottle
from nvr.sharing.consent import ClipRef, parse_iso
from nvr.sharing.jobs import NoSuchJob
from nvr.sharing.links import (
    DEFAULT_DAYS,
    DEFAULT_DOWNLOADS,
    MAX_DAYS,
    MAX_DOWNLOADS,
    AlreadyRevoked,
    Download,
    LinkError,
    LinkGone,
    LinkSource,
    LinkStore,
    LinkView,
    NoSuchLink,
)
from nvr.sharing.release import ReleaseRefused
from nvr.web.consents import Exports, RevokeBody
from nvr.web.errors import error_response
from nvr.web.pages import Pages
from nvr.web.session import Accounts

SHARE_PREFIX = "/s/"
LINK_ERRORS: dict[int | str, dict[str, Any]] = {
    409: error_response("the export is not done, or its consent does not allow the release"),
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: error_response("the link is already revoked")}
NOINDEX = {"X-Robots-Tag": "noindex, nofollow"}


class LinkBody(BaseModel):
    model_config = {"extra": "forbid"}
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=MAX_DAYS)
    downloads: int = Field(default=DEFAULT_DOWNLOADS, ge=1, le=MAX_DOWNLOADS)


class LinkOut(BaseModel):
    model_config = {"extra": "allow"}
    id: str
    consent: str
    request: int | None
    file: str
    size: int
    created_at: str
    expires_at: str
    max_downloads: int
    downloads: int
    revoked_at: str | None
    revoke_reason: str | None


class NewLinkOut(LinkOut):
    url: str  # the path /s/<token>; shown once
    token: str  # shown once


class LinkList(BaseModel):
    links: list[LinkOut]


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def links_router(accounts: Accounts, exports: Exports, links: LinkStore) -> APIRouter:
    router = APIRouter(tags=["sharing"])
    Manager = Annotated[Caller, Depends(accounts.authorizer.require(Permission.SHARING_MANAGE))]
    clock = exports.clock

    def out(view: LinkView) -> LinkOut:
        return LinkOut(**view.as_json(clock.wall()))

    @router.post(
        "/api/v1/exports/{job_id}/links",
        summary="Make a share link to a finished export's bundle (a release)",
        status_code=201,
        responses=LINK_ERRORS,
    )
    def create_link(job_id: str, body: LinkBody, request: Request, caller: Manager) -> NewLinkOut:
        try:
            job = exports.jobs.get(job_id, "export")
        except NoSuchJob as exc:
            raise HTTPException(404, exc.message) from None
        if job.state != "done" or job.result is None:
            raise HTTPException(
                409, f"the export is {job.state}" + (f": {job.error}" if job.error else "")
            )
        source = LinkSource(
            consent=str(job.meta["consent"]),
            clip=ClipRef(
                str(job.meta["camera"]),
                parse_iso(str(job.meta["start"])),
                parse_iso(str(job.meta["end"])),
            ),
            file=str(job.result_meta.get("file") or "bundle.zip"),
            bundle=(str(job.result_meta["bundle"]) if job.result_meta.get("bundle") else None),
        )
        try:
            created = links.create(
                job.chunks,
                source,
                days=body.days,
                downloads=body.downloads,
                actor=actor_of(caller.principal),
                client=_client(request),
            )
        except ReleaseRefused as exc:
            raise HTTPException(409, exc.message) from None
        except LinkError as exc:
            raise HTTPException(400, exc.message) from None
        return NewLinkOut(
            **created.link.as_json(clock.wall()),
            url=f"{SHARE_PREFIX}{created.token}",
            token=created.token,
        )

    @router.get("/api/v1/links", summary="Share links, newest first (optionally of one consent)")
    def list_links(
        _: Manager, consent: Annotated[str | None, Query(min_length=1, max_length=36)] = None
    ) -> LinkList:
        return LinkList(links=[out(view) for view in links.list(consent=consent)])

    @router.post(
        "/api/v1/links/{link_id}/revoke",
        summary="Revoke a share link (its stored bundle is deleted)",
        responses=CONFLICT,
    )
    def revoke_link(link_id: str, body: RevokeBody, caller: Manager) -> LinkOut:
        try:
            return out(links.revoke(link_id, body.reason, actor_of(caller.principal)))
        except NoSuchLink as exc:
            raise HTTPException(404, exc.message) from None
        except AlreadyRevoked as exc:
            raise HTTPException(409, exc.message) from None

    return router


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"  # pragma: no cover - the loop always returns


def add_share_pages(app: FastAPI, accounts: Accounts, links: LinkStore, pages: Pages) -> None:
    """The recipient's two public routes (see the module docstring)."""
    anyone = accounts.authorizer.anyone(Permission.SHARE_LINK_OPEN)
    Open = Annotated[Decision, Depends(anyone)]
    throttle = FailureThrottle(links.clock)

    def page(request: Request, status: int, state: str, title: str, **context: Any) -> Response:
        response = pages.render(
            request, "share.html", None, status_code=status, state=state, title=title, **context
        )
        response.headers.update(NOINDEX)
        return response

    def refusal(request: Request, exc: Exception) -> Response:
        """The page for an unknown token (404), an ended link (410) or a throttled client
        (429, with ``Retry-After``)."""
        if isinstance(exc, LinkGone):
            return page(request, 410, "gone", "This link no longer works", reason=exc.reason)
        if isinstance(exc, _Throttled):
            response = page(
                request,
                429,
                "throttled",
                "Too many wrong links",
                reason="this address tried too many links that do not exist",
            )
            response.headers["Retry-After"] = str(exc.wait)
            return response
        return page(
            request, 404, "unknown", "No such link", reason="there is no share link at this address"
        )

    def look_up(request: Request, token: str, download: bool) -> Any:
        """``links.open`` / ``links.download`` behind the throttle."""
        client = _client(request)
        verdict = throttle.waiting(client)
        if not verdict.allowed:
            raise _Throttled(max(1, int(verdict.retry_after + 0.999)))
        try:
            return links.download(token, client) if download else links.open(token, client)
        except NoSuchLink:
            throttle.failed(client)
            raise

    # Plain functions: FastAPI runs them in its thread pool (database and file I/O).
    @app.get(SHARE_PREFIX + "{token}", response_class=HTMLResponse, include_in_schema=False)
    def share_page(token: str, request: Request, _: Open) -> Response:
        try:
            link: LinkView = look_up(request, token, False)
        except (NoSuchLink, LinkGone, _Throttled) as exc:
            return refusal(request, exc)
        return page(
            request,
            200,
            "ok",
            "A clip shared with you",
            link=link,
            size=_size(link.size),
            left=max(0, link.max_downloads - link.downloads),
            download=f"{SHARE_PREFIX}{token}/download",
        )

    @app.get(SHARE_PREFIX + "{token}/download", include_in_schema=False)
    def share_download(token: str, request: Request, _: Open) -> Response:
        try:
            got: Download = look_up(request, token, True)
        except (NoSuchLink, LinkGone, _Throttled) as exc:
            return refusal(request, exc)
        name = got.link.file.replace('"', "")
        media = "application/octet-stream" if name.endswith(".age") else "application/zip"
        return StreamingResponse(
            got.chunks(),
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(got.size),
                "Cache-Control": "no-store",
                **NOINDEX,
            },
        )


class _Throttled(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(f"wait {wait} s")
        self.wait = wait
