"""Share links: one export bundle for whoever holds an unguessable URL, for a few days and a
few downloads (SHARING.md "Share links"; docs/design/share-links.md).

A link is made from a finished export (the bundle, read a piece at a time and encrypted
as it comes, its consent and clip). Making it is a release decision: ``create`` asks the
enforcement point (``authorize_release(..., "link")``), and the landing page
(``"link page"``) and every download (``"link download"``) ask it again, so a consent
revoked or expired since stops the link.

The token (``secrets.token_urlsafe(32)``: 256 bits, 43 URL-safe characters) is shown
once, in the URL ``/s/<token>``. The box keeps only ``SHA-256(token)`` (to find the link)
and the bundle as an age file ``<data_dir>/shares/<link id>.age`` encrypted to an X25519
identity derived from the token (``link_identity``: HKDF-SHA256, salt = the link id), so
the box at rest (a thief, a seizure, a backup) holds nothing that opens a shared bundle.
A link is looked up by the hash of whatever token is presented: the same query and the
same work whether it exists or not, no comparison of secrets in Python.

``LinkStore(data_dir, sessions, consents, record, clock)``:
- ``create(bundle, source, days=7, downloads=3, actor, client)`` -> ``Created(view,
  token)``; ``ReleaseRefused`` (audited) when the consent does not allow it. The link
  expires at the earlier of ``days`` and the consent's own expiry.
- ``list(consent=None)`` (newest first), ``get(id)``, ``revoke(id, reason, actor)``
  (``AlreadyRevoked`` the second time), ``sweep()`` (deletes the stored bundles of links
  that can no longer be downloaded; the service runs it periodically).
- ``open(token, client)``: the recipient's landing page (does not count a download).
- ``download(token, client)``: counts one download and returns the decrypted bundle as a
  stream of chunks.
Both public calls raise ``NoSuchLink`` for an unknown token and ``LinkGone(reason)`` for a
revoked, expired or used-up link (or one whose consent no longer allows the release: the
link is then revoked by the system). Once a link cannot be downloaded any more its stored
bundle is deleted; the row stays (rows are never deleted: an ORM listener here and a
database trigger in migration 0009 refuse it).

Audit: ``share.link.create`` {link, consent, request, bundle, file, size, sha256,
expires_at, max_downloads, client}; ``share.link.view`` {link, consent, request, client};
``share.link.download`` {link, consent, request, bundle, download, max_downloads, client};
``share.link.refused`` {link (null for an unknown token), reason, client};
``share.link.revoke`` {link, consent, request, reason}. The token is never logged nor
stored. Synchronous I/O: call from a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import event, select, update
from sqlalchemy.orm import Mapper, Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.clock import Clock
from nvr.crypto import AgeError, X25519Identity, decrypt, encrypt_stream
from nvr.db.models import Consent, ShareLink
from nvr.errors import UserError
from nvr.sharing.consent import ClipRef, ConsentStore, iso, parse_iso
from nvr.sharing.release import ReleaseRefused, authorize_release
from nvr.sharing.requests import NothingDeleted

Record = Callable[[str, dict[str, Any], Actor], int]

SHARES_DIR = "shares"
TOKEN_BYTES = 32  # 256 bits
KEY_INFO = b"porchlight share link v1 bundle key"
DEFAULT_DAYS, MAX_DAYS = 7, 30
DEFAULT_DOWNLOADS, MAX_DOWNLOADS = 3, 20
RECIPIENT = Actor(role="anonymous", user=None)  # whoever holds the link
SYSTEM = Actor(role="system", user=None)
UNKNOWN = "no such link"
CONSENT_ENDED = "the owner's consent to this release is no longer valid"


class LinkError(UserError):
    """Bad input for a new link (days or downloads out of range)."""


class NoSuchLink(UserError):
    pass


class AlreadyRevoked(UserError):
    pass


class LinkGone(UserError):
    """The link exists but cannot be downloaded (any more); ``reason`` says why."""

    def __init__(self, reason: str, link: LinkView) -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link


def _refuse_delete(mapper: Mapper[Any], connection: object, target: object) -> None:
    raise NothingDeleted("share link rows are never deleted (revocation is a state)")


event.listen(ShareLink, "before_delete", _refuse_delete)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the box stores to find a link: SHA-256 of the token's text, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_identity(token: str, link_id: str) -> X25519Identity:
    """The age identity the link's stored bundle is encrypted to, derived from the token
    (and the link id, so no two links share a key even if a token repeated)."""
    secret = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=link_id.encode(), info=KEY_INFO
    ).derive(token.encode("utf-8", "surrogatepass"))
    return X25519Identity.from_bytes(secret)


@dataclass(frozen=True)
class LinkSource:
    """What a link releases: a finished export's bundle and what it was made under."""

    consent: str
    clip: ClipRef
    file: str  # the bundle's download name (porchlight-....zip, or .zip.age)
    bundle: str | None = None  # the bundle id (manifest.json "bundle")


@dataclass(frozen=True)
class LinkView:
    id: str
    consent: str
    request: int | None
    clip: ClipRef
    bundle: str | None
    file: str
    size: int
    sha256: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime
    max_downloads: int
    downloads: int
    revoked_at: datetime | None
    revoke_reason: str | None
    purged_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``revoked``, ``used_up`` or ``expired`` (the first that applies)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.downloads >= self.max_downloads:
            return "used_up"
        if now >= self.expires_at:
            return "expired"
        return "active"

    def gone(self, now: datetime) -> str | None:
        """Why the link cannot be downloaded, in words for the recipient; ``None`` when
        it can. The owner's revocation reason is not shown (it may be private)."""
        state = self.state(now)
        if state == "revoked":
            return f"this link was withdrawn by the owner at {_human(self.revoked_at)}"
        if state == "used_up":
            return f"this link has been used up ({self.downloads} of {self.max_downloads})"
        if state == "expired":
            return f"this link expired at {_human(self.expires_at)}"
        return None

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "consent": self.consent,
            "request": self.request,
            "camera": self.clip.camera,
            "start": iso(self.clip.start),
            "end": iso(self.clip.end),
            "bundle": self.bundle,
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": iso(self.expires_at),
            "max_downloads": self.max_downloads,
            "downloads": self.downloads,
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "revoke_reason": self.revoke_reason,
            "state": self.state(now),
            "stored": self.purged_at is None,
        }


def _human(when: datetime | None) -> str:
    return "?" if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Created:
    link: LinkView
    token: str  # shown once; never stored


@dataclass
class Download:
    """A counted download: the plaintext bundle as chunks (``size`` bytes in all). The
    stored file may already be deleted (the last download): the open handle keeps it."""

    link: LinkView
    size: int
    _handle: BinaryIO
    _chunks: Iterator[bytes]

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self._handle.close()

    def close(self) -> None:
        self._handle.close()


def _view(row: ShareLink) -> LinkView:
    return LinkView(
        id=row.id,
        consent=row.consent_id,
        request=row.request_id,
        clip=ClipRef(row.camera, row.start, row.end),
        bundle=row.bundle,
        file=row.file,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        max_downloads=row.max_downloads,
        downloads=row.downloads,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
        purged_at=row.purged_at,
    )


class LinkStore:
    def __init__(
        self,
        data_dir: Path,
        sessions: sessionmaker[Session],
        consents: ConsentStore,
        record: Record,
        clock: Clock,
    ) -> None:
        self._root = data_dir / SHARES_DIR
        self._sessions = sessions
        self._consents = consents
        self._record = record
        self._clock = clock

    @property
    def clock(self) -> Clock:
        return self._clock

    def path(self, link_id: str) -> Path:
        """Where the link's encrypted bundle is stored (while it is)."""
        return self._root / f"{uuid.UUID(link_id)}.age"

    # -- the owner ---------------------------------------------------------------------------
    def create(
        self,
        bundle: bytes | Callable[[], Iterable[bytes]],
        source: LinkSource,
        *,
        days: int = DEFAULT_DAYS,
        downloads: int = DEFAULT_DOWNLOADS,
        actor: Actor,
        client: str | None,
    ) -> Created:
        if not 1 <= days <= MAX_DAYS:
            raise LinkError(f"a link lasts 1 to {MAX_DAYS} days")
        if not 1 <= downloads <= MAX_DOWNLOADS:
            raise LinkError(f"a link allows 1 to {MAX_DOWNLOADS} downloads")
        verified = authorize_release(
            self._consents, source.consent, source.clip, "link", actor, self._record, self._clock
        )
        now = self._clock.wall()
        consent_ends = parse_iso(json.loads(verified.record)["expires_at"])
        expires = min(now + timedelta(days=days), consent_ends)
        link_id = str(uuid.uuid4())
        token = new_token()
        path = self.path(link_id)
        chunks = bundle if isinstance(bundle, bytes) else bundle()
        size, digest = self._store(path, chunks, link_identity(token, link_id))
        try:
            with self._sessions.begin() as session:
                session.add(
                    ShareLink(
                        id=link_id,
                        token_sha256=token_hash(token),
                        consent_id=verified.id,
                        request_id=verified.request,
                        camera=verified.clip.camera,
                        start=verified.clip.start,
                        end=verified.clip.end,
                        bundle=source.bundle,
                        file=source.file,
                        size=size,
                        sha256=digest,
                        created_at=now,
                        created_by=actor.user,
                        expires_at=expires,
                        max_downloads=downloads,
                        downloads=0,
                    )
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._record(
            "share.link.create",
            {
                "link": link_id,
                "consent": verified.id,
                "request": verified.request,
                "bundle": source.bundle,
                "file": source.file,
                "size": size,
                "sha256": digest,
                "expires_at": iso(expires),
                "max_downloads": downloads,
                "client": client,
            },
            actor,
        )
        return Created(self.get(link_id), token)

    def _store(
        self, path: Path, chunks: bytes | Iterable[bytes], identity: X25519Identity
    ) -> tuple[int, str]:
        """The bundle (bytes, or its ``chunks``) as an age file to ``identity`` at ``path``
        (0600; temp file, fsync, rename), encrypted as it comes; (size, SHA-256) of the
        plaintext."""
        if isinstance(chunks, bytes):
            chunks = (chunks,)
        digest = hashlib.sha256()
        size = 0
        self._root.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                with encrypt_stream(out, [identity.recipient()]) as writer:
                    for piece in chunks:
                        digest.update(piece)
                        size += len(piece)
                        writer.write(piece)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return size, digest.hexdigest()

    def get(self, link_id: str) -> LinkView:
        with self._sessions() as session:
            row = session.get(ShareLink, link_id)
            if row is None:
                raise NoSuchLink(f"no share link {link_id!r}")
            return _view(row)

    def list(self, consent: str | None = None) -> list[LinkView]:
        with self._sessions() as session:
            query = select(ShareLink).order_by(ShareLink.created_at.desc(), ShareLink.id)
            if consent is not None:
                query = query.where(ShareLink.consent_id == consent)
            return [_view(row) for row in session.scalars(query)]

    def revoke(self, link_id: str, reason: str, actor: Actor) -> LinkView:
        reason = reason.strip() or "revoked by the owner"
        now = self._clock.wall()
        with self._sessions.begin() as session:
            row = session.get(ShareLink, link_id)
            if row is None:
                raise NoSuchLink(f"no share link {link_id!r}")
            if row.revoked_at is not None:
                raise AlreadyRevoked(f"link {link_id} was revoked at {iso(row.revoked_at)}")
            row.revoked_at, row.revoke_reason = now, reason
            consent, request = row.consent_id, row.request_id
        self._purge(link_id)
        self._record(
            "share.link.revoke",
            {"link": link_id, "consent": consent, "request": request, "reason": reason},
            actor,
        )
        return self.get(link_id)

    def _purge(self, link_id: str) -> None:
        """Delete the stored bundle (idempotent) and note when."""
        self.path(link_id).unlink(missing_ok=True)
        with self._sessions.begin() as session:
            row = session.get(ShareLink, link_id)
            if row is not None and row.purged_at is None:
                row.purged_at = self._clock.wall()

    def _consent_ended(self, link: LinkView, now: datetime) -> str | None:
        """The consent row says it is revoked or expired (a display-level check: the
        download asks the enforcement point, which reads the signed record)."""
        with self._sessions() as session:
            row = session.get(Consent, link.consent)
            if row is None:
                return "no such consent"
            if row.revoked_at is not None:
                return f"the consent was revoked at {iso(row.revoked_at)}"
            if now >= row.expires_at:
                return f"the consent expired at {iso(row.expires_at)}"
            return None

    def _retire(self, link: LinkView, why: str) -> LinkView:
        """The consent no longer allows the release: the system revokes the link."""
        try:
            return self.revoke(link.id, f"the consent no longer allows it: {why}", SYSTEM)
        except AlreadyRevoked:
            return self.get(link.id)

    def sweep(self) -> int:
        """Delete the stored bundles of links that cannot be downloaded any more
        (revoked, expired, used up, or their consent revoked or expired: those links are
        revoked by the system). Returns how many were deleted."""
        now = self._clock.wall()
        with self._sessions() as session:
            rows = [
                _view(r)
                for r in session.scalars(select(ShareLink).where(ShareLink.purged_at.is_(None)))
            ]
        purged = 0
        for link in rows:
            if link.gone(now) is None:
                why = self._consent_ended(link, now)
                if why is None:
                    continue
                self._retire(link, why)
            self._purge(link.id)
            purged += 1
        return purged

    # -- the recipient -----------------------------------------------------------------------
    def _find(self, token: str, client: str | None) -> LinkView:
        """The link whose token hashes to the stored hash; an unknown one is refused
        (audited with ``link: null``) as ``NoSuchLink``."""
        digest = token_hash(token)
        with self._sessions() as session:
            row = session.scalars(
                select(ShareLink).where(ShareLink.token_sha256 == digest)
            ).one_or_none()
            found = _view(row) if row is not None else None
        if found is None:
            self._refused(None, UNKNOWN, client)
            raise NoSuchLink(UNKNOWN)
        return found

    def _refused(self, link: LinkView | None, reason: str, client: str | None) -> None:
        self._record(
            "share.link.refused",
            {"link": link.id if link else None, "reason": reason, "client": client},
            RECIPIENT,
        )

    def _usable(self, token: str, client: str | None, purpose: str) -> LinkView:
        """The link, if it can still be downloaded: known, not revoked, expired or used
        up, and its consent allows the release (the enforcement point, for ``purpose``);
        else ``NoSuchLink`` / ``LinkGone``, audited. A consent that no longer allows it
        retires the link (revoked by the system, its bundle deleted)."""
        link = self._find(token, client)
        reason = link.gone(self._clock.wall())
        if reason is not None:
            if link.purged_at is None:
                self._purge(link.id)
            self._refused(link, reason, client)
            raise LinkGone(reason, link)
        try:
            authorize_release(
                self._consents,
                link.consent,
                link.clip,
                purpose,
                RECIPIENT,
                self._record,
                self._clock,
            )
        except ReleaseRefused as exc:
            link = self._retire(link, exc.reason)
            self._refused(link, f"consent: {exc.reason}", client)
            raise LinkGone(CONSENT_ENDED, link) from None
        return link

    def open(self, token: str, client: str | None) -> LinkView:
        """The landing page: the link if it can be downloaded; audited, not counted."""
        link = self._usable(token, client, "link page")
        self._record(
            "share.link.view",
            {"link": link.id, "consent": link.consent, "request": link.request, "client": client},
            RECIPIENT,
        )
        return link

    def download(self, token: str, client: str | None) -> Download:
        """Count one download and return the bundle (see the module docstring)."""
        link = self._usable(token, client, "link download")
        handle: BinaryIO | None = None
        try:
            handle = self.path(link.id).open("rb")
            reader = decrypt(handle, [link_identity(token, link.id)])
        except (OSError, AgeError):
            if handle is not None:
                handle.close()
            self._refused(link, "the bundle is no longer stored on this box", client)
            raise LinkGone("the bundle is no longer stored on this box", link) from None
        with self._sessions.begin() as session:
            counted = session.execute(
                update(ShareLink)
                .where(
                    ShareLink.id == link.id,
                    ShareLink.downloads == link.downloads,
                    ShareLink.revoked_at.is_(None),
                )
                .values(downloads=link.downloads + 1)
            )
            won = getattr(counted, "rowcount", 0) == 1
        if not won:  # another download or a revocation got there first: ask again
            handle.close()
            return self.download(token, client)
        count = link.downloads + 1
        self._record(
            "share.link.download",
            {
                "link": link.id,
                "consent": link.consent,
                "request": link.request,
                "bundle": link.bundle,
                "download": count,
                "max_downloads": link.max_downloads,
                "client": client,
            },
            RECIPIENT,
        )
        if count >= link.max_downloads:
            self._purge(link.id)  # the open handle still reads it (POSIX)
        chunks = (reader.read_chunk(i) for i in range(reader.chunk_count))
        return Download(self.get(link.id), reader.size, handle, chunks)
