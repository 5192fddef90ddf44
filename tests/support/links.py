"""Share links planted for tests: ``plant_link(links, consent_id, clip, bundle)`` stores a
link exactly as ``LinkStore.create`` would (the bundle encrypted to the token-derived key,
the token's hash in the row) but WITHOUT asking the enforcement point, as if the consent
had allowed it when the link was made. The release tests drive the recipient's routes
through it with consents that never allowed anything."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from nvr.db.models import ShareLink
from nvr.sharing.consent import ClipRef
from nvr.sharing.links import LinkStore, link_identity, new_token, token_hash


def plant_link(
    links: LinkStore,
    consent_id: str,
    clip: ClipRef,
    bundle: bytes,
    *,
    days: int = 7,
    downloads: int = 3,
) -> tuple[str, str]:
    """``(link id, token)`` of a new active link to ``bundle`` under ``consent_id``."""
    link_id, token = str(uuid.uuid4()), new_token()
    links._store(links.path(link_id), bundle, link_identity(token, link_id))
    now = links.clock.wall()
    with links._sessions.begin() as session:
        session.add(
            ShareLink(
                id=link_id,
                token_sha256=token_hash(token),
                consent_id=consent_id,
                request_id=None,
                camera=clip.camera,
                start=clip.start,
                end=clip.end,
                bundle=None,
                file="planted.zip",
                size=len(bundle),
                sha256=hashlib.sha256(bundle).hexdigest(),
                created_at=now,
                created_by="test",
                expires_at=now + timedelta(days=days),
                max_downloads=downloads,
                downloads=0,
            )
        )
    return link_id, token
