"""When to sign an audit checkpoint, and the small loop that does it.

Policy (SHARING.md "Audit log"): a checkpoint **hourly when anything new was logged**, and
**at once after an entry of a release kind** (``request.*``, ``consent.*``, ``export.*``,
``share.*``), so the unsigned tail of the log (docs/design/audit-log.md, Caveats) stays
short, and shortest around the events that matter most.

``checkpoint_due`` is the decision, a pure function of values. Its times are *monotonic*
seconds (``Clock.monotonic()``): the wall clock of a box without an RTC can jump by years
at the first NTP answer, which must neither stall nor hurry the schedule.

``AuditCheckpointer(audit, sessions, clock).tick()`` is the I/O half: it reads the log's
size, the latest checkpoint's size and the kinds logged since, asks ``checkpoint_due``,
and signs when due (returning the note, else ``None``). ``run_checkpoints(box, stop)`` is
what the service runner awaits: ``tick`` every ``interval`` seconds (in a worker thread,
since signing reads every entry) until ``stop`` is set. "At once" therefore means within
``interval`` (10 s by default; each idle tick is two small indexed queries).

After a start, nothing is known about when the last checkpoint was signed, so the first
tick signs if anything was logged since the latest checkpoint (a start always logs, so a
box signs shortly after every boot). A checkpoint signed by someone else (``nvr audit
checkpoint``) restarts the hour. Signing never adds an audit entry: that would make every
checkpoint "something new" and the hourly rule would never rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.log import AuditLog
from nvr.audit.note import open_checkpoint
from nvr.clock import Clock
from nvr.db.models import AuditCheckpoint, AuditEntry
from nvr.errors import UserError

if TYPE_CHECKING:
    from nvr.service.box import Box

HOURLY = 3600.0
RELEASE_PREFIXES = ("request.", "consent.", "export.", "share.")

log = logging.getLogger(__name__)


def is_release_kind(kind: str) -> bool:
    """Whether ``kind`` records footage leaving (or being asked to leave) the owner's hands."""
    return kind.startswith(RELEASE_PREFIXES)


def checkpoint_due(
    last_checkpoint_at: float | None,
    last_tree_size: int,
    tree_size: int,
    now: float,
    kinds_since_last: Collection[str],
    *,
    every: float = HOURLY,
) -> bool:
    """Whether to sign a checkpoint now.

    ``last_checkpoint_at``: monotonic time of the latest checkpoint, ``None`` if unknown
    (none yet, or signed before this process started); ``last_tree_size``: its size (0 for
    none); ``tree_size``: entries in the log now; ``kinds_since_last``: the kinds of the
    entries after the latest checkpoint. Nothing new: never. A release kind among the new
    entries: always. Otherwise when ``every`` seconds have passed, or the time is unknown.
    """
    if tree_size <= last_tree_size:
        return False
    if any(is_release_kind(kind) for kind in kinds_since_last):
        return True
    if last_checkpoint_at is None:
        return True
    return not 0 <= now - last_checkpoint_at < every


class AuditCheckpointer:
    """Signs checkpoints of ``audit`` on the schedule of ``checkpoint_due``. Construction
    does no I/O; ``tick`` does (database reads, and a signature when due)."""

    def __init__(
        self,
        audit: AuditLog,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        every: float = HOURLY,
    ) -> None:
        self._audit = audit
        self._sessions = sessions
        self._clock = clock
        self._every = every
        self._seen_size: int | None = None  # the latest checkpoint size we know of
        self._seen_at: float | None = None  # monotonic time we signed or first saw it

    def tick(self) -> str | None:
        """Sign a checkpoint if one is due; returns its note, or ``None`` if none was due.
        Raises ``AuditError`` when the log no longer extends the latest checkpoint."""
        now = self._clock.monotonic()
        last_size, tree_size, kinds = self._state()
        if self._seen_size is not None and last_size != self._seen_size:
            self._seen_at = now  # another process signed one: the hour starts again
        self._seen_size = last_size
        if not checkpoint_due(self._seen_at, last_size, tree_size, now, kinds, every=self._every):
            return None
        note = self._audit.checkpoint()
        verifier = self._audit.verifier
        # The note may cover more than tree_size: entries can land between the two reads.
        self._seen_size = open_checkpoint(note, verifier.name, [verifier]).size
        self._seen_at = now
        return note

    def _state(self) -> tuple[int, int, set[str]]:
        with self._sessions() as session:
            last = session.scalar(select(func.max(AuditCheckpoint.tree_size))) or 0
            top = session.scalar(select(func.max(AuditEntry.seq)))
            size = 0 if top is None else top + 1
            kinds = set(
                session.scalars(select(AuditEntry.kind).where(AuditEntry.seq >= last).distinct())
            )
        return last, size, kinds


async def run_checkpoints(box: Box, stop: asyncio.Event, interval: float = 10.0) -> None:
    """Sign checkpoints for ``box`` on schedule until ``stop`` is set. A failure to sign
    (a tampered log) is logged, once per distinct message, and retried every tick."""
    checkpointer = AuditCheckpointer(box.audit, box.sessions, box.clock)
    last_error = ""
    while not stop.is_set():
        try:
            await asyncio.to_thread(checkpointer.tick)
            last_error = ""
        except Exception as exc:  # keep the recorder running; the journal says why
            if str(exc) != last_error:
                # A refusal (tampered log) is a UserError: its message says it all.
                log.error(
                    "audit checkpoint failed: %s", exc, exc_info=not isinstance(exc, UserError)
                )
                last_error = str(exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
