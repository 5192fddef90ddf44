"""Consents: the owner's signed permission to release one clip to one recipient.

A consent record (``ConsentRecord.body()``, canonical JSON) is::

    {"version": 1, "id": "<uuid4>", "request": <int> | null,   (null: a personal share)
     "camera": "...", "start": "<ISO 8601 UTC>", "end": "...",
     "redactions": RedactionPlan.as_record(), "audio": bool,
     "recipient": {"name": "...", "age": "age1..." | null},
     "created_at": "...", "expires_at": "...", "owner_key": "<base64 Ed25519 public key>"}

signed with the owner's Ed25519 key over ``CONTEXT + canonical(body)``. The key is only
reachable with the passphrase (``KeyStore.unlock``), which ``ConsentStore.grant`` takes
every time: the dashboard's unlock session is not enough to consent.

``ConsentStore(sessions, keys, record, clock)``:
- ``grant(passphrase, draft, actor)`` -> ``ConsentView``: signs and stores; audit
  ``consent.grant`` (the whole record, its signature);
- ``revoke(id, reason, actor)``: sets the revoked state once; audit ``consent.revoke``;
- ``get(id)``, ``list(request=)``.

Consents are never deleted (ORM listener here, a database trigger in migration 0008);
revocation is a state. Whether a consent allows a release is decided in one place only:
``nvr.sharing.release.authorize_release``. Synchronous I/O: call from a worker thread.
"""

from __future__ import annotations

import base64
import builtins
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import event, select
from sqlalchemy.orm import Mapper, Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.clock import Clock
from nvr.crypto import AgeError, parse_recipient
from nvr.db.models import Consent, DataRequest
from nvr.errors import UserError
from nvr.keys.passphrase import wipe
from nvr.keys.store import KeyError_, KeyStore
from nvr.sharing.requests import NothingDeleted

if TYPE_CHECKING:  # nvr.redact loads OpenCV: only when a plan is used
    from nvr.redact import RedactionPlan

Record = Callable[[str, dict[str, Any], Actor], int]

CONTEXT = b"porchlight consent v1\n"
VERSION = 1
MAX_CLIP = timedelta(hours=6)
MAX_VALIDITY = timedelta(days=366)
DEFAULT_VALIDITY = timedelta(days=7)


class ConsentError(UserError):
    """Bad consent input (a clip that ends before it starts, an unknown request ...)."""


class NoSuchConsent(UserError):
    pass


class AlreadyRevoked(UserError):
    pass


def _refuse_delete(mapper: Mapper[Any], connection: object, target: object) -> None:
    raise NothingDeleted("consent rows are never deleted (revocation is a state)")


event.listen(Consent, "before_delete", _refuse_delete)


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso(when: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` and microseconds only when there are some."""
    when = when.astimezone(UTC)
    spec = "microseconds" if when.microsecond else "seconds"
    return when.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return value.astimezone(UTC)


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def plan_from_record(record: dict[str, Any]) -> RedactionPlan:
    """The ``RedactionPlan`` a consent's ``redactions`` describe (the inverse of
    ``RedactionPlan.as_record``); ``ValueError`` for a malformed one."""
    from nvr.redact import RedactionPlan

    try:
        masks = tuple(
            tuple((float(x), float(y)) for x, y in polygon) for polygon in record["masks"]
        )
        return RedactionPlan(
            faces=bool(record["faces"]),
            masks=masks,
            text=record["text"],
            audio=bool(record["audio"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed redactions: {exc}") from None


@dataclass(frozen=True)
class ClipRef:
    """One camera and a time range: what a consent covers and what a release asks for."""

    camera: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Draft:
    """What the owner consents to, before it is signed."""

    clip: ClipRef
    plan: RedactionPlan
    audio: bool
    recipient: str
    recipient_age: str | None = None  # an age1... key to encrypt the bundle to
    request: int | None = None
    validity: timedelta = DEFAULT_VALIDITY


@dataclass(frozen=True)
class ConsentView:
    id: str
    request: int | None
    clip: ClipRef
    plan: RedactionPlan
    audio: bool
    recipient: str
    recipient_age: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    record: str  # the signed canonical JSON
    signature: str  # base64 Ed25519

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request": self.request,
            "camera": self.clip.camera,
            "start": iso(self.clip.start),
            "end": iso(self.clip.end),
            "redactions": self.plan.as_record(),
            "audio": self.audio,
            "recipient": {"name": self.recipient, "age": self.recipient_age},
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "revoke_reason": self.revoke_reason,
            "record": self.record,
            "signature": self.signature,
        }


def sign_record(body: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(CONTEXT + canonical(body))).decode()


def verify_record(record: str, signature: str, owner: Ed25519PublicKey) -> dict[str, Any]:
    """The record's fields once its signature verifies under ``owner``; ``ValueError``
    naming what is wrong otherwise."""
    try:
        sig = base64.b64decode(signature, validate=True)
        body = json.loads(record)
    except ValueError:
        raise ValueError("the consent record or signature is not well formed") from None
    if not isinstance(body, dict) or canonical(body) != record.encode():
        raise ValueError("the consent record is not canonical JSON")
    try:
        owner.verify(sig, CONTEXT + record.encode())
    except InvalidSignature:
        raise ValueError("the consent signature does not verify under the owner key") from None
    if body.get("owner_key") != base64.b64encode(public_raw(owner)).decode():
        raise ValueError("the consent names another owner key")
    return body


def _check(draft: Draft, now: datetime) -> None:
    clip = draft.clip
    if clip.start.tzinfo is None or clip.end.tzinfo is None:
        raise ConsentError("clip times need a time zone")
    if clip.end <= clip.start:
        raise ConsentError("the clip must end after it starts")
    if clip.end - clip.start > MAX_CLIP:
        raise ConsentError(f"a clip is at most {MAX_CLIP} long; consent to several clips")
    if not clip.camera:
        raise ConsentError("name the camera")
    if not draft.recipient.strip() or len(draft.recipient) > 200:
        raise ConsentError("name the recipient (at most 200 characters)")
    if not timedelta(minutes=1) <= draft.validity <= MAX_VALIDITY:
        raise ConsentError("a consent is valid for between a minute and a year")
    if draft.plan.audio != draft.audio:
        raise ConsentError("the redaction plan's audio must match the consent's audio")
    if draft.recipient_age is not None:
        try:
            recipient = parse_recipient(draft.recipient_age)
        except (AgeError, ValueError):
            raise ConsentError("the recipient key is not an age1... key") from None
        if not str(recipient).startswith("age1"):
            raise ConsentError("the recipient key is not an age1... key")


class ConsentStore:
    def __init__(
        self, sessions: sessionmaker[Session], keys: KeyStore, record: Record, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._record = record
        self._clock = clock

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    def owner_key(self) -> Ed25519PublicKey:
        """The pinned owner signing key (checked against the private key at every unlock)."""
        return self._keys.pinned_signing_key()

    @staticmethod
    def _view(row: Consent) -> ConsentView:
        body = json.loads(row.record)
        return ConsentView(
            id=row.id,
            request=row.request_id,
            clip=ClipRef(row.camera, row.start, row.end),
            plan=plan_from_record(body["redactions"]),
            audio=bool(body["audio"]),
            recipient=row.recipient,
            recipient_age=body["recipient"]["age"],
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            revoke_reason=row.revoke_reason,
            record=row.record,
            signature=row.signature,
        )

    def get(self, consent_id: str) -> ConsentView:
        with self._sessions() as session:
            row = session.get(Consent, consent_id)
            if row is None:
                raise NoSuchConsent(f"no consent {consent_id!r}")
            return self._view(row)

    def list(self, request: int | None = None) -> builtins.list[ConsentView]:
        with self._sessions() as session:
            query = select(Consent).order_by(Consent.created_at.desc(), Consent.id)
            if request is not None:
                query = query.where(Consent.request_id == request)
            return [self._view(row) for row in session.scalars(query)]

    def check(self, draft: Draft) -> None:
        """``ConsentError`` for a draft that cannot be signed (before asking for a key)."""
        _check(draft, self._clock.wall())
        if draft.request is not None:
            with self._sessions() as session:
                if session.get(DataRequest, draft.request) is None:
                    raise ConsentError(f"no request {draft.request}")

    def grant(self, passphrase: bytes, draft: Draft, actor: Actor) -> ConsentView:
        """Sign ``draft`` with the owner key the passphrase opens; store and log it.
        ``KeyError_`` for a wrong passphrase (audited ``consent.refused``)."""
        self.check(draft)
        try:
            unlocked = self._keys.unlock(passphrase)
        except KeyError_ as exc:
            self._record("consent.refused", {"reason": exc.message}, actor)
            raise
        wipe(unlocked.secret)
        return self.sign(unlocked.signing_key, draft, actor)

    def sign(self, key: Ed25519PrivateKey, draft: Draft, actor: Actor) -> ConsentView:
        """Sign ``draft`` with ``key`` (the owner key, just opened with the passphrase by
        the caller: ``grant`` or the API's throttled unlock); store and log it."""
        self.check(draft)
        if public_raw(key.public_key()) != public_raw(self.owner_key()):
            raise ConsentError("that is not the owner's signing key")
        now = self._clock.wall()
        consent_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "version": VERSION,
            "id": consent_id,
            "request": draft.request,
            "camera": draft.clip.camera,
            "start": iso(draft.clip.start),
            "end": iso(draft.clip.end),
            "redactions": draft.plan.as_record(),
            "audio": draft.audio,
            "recipient": {"name": draft.recipient, "age": draft.recipient_age},
            "created_at": iso(now),
            "expires_at": iso(now + draft.validity),
            "owner_key": base64.b64encode(public_raw(key.public_key())).decode(),
        }
        record = canonical(body).decode()
        signature = sign_record(body, key)
        with self._sessions.begin() as session:
            session.add(
                Consent(
                    id=consent_id,
                    request_id=draft.request,
                    camera=draft.clip.camera,
                    start=draft.clip.start.astimezone(UTC),
                    end=draft.clip.end.astimezone(UTC),
                    recipient=draft.recipient,
                    record=record,
                    signature=signature,
                    created_at=now,
                    expires_at=now + draft.validity,
                )
            )
        # The record goes in as its signed text: audit payloads hold no floats (masks do).
        self._record(
            "consent.grant",
            {
                "consent": consent_id,
                "request": draft.request,
                "camera": draft.clip.camera,
                "start": body["start"],
                "end": body["end"],
                "recipient": draft.recipient,
                "record": record,
                "signature": signature,
            },
            actor,
        )
        return self.get(consent_id)

    def revoke(self, consent_id: str, reason: str, actor: Actor) -> ConsentView:
        now = self._clock.wall()
        with self._sessions.begin() as session:
            row = session.get(Consent, consent_id)
            if row is None:
                raise NoSuchConsent(f"no consent {consent_id!r}")
            if row.revoked_at is not None:
                raise AlreadyRevoked(f"consent {consent_id} was revoked at {iso(row.revoked_at)}")
            row.revoked_at = now
            row.revoke_reason = reason or "revoked by the owner"
            request = row.request_id
        self._record(
            "consent.revoke",
            {"consent": consent_id, "request": request, "reason": reason or "revoked by the owner"},
            actor,
        )
        return self.get(consent_id)
