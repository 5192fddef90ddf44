"""Consents, export bundles and redacted previews: the owner's JSON API
(docs/design/consent-and-export.md). Installed by ``create_app`` when ``Sharing.exports``
is given. Every route needs ``sharing.manage`` (the owner).

Consents:
- ``POST /api/v1/consents`` ``{passphrase, camera, start, end, redactions, audio,
  recipient: {name, age}, validity_days, request}`` -> 201 the signed consent. The
  passphrase is re-entered every time (the session's unlock is not enough): wrong -> 403,
  throttled like a sign-in (429). Bad clip or recipient -> 400.
- ``GET /api/v1/consents?request=``; ``GET /api/v1/consents/{id}``;
  ``POST /api/v1/consents/{id}/revoke`` ``{reason}`` (409 when already revoked).

Exports (a release path: the enforcement point decides):
- ``POST /api/v1/consents/{id}/export`` ``{passphrase, fulfil, age_recipient,
  age_passphrase}`` -> 202 ``{job ...}``: the consent is checked first (409 with the
  reason when refused, 404 for an unknown id; audited ``release.refused``), then its
  memory is estimated from the segments' sizes (``nvr.sharing.bundle.estimate``): 413
  "split it into shorter clips" when it exceeds ``storage.export_memory_mib``, 429 when
  the running jobs' reservations leave too little or two jobs already run; then the
  bundle is built in a thread (``nvr.sharing.jobs``) through sealed scratch files in
  ``<data_dir>/scratch`` (``stream_bundle``, ``zip_stream``: ciphertext on disk under a key
  held in memory; nvr.sharing.scratch).
- ``GET /api/v1/exports/{job}`` status ``{state, progress {done, total}, error, ...}``;
  ``POST /api/v1/exports/{job}/cancel`` (a finished export's bundle is deleted).
- ``GET /api/v1/exports/{job}/bundle.zip``: the bundle (a zip; when the export asked for
  age encryption, the age file of that zip, named ``*.zip.age``), streamed from the sealed
  file as the client reads. Itself a release path: the consent is checked again (revoked
  or expired since: 409, audited) and the download is logged ``share.bundle.download``.
  409 while the job runs or when it failed or was cancelled.

Previews (footage, not a release: needs the session's unlock, 401 when locked):
- ``POST /api/v1/previews`` ``{camera, start, end, redactions, audio}`` -> 202 ``{job}``;
  ``GET /api/v1/previews/{job}``; ``GET /api/v1/previews/{job}/preview.mp4`` (audited
  ``share.preview``).

No ``from __future__ import annotations`` (FastAPI reads the annotations at runtime).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field, SecretStr

from nvr.audit.entry import Actor
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission
from nvr.camera_identity import kind_of
from nvr.clock import Clock
from nvr.config import Config
from nvr.errors import UserError
from nvr.keys.passphrase import wipe
from nvr.keys.store import KeyError_, Unlocked
from nvr.playback import NoFootage, build_clip
from nvr.sharing.bundle import (
    ExportContext,
    TooLarge,
    check_budget,
    encrypt_chunks,
    stream_bundle,
    zip_stream,
)
from nvr.sharing.consent import (
    AlreadyRevoked,
    ClipRef,
    ConsentError,
    ConsentStore,
    ConsentView,
    Draft,
    NoSuchConsent,
    iso,
    parse_iso,
)
from nvr.sharing.jobs import Busy, Job, Jobs, NoSuchJob, Result
from nvr.sharing.links import LinkStore
from nvr.sharing.release import ReleaseRefused, authorize_release
from nvr.sharing.requests import RequestLog, State
from nvr.sharing.scratch import SealedFile
from nvr.storage.segments import SegmentStore
from nvr.web.errors import error_response
from nvr.web.events import unlocked_identities
from nvr.web.session import Accounts

if TYPE_CHECKING:
    from nvr.redact import RedactionPlan
    from nvr.service.box import Box

Record = Callable[[str, dict[str, Any], Actor], int]

EXPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: error_response("the consent does not allow this release (the reason says why)"),
    413: error_response("the export would not fit the memory budget: split the clip"),
    429: error_response("too many passphrase attempts, or too many jobs running"),
}
SCRATCH = "scratch"  # <data_dir>/scratch: the export jobs' sealed files (nvr.sharing.scratch)
CONSENT_ERRORS: dict[int | str, dict[str, Any]] = {
    429: error_response("too many passphrase attempts")
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: error_response("not allowed in the current state")
}
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "the bundle"}
}
MP4: dict[int | str, dict[str, Any]] = {
    200: {"content": {"video/mp4": {}}, "description": "the redacted preview"}
}


@dataclass(frozen=True)
class Exports:
    """What the consent and export routes work on; the service builds it from its box."""

    consents: ConsentStore
    context: Callable[[], ExportContext]
    unlock: Callable[[bytes], Unlocked]  # KeyStore.unlock: the passphrase opens both keys
    jobs: Jobs
    record: Record
    clock: Clock
    links: LinkStore | None = None  # share links (nvr.web.links); made from finished exports
    budget: int | None = None  # bytes of memory an export may use (None: not checked)


def exports_for(
    box: "Box",
    store: Callable[[], SegmentStore],
    clock: Clock,
    config: Callable[[], Config] | None = None,
) -> Exports:
    """The ``Exports`` of a box, the way the service (and the tests) build it. ``config``
    gives the cameras as they are now (the dashboard edits them; default: the box's)."""
    consents = ConsentStore(box.sessions, box.keys, box.record, clock)
    requests = RequestLog(box.sessions, box.record, clock)

    def context() -> ExportContext:
        return ExportContext(
            consents=consents,
            store=store(),
            audit=box.audit,
            clock=clock,
            device_key=box.keys.device_key(),
            device_id=box.device_id,
            record=box.record,
            requests=requests,
            camera_kind=lambda name: kind_of((config or (lambda: box.cfg))(), name),
        )

    storage = box.cfg.storage
    links = LinkStore(storage.data_dir, box.sessions, consents, box.record, clock)
    jobs = Jobs(clock, storage.data_dir / SCRATCH)
    budget = storage.export_memory_mib * 2**20
    return Exports(
        consents, context, box.keys.unlock, jobs, box.record, clock, links, budget=budget
    )


# -- bodies ----------------------------------------------------------------------------------
Point = Annotated[list[Annotated[float, Field(ge=0.0, le=1.0)]], Field(min_length=2, max_length=2)]


class Redactions(BaseModel):
    model_config = {"extra": "forbid"}
    faces: bool = True
    masks: list[Annotated[list[Point], Field(min_length=3, max_length=64)]] = Field(
        default_factory=list, max_length=32
    )
    text: str | None = Field(default=None, min_length=1, max_length=200)

    def plan(self, audio: bool) -> "RedactionPlan":
        """The engine's plan; 400 for what the schema cannot say (blank release text)."""
        from nvr.redact import RedactionPlan  # OpenCV: loaded when a consent is made

        try:
            return RedactionPlan(
                faces=self.faces,
                masks=tuple(tuple((p[0], p[1]) for p in polygon) for polygon in self.masks),
                text=self.text,
                audio=audio,
            )
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None


class RecipientBody(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=200)
    age: str | None = Field(default=None, pattern=r"^age1[02-9ac-hj-np-z]{20,100}$")


class ClipBody(BaseModel):
    model_config = {"extra": "forbid"}
    camera: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime
    redactions: Redactions = Field(default_factory=Redactions)
    audio: bool = False


class ConsentBody(ClipBody):
    passphrase: SecretStr = Field(min_length=1, max_length=1024)
    recipient: RecipientBody
    validity_days: int = Field(default=7, ge=1, le=366)
    request: int | None = Field(default=None, ge=1)


class RevokeBody(BaseModel):
    model_config = {"extra": "forbid"}
    reason: str = Field(default="", max_length=2000)


class ClipRange(BaseModel):
    model_config = {"extra": "forbid"}
    camera: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime


class ExportBody(BaseModel):
    model_config = {"extra": "forbid"}
    # The clip to release; default: the consent's. Given, it must be exactly the consent's
    # (the enforcement point compares them), so a client states what it thinks it releases.
    clip: ClipRange | None = None
    passphrase: SecretStr = Field(min_length=1, max_length=1024)
    fulfil: Literal["fulfilled", "partially_fulfilled"] | None = None
    age_recipient: str | None = Field(default=None, pattern=r"^age1[02-9ac-hj-np-z]{20,100}$")
    age_passphrase: SecretStr | None = Field(default=None, min_length=12, max_length=1024)


class ConsentOut(BaseModel):
    id: str
    request: int | None
    camera: str
    start: str
    end: str
    redactions: dict[str, Any]
    audio: bool
    recipient: dict[str, Any]
    created_at: str
    expires_at: str
    revoked_at: str | None
    revoke_reason: str | None
    record: str
    signature: str


class ConsentList(BaseModel):
    consents: list[ConsentOut]


class JobOut(BaseModel):
    model_config = {"extra": "allow"}
    id: str
    kind: str
    state: str
    progress: dict[str, int]
    error: str | None
    created_at: str


def _out(view: ConsentView) -> ConsentOut:
    return ConsentOut(**view.as_json())


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "clip"


def consents_router(accounts: Accounts, exports: Exports) -> APIRouter:
    router = APIRouter(tags=["sharing"])
    Manager = Annotated[Caller, Depends(accounts.authorizer.require(Permission.SHARING_MANAGE))]
    throttle = accounts.sign_in.throttle
    consents = exports.consents

    def open_keys(passphrase: SecretStr, caller: Caller, request: Request) -> Unlocked:
        verdict = throttle.attempt(caller.principal.name, _client(request))
        if not verdict.allowed:
            wait = max(1, int(verdict.retry_after + 0.999))
            raise HTTPException(
                429, f"too many attempts: try again in {wait} s", headers={"Retry-After": str(wait)}
            )
        try:
            unlocked = exports.unlock(passphrase.get_secret_value().encode())
        except KeyError_ as exc:
            exports.record("consent.refused", {"reason": exc.message}, actor_of(caller.principal))
            if exc.message == "wrong passphrase":
                raise HTTPException(403, "wrong owner passphrase") from None
            raise HTTPException(409, exc.message) from None
        throttle.succeeded(caller.principal.name, _client(request))
        wipe(unlocked.secret)
        return unlocked

    def refused(exc: ReleaseRefused) -> HTTPException:
        return HTTPException(404 if exc.reason == "no such consent" else 409, exc.message)

    # -- consents ---------------------------------------------------------------------------
    @router.post(
        "/api/v1/consents",
        summary="Consent to release one clip (signed with the owner key)",
        status_code=201,
        responses=CONSENT_ERRORS,
    )
    def grant(body: ConsentBody, request: Request, caller: Manager) -> ConsentOut:
        if body.end <= body.start:
            raise HTTPException(400, "the clip must end after it starts")
        draft = Draft(
            clip=ClipRef(body.camera, body.start, body.end),
            plan=body.redactions.plan(body.audio),
            audio=body.audio,
            recipient=body.recipient.name,
            recipient_age=body.recipient.age,
            request=body.request,
            validity=timedelta(days=body.validity_days),
        )
        try:
            consents.check(draft)  # before the passphrase: a bad draft costs no scrypt
            unlocked = open_keys(body.passphrase, caller, request)
            view = consents.sign(unlocked.signing_key, draft, actor_of(caller.principal))
        except ConsentError as exc:
            raise HTTPException(400, exc.message) from None
        return _out(view)

    @router.get("/api/v1/consents", summary="Every consent, newest first")
    def list_consents(
        _: Manager, request: Annotated[int | None, Query(ge=1)] = None
    ) -> ConsentList:
        return ConsentList(consents=[_out(v) for v in consents.list(request=request)])

    @router.get("/api/v1/consents/{consent_id}", summary="One consent")
    def get_consent(consent_id: str, _: Manager) -> ConsentOut:
        try:
            return _out(consents.get(consent_id))
        except NoSuchConsent as exc:
            raise HTTPException(404, exc.message) from None

    @router.post(
        "/api/v1/consents/{consent_id}/revoke", summary="Revoke a consent", responses=CONFLICT
    )
    def revoke(consent_id: str, body: RevokeBody, caller: Manager) -> ConsentOut:
        try:
            return _out(consents.revoke(consent_id, body.reason, actor_of(caller.principal)))
        except NoSuchConsent as exc:
            raise HTTPException(404, exc.message) from None
        except AlreadyRevoked as exc:
            raise HTTPException(409, exc.message) from None

    # -- exports ----------------------------------------------------------------------------
    @router.post(
        "/api/v1/consents/{consent_id}/export",
        summary="Build the consent's export bundle (a job)",
        status_code=202,
        responses=EXPORT_ERRORS,
    )
    def export(consent_id: str, body: ExportBody, request: Request, caller: Manager) -> JobOut:
        actor = actor_of(caller.principal)
        if body.age_recipient and body.age_passphrase:
            raise HTTPException(400, "encrypt to a key or a passphrase, not both")
        if body.clip is not None:
            clip = ClipRef(body.clip.camera, body.clip.start, body.clip.end)
        else:
            try:
                clip = consents.get(consent_id).clip
            except NoSuchConsent:
                clip = ClipRef("", exports.clock.wall(), exports.clock.wall())
        try:
            verified = authorize_release(
                consents, consent_id, clip, "export", actor, exports.record, exports.clock
            )
        except ReleaseRefused as exc:
            raise refused(exc) from None
        unlocked = open_keys(body.passphrase, caller, request)
        fulfil = State(body.fulfil) if body.fulfil else None
        age_passphrase = (
            body.age_passphrase.get_secret_value().encode() if body.age_passphrase else None
        )
        when = verified.clip.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        top = f"porchlight-{_safe(verified.clip.camera)}-{when}"

        need = 0
        if exports.budget is not None:
            try:
                need = check_budget(
                    exports.context(), verified.clip, exports.budget, redacted=verified.redacted
                )
            except TooLarge as exc:
                raise HTTPException(413, exc.message) from None

        def work(job: Job) -> tuple[Result, dict[str, Any]]:
            def progress(done: int, total: int) -> None:
                job.done, job.total = done, total

            scratch = exports.jobs.scratch
            with stream_bundle(
                exports.context(),
                consent_id,
                verified.clip,
                actor,
                scratch=scratch,
                identities=unlocked.identities,
                owner_key=unlocked.signing_key,
                fulfil=fulfil,
                progress=progress,
                cancel=job.cancel,
            ) as bundle:
                zipped = SealedFile.create(scratch)
                try:
                    zip_stream(bundle.entries(), top, zipped)
                except BaseException:
                    zipped.close()
                    raise
            result = zipped
            name = f"{top}.zip"
            try:
                if body.age_recipient or age_passphrase:
                    result = SealedFile.create(scratch)
                    try:
                        encrypt_chunks(
                            zipped.chunks(),
                            cast(BinaryIO, result),
                            recipient=body.age_recipient,
                            passphrase=age_passphrase,
                        )
                    except BaseException:
                        result.close()
                        raise
                    name += ".age"
            finally:
                if result is not zipped:
                    zipped.close()
            result.flush()
            return result, {
                "bundle": bundle.result.bundle_id,
                "file": name,
                "size": result.size,
                "release_seq": bundle.result.release_seq,
                "clip_sha256": bundle.result.clip_sha256,
            }

        meta = {
            "consent": consent_id,
            "camera": verified.clip.camera,
            "start": iso(verified.clip.start),
            "end": iso(verified.clip.end),
        }
        try:
            job = exports.jobs.start("export", meta, work, memory=need, budget=exports.budget)
        except Busy as exc:
            raise HTTPException(429, exc.message, headers={"Retry-After": "5"}) from None
        return JobOut(**job.status())

    def job_of(job_id: str, kind: str) -> Job:
        try:
            return exports.jobs.get(job_id, kind)
        except NoSuchJob as exc:
            raise HTTPException(404, exc.message) from None

    @router.get("/api/v1/exports/{job_id}", summary="An export job's status")
    def export_status(job_id: str, _: Manager) -> JobOut:
        return JobOut(**job_of(job_id, "export").status())

    @router.post(
        "/api/v1/exports/{job_id}/cancel",
        summary="Cancel an export job (a finished one: its bundle is deleted)",
    )
    def export_cancel(job_id: str, _: Manager) -> JobOut:
        job = job_of(job_id, "export")
        job.cancel.set()
        if job.state == "done":
            job.discard()
            job.state, job.error = "cancelled", "cancelled"
        return JobOut(**job.status())

    @router.get(
        "/api/v1/exports/{job_id}/bundle.zip",
        summary="Download the bundle (a release: the consent is checked again)",
        response_class=Response,
        responses={**ZIP, **CONFLICT},
    )
    def export_download(job_id: str, caller: Manager) -> Response:
        job = job_of(job_id, "export")
        if job.state != "done" or job.result is None:
            raise HTTPException(
                409, f"the export is {job.state}" + (f": {job.error}" if job.error else "")
            )
        actor = actor_of(caller.principal)
        consent_id = str(job.meta["consent"])
        clip = ClipRef(
            str(job.meta["camera"]),
            parse_iso(str(job.meta["start"])),
            parse_iso(str(job.meta["end"])),
        )
        try:
            verified = authorize_release(
                consents, consent_id, clip, "download", actor, exports.record, exports.clock
            )
        except ReleaseRefused as exc:
            raise refused(exc) from None
        exports.record(
            "share.bundle.download",
            {
                "consent": verified.id,
                "request": verified.request,
                "bundle": job.result_meta.get("bundle"),
                "size": job.size,
            },
            actor,
        )
        name = str(job.result_meta.get("file", "bundle.zip"))
        media = "application/octet-stream" if name.endswith(".age") else "application/zip"
        # Decrypted from the sealed scratch file a piece at a time as the client reads.
        return StreamingResponse(
            job.chunks(),
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(job.size),
                "Cache-Control": "no-store",
            },
        )

    # -- previews ---------------------------------------------------------------------------
    @router.post(
        "/api/v1/previews",
        summary="Make a redacted preview of a clip (a job)",
        status_code=202,
        responses={429: error_response("too many jobs running")},
    )
    def make_preview(body: ClipBody, caller: Manager) -> JobOut:
        if body.end <= body.start:
            raise HTTPException(400, "the clip must end after it starts")
        if body.end - body.start > timedelta(hours=1):
            raise HTTPException(400, "a preview is at most an hour long")
        identities = unlocked_identities(accounts, caller)
        plan = body.redactions.plan(body.audio)
        store = exports.context().store

        def work(job: Job) -> tuple[bytes, dict[str, Any]]:
            def progress(done: int, total: int) -> None:
                job.done, job.total = done, total

            try:
                clip = build_clip(
                    store, identities, body.camera, body.start, body.end, audio=body.audio
                )
            except NoFootage as exc:
                raise UserError(exc.message) from None
            from nvr.redact import preview

            shown = preview(clip.data, plan, start=clip.start, progress=progress, cancel=job.cancel)
            return shown.data, {
                "report": {
                    "frames": shown.report.frames,
                    "frames_with_faces": shown.report.frames_with_faces,
                    "frames_tracked_only": shown.report.frames_tracked_only,
                    "width": shown.report.width,
                    "height": shown.report.height,
                }
            }

        meta = {
            "camera": body.camera,
            "start": iso(body.start),
            "end": iso(body.end),
            "redactions": plan.as_record(),
        }
        try:
            job = exports.jobs.start("preview", meta, work)
        except Busy as exc:
            raise HTTPException(429, exc.message, headers={"Retry-After": "5"}) from None
        return JobOut(**job.status())

    @router.get("/api/v1/previews/{job_id}", summary="A preview job's status")
    def preview_status(job_id: str, _: Manager) -> JobOut:
        return JobOut(**job_of(job_id, "preview").status())

    @router.get(
        "/api/v1/previews/{job_id}/preview.mp4",
        summary="The redacted preview",
        response_class=Response,
        responses={**MP4, **CONFLICT},
    )
    def preview_download(job_id: str, caller: Manager) -> Response:
        job = job_of(job_id, "preview")
        if job.state != "done" or job.result is None:
            raise HTTPException(
                409, f"the preview is {job.state}" + (f": {job.error}" if job.error else "")
            )
        unlocked_identities(accounts, caller)  # footage: the session must still be unlocked
        exports.record(
            "share.preview",
            {"camera": job.meta["camera"], "start": job.meta["start"], "end": job.meta["end"]},
            actor_of(caller.principal),
        )
        return Response(job.result, media_type="video/mp4", headers={"Cache-Control": "no-store"})

    return router
