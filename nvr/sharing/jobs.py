"""Background jobs for the dashboard: export bundles and redacted previews.

``Jobs(clock, scratch)`` runs each job in its own daemon thread and keeps its outcome for
``KEEP`` after it ends, at most ``MAX_JOBS`` at a time (starting one more while that many
run is refused: ``Busy``). Job ids are unguessable (``secrets.token_urlsafe``). A job
reports progress ``(done, total)`` and can be cancelled (``cancel(id)`` sets the event the
redaction engine polls).

An outcome is bytes (a preview: small, in memory) or a ``SealedFile`` in the folder
``scratch`` (an export bundle: on disk, but only as ciphertext under a key that lives in
this process's memory; nvr.sharing.scratch). The job owns it: it is deleted when the job is
dropped (``KEEP`` after it ended), discarded (``discard``: the owner cancels a finished
export) or when ``close`` ends them all; a job that fails or is cancelled deletes its own
scratch files before it ends. ``Jobs`` sweeps ``scratch`` of files left by a crash when it
is made: keep one ``Jobs`` per folder.

Jobs only run and hold work; what a job may do is decided before it starts (the export
job calls the enforcement point itself, and the download of its bundle asks again).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nvr.clock import Clock
from nvr.errors import UserError
from nvr.sharing.scratch import SealedFile, sweep

log = logging.getLogger(__name__)

KEEP = timedelta(hours=1)
MAX_JOBS = 2


class Busy(UserError):
    pass


class NoSuchJob(UserError):
    pass


@dataclass
class Job:
    id: str
    kind: str  # "export" or "preview"
    created_at: datetime
    meta: dict[str, Any]  # what the status shows (consent id, clip ...)
    state: str = "running"  # running, done, failed, cancelled
    done: int = 0
    total: int = 0
    error: str | None = None
    result: Result | None = None
    result_meta: dict[str, Any] = field(default_factory=dict)
    ended_at: datetime | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    memory: int = 0  # bytes of memory it is expected to use while it runs (a reservation)

    @property
    def size(self) -> int:
        """Bytes in the result (0 while there is none)."""
        if isinstance(self.result, SealedFile):
            return self.result.size
        return len(self.result or b"")

    def chunks(self) -> Iterator[bytes]:
        """The result's bytes, a piece at a time (nothing when there is none)."""
        result = self.result
        if isinstance(result, SealedFile):
            yield from result.chunks()
        elif result:
            yield result

    def read(self) -> bytes:
        """The whole result (for tests and small results)."""
        return b"".join(self.chunks())

    def discard(self) -> None:
        """Drop the result (a sealed file is deleted)."""
        result, self.result = self.result, None
        if isinstance(result, SealedFile):
            result.close()

    def status(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            **self.meta,
            **self.result_meta,
        }


Result = bytes | SealedFile
Work = Callable[[Job], tuple[Result, dict[str, Any]]]


class Jobs:
    def __init__(self, clock: Clock, scratch: Path) -> None:
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.scratch = scratch  # where jobs put their sealed files
        sweep(scratch)

    def _sweep(self) -> None:
        now = self._clock.wall()
        for job_id, job in list(self._jobs.items()):
            if job.ended_at is not None and now - job.ended_at > KEEP:
                del self._jobs[job_id]
                job.discard()

    def close(self) -> None:
        """Drop every finished job's result (the service stopping); running jobs end on
        their own and clean up after themselves."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
                if job.state != "running":
                    job.discard()

    def start(
        self,
        kind: str,
        meta: dict[str, Any],
        work: Work,
        *,
        memory: int = 0,
        budget: int | None = None,
    ) -> Job:
        """Run ``work`` in a thread. ``memory``: what it is expected to use; with a
        ``budget``, ``Busy`` when the running jobs' reservations leave too little."""
        with self._lock:
            self._sweep()
            running = [j for j in self._jobs.values() if j.state == "running"]
            if len(running) >= MAX_JOBS:
                raise Busy(f"{MAX_JOBS} jobs are running; wait for one to finish")
            held = sum(j.memory for j in running)
            if budget is not None and held + memory > budget:
                raise Busy(
                    f"the running jobs hold {held // 2**20} MiB of the "
                    f"{budget // 2**20} MiB export budget; wait for one to finish"
                )
            job = Job(secrets.token_urlsafe(16), kind, self._clock.wall(), meta, memory=memory)
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, work), daemon=True)
        thread.start()
        return job

    def _run(self, job: Job, work: Work) -> None:
        from nvr.redact import Cancelled  # OpenCV: jobs redact; the service loads it late

        try:
            data, meta = work(job)
        except Cancelled:
            job.state, job.error = "cancelled", "cancelled"
        except UserError as exc:
            job.state, job.error = "failed", exc.message
        except Exception as exc:  # a job's failure is its status; the log has the trace
            log.exception("%s job %s failed", job.kind, job.id)
            job.state, job.error = "failed", f"internal error ({type(exc).__name__})"
        else:
            job.result, job.result_meta, job.state = data, meta, "done"
            if job.cancel.is_set():  # cancelled as it finished: nothing is kept
                job.discard()
                job.state, job.error = "cancelled", "cancelled"
        job.ended_at = self._clock.wall()

    def get(self, job_id: str, kind: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.kind != kind:
            raise NoSuchJob(f"no {kind} job {job_id!r}")
        return job

    def wait(self, job_id: str, kind: str, timeout: float) -> Job:
        """For tests and the CLI: the job once it ended (or as it is after ``timeout``)."""
        job = self.get(job_id, kind)
        deadline = threading.Event()
        waited = 0.0
        while job.state == "running" and waited < timeout:
            deadline.wait(0.05)
            waited += 0.05
        return job
