"""THE enforcement point: nothing leaves the box without a valid signed consent.

``authorize_release(consents, consent_id, clip, purpose, actor, record) -> VerifiedConsent``
is the only function that decides whether footage may be released. It

1. loads the consent (unknown id: refused);
2. verifies the owner's Ed25519 signature over the stored record against the pinned owner
   key, and that the record's fields are the row's (a row edited behind the code's back
   is refused);
3. checks that the consent covers exactly ``clip`` (same camera, same start, same end);
4. checks that it is not revoked and not expired (``expires_at`` from the signed record);

and returns what may be released (the clip, the redaction plan, audio, recipient, the
request). Any failure writes ``release.refused`` {consent, camera, start, end, purpose,
reason} to the audit log and raises ``ReleaseRefused`` with the same reason.

Every releasing path calls it: the export bundle (``nvr.sharing.bundle.make_bundle``, under
``export_bundle`` and the API's export job), the export route before it starts a job, the
bundle download (``GET /api/v1/exports/{job_id}/bundle.zip``), and share links
(``nvr.sharing.links``: making one, its landing page and its download).
``RELEASE_PATHS`` names them; tests/sharing/test_release.py drives each one through the
refusal matrix. Purposes are free text naming the path ("export", "download" ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from nvr.audit.entry import Actor
from nvr.clock import Clock
from nvr.errors import UserError
from nvr.sharing.consent import (
    ClipRef,
    ConsentStore,
    NoSuchConsent,
    iso,
    parse_iso,
    plan_from_record,
    verify_record,
)

if TYPE_CHECKING:
    from nvr.redact import RedactionPlan

Record = Callable[[str, dict[str, Any], Actor], int]

# Every function or route that hands footage to someone outside the box. Each calls
# ``authorize_release``; tests/sharing/test_release.py drives every one of them.
RELEASE_PATHS = (
    "nvr.sharing.bundle.make_bundle",  # export_bundle and the export job build through it
    "POST /api/v1/consents/{consent_id}/export",
    "GET /api/v1/exports/{job_id}/bundle.zip",
    # Share links (nvr.sharing.links, nvr.web.links): making a link from an export stores
    # the bundle for release ("link"); the recipient's page ("link page") and download
    # ("link download") ask again, so a consent revoked or expired since stops the link.
    "POST /api/v1/exports/{job_id}/links",
    "GET /s/{token}",
    "GET /s/{token}/download",
)


class ReleaseRefused(UserError):
    """No valid consent for this release; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"release refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class VerifiedConsent:
    """What a valid consent allows to be released."""

    id: str
    request: int | None
    clip: ClipRef
    plan: RedactionPlan
    audio: bool
    recipient: str
    recipient_age: str | None
    record: str  # the signed canonical JSON
    signature: str

    @property
    def redacted(self) -> bool:
        return self.plan.faces or bool(self.plan.masks) or self.plan.text is not None


def _same(a: ClipRef, b: ClipRef) -> bool:
    return (
        a.camera == b.camera
        and a.start.astimezone(UTC) == b.start.astimezone(UTC)
        and a.end.astimezone(UTC) == b.end.astimezone(UTC)
    )


def authorize_release(
    consents: ConsentStore,
    consent_id: str,
    clip: ClipRef,
    purpose: str,
    actor: Actor,
    record: Record,
    clock: Clock,
) -> VerifiedConsent:
    """See the module docstring. Raises ``ReleaseRefused`` (audited) or returns."""

    def refuse(reason: str) -> ReleaseRefused:
        record(
            "release.refused",
            {
                "consent": consent_id,
                "camera": clip.camera,
                "start": iso(clip.start),
                "end": iso(clip.end),
                "purpose": purpose,
                "reason": reason,
            },
            actor,
        )
        return ReleaseRefused(reason)

    try:
        view = consents.get(consent_id)
    except NoSuchConsent:
        raise refuse("no such consent") from None
    try:
        body = verify_record(view.record, view.signature, consents.owner_key())
    except ValueError as exc:
        raise refuse(str(exc)) from None
    try:
        signed = ClipRef(body["camera"], parse_iso(body["start"]), parse_iso(body["end"]))
        expires = parse_iso(body["expires_at"])
        plan = plan_from_record(body["redactions"])
        recipient = body["recipient"]
        fields_match = (
            body["id"] == view.id
            and body["request"] == view.request
            and _same(signed, view.clip)
            and recipient["name"] == view.recipient
        )
    except (KeyError, TypeError, ValueError):
        raise refuse("the signed consent record is malformed") from None
    if not fields_match:
        raise refuse("the stored consent does not match its signed record")
    if not _same(signed, clip):
        raise refuse(
            f"the consent covers {signed.camera} {iso(signed.start)}..{iso(signed.end)}, "
            "not this clip"
        )
    if view.revoked_at is not None:
        raise refuse(f"the consent was revoked at {iso(view.revoked_at)}")
    if clock.wall() >= expires:
        raise refuse(f"the consent expired at {iso(expires)}")
    return VerifiedConsent(
        id=view.id,
        request=view.request,
        clip=signed,
        plan=plan,
        audio=bool(body["audio"]),
        recipient=recipient["name"],
        recipient_age=recipient["age"],
        record=view.record,
        signature=view.signature,
    )
