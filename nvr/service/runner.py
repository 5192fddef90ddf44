"""The service: one object that starts every long-lived part and stops them in order.

Start-up, in order: data directory (0700) → the box (database migrations, key folder,
audit log) → the owner account for keys made before accounts existed → service run row,
camera registration and a ``service.start`` audit entry → storage reconciliation (files
vs index, before anything records) → TLS certificate → camera ingest (and the demo
doorbell when it is on) → HTTPS server (and the optional plain-HTTP redirect; while no
owner exists, with the first-run setup and its one-time code, nvr.web.setup; the cameras
API changes the config file and the running cameras, nvr.service.camera_admin) →
housekeeping (unlock and session expiry, retention, audit checkpoints) → notifications, only
when configured (MQTT with Home Assistant discovery, webhooks: nvr.notify) → under systemd
(``NOTIFY_SOCKET``), ``READY=1`` and, with ``WatchdogSec=``, the watchdog that pings only
while no recorder is stalled (nvr.service.notify). SIGTERM or SIGINT
stops the servers, locks every unlock session, stops the cameras, lets the notifier send
their last events and sign off (at most ``NOTIFY_SIGN_OFF_SECONDS``), marks the run cleanly
stopped, writes ``service.stop``, and ``run()`` returns.

This is the only place that starts threads, tasks and servers; everything it starts is
given its clock, paths and settings here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter
from sqlalchemy.exc import OperationalError

from nvr import __version__
from nvr.audit.schedule import AuditCheckpointer
from nvr.camera_identity import DeviceIdentity, remember
from nvr.clock import Clock
from nvr.config import CameraConfig, Config
from nvr.db import repo
from nvr.db.engine import is_locked, retry_locked
from nvr.errors import UserError
from nvr.events import EventBus, EventKind
from nvr.events.hub import EventHub
from nvr.keys.store import KeyError_
from nvr.live import LiveService
from nvr.notify import Notifier
from nvr.record.gaps import GapLog, gaps
from nvr.secrets import mask_url
from nvr.service.accounts import build_accounts, ensure_owner
from nvr.service.box import Box, open_box
from nvr.service.camera_admin import CameraAdmin, default_config_path
from nvr.service.cameras import CameraSet, camera_names
from nvr.service.housekeeping import Job, run_housekeeping
from nvr.service.http import make_metrics_server, make_servers, wait_started
from nvr.service.notify import SystemdNotifier, Watchdog, watchdog_seconds
from nvr.service.settings import RetentionEditor, apply_retention
from nvr.service.status import ServiceStatus
from nvr.service.unlock import UnlockManager
from nvr.sharing.requests import Paperwork, RequestLog
from nvr.storage.enforce import Retainer
from nvr.storage.reconcile import reconcile
from nvr.storage.sealed import EventStore
from nvr.web import tls
from nvr.web.app import create_app
from nvr.web.consents import exports_for
from nvr.web.doorbell import doorbell_router
from nvr.web.events import EventsSource, EventStreams, known_cameras
from nvr.web.settings import Settings
from nvr.web.setup import CODE_FILE, SetupCode, SetupFlow, recovery_pending
from nvr.web.sharing import Sharing, config_masks

log = logging.getLogger(__name__)

# Wildcard bind addresses: compared against, never bound here.
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104
RETENTION_EVERY_SECONDS = 600.0
SWEEP_EVERY_SECONDS = 5.0
LINK_SWEEP_SECONDS = 60.0
CHECKPOINT_TICK_SECONDS = 10.0  # how soon a release-kind entry gets its checkpoint
NOTIFY_SIGN_OFF_SECONDS = 15.0  # the most a stop waits for MQTT and webhooks to finish


@dataclass(frozen=True)
class Ready:
    """What the service tells its caller once it is serving."""

    url: str
    port: int
    tls_fingerprint: str
    demo: bool
    setup_url: str | None = None  # first run: the setup page with its one-time code
    metrics_url: str | None = None  # metrics.enabled: the loopback /metrics address


def prepare_data_dir(path: Path) -> None:
    """Create the data directory private to the service user, or say why it can't be used."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UserError(
            f"cannot create data directory {path}: {exc.strerror}",
            hint="pass --data-dir DIR or set storage.data_dir to a writable folder",
        ) from exc
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        # Never run without recording: a read-only mount (a remounted failing disk, a
        # forgotten "ro" in fstab) is refused, as root too (root may write anywhere else).
        raise UserError(
            f"data directory {path} is on a read-only filesystem: nothing could be recorded",
            hint="remount it read-write (check the disk: a failing disk is remounted"
            " read-only) or pass --data-dir DIR",
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(
            f"data directory {path} is not writable by this user",
            hint="fix its owner/permissions or pass --data-dir DIR",
        )


def cert_hostnames(bind: str) -> list[str]:
    host = socket.gethostname()
    names = ["localhost", "127.0.0.1", "::1", host, f"{host}.local"]
    if bind not in _ANY_ADDRESS:
        names.insert(0, bind)
    return names


def public_url(bind: str, port: int) -> str:
    host = "127.0.0.1" if bind in _ANY_ADDRESS | {"127.0.0.1"} else bind
    if bind == "::":
        host = "[::1]"
    elif ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}/"


def keys_state(box: Box) -> str:
    """``ready``, ``missing`` or ``invalid: <why>``: whether new footage can be encrypted."""
    if not box.keys.exists():
        return "missing"
    try:
        box.keys.recipients()
    except KeyError_ as exc:
        return f"invalid: {exc.message}"
    return "ready"


class Service:
    def __init__(
        self,
        cfg: Config,
        *,
        clock: Clock,
        demo: bool = False,
        on_ready: Callable[[Ready], None] | None = None,
        on_box: Callable[[Box], None] | None = None,
        config_path: Path | None = None,
        work_factor: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.demo = demo or cfg.demo_wanted()
        self.on_ready = on_ready
        self.on_box = on_box  # e.g. ``nvr demo`` creating keys on first start
        # The config file the dashboard's camera and retention changes are written to
        # (None: the default, see camera_admin.default_config_path) and the scrypt work factor of
        # keys made by the first-run setup (None: calibrated, as the CLI does).
        self.config_path = config_path
        self.work_factor = work_factor
        self.started_at: datetime = clock.wall()
        self._started_mono = clock.monotonic()
        # The live event stream (doorbell, ONVIF and detected motion) for the dashboard
        # and notifications. The hub publishes each event on it and seals it; recording
        # around events is the cameras' part (CameraSet.trigger).
        self.events_bus = EventBus()
        self._hub = EventHub(self.events_bus)
        self._cameras = CameraSet(
            cfg,
            clock,
            demo=self.demo,
            on_event=self._camera_event,
            motion=self._hub,
            on_device=self._camera_device,
            on_clock_jump=self._clock_jump,
        )
        self._tls_fingerprint: str | None = None
        self._box: Box | None = None
        self._alarms: Callable[[], dict[str, str]] = dict
        self.notifier: Notifier | None = None  # MQTT and webhooks, when configured and running
        self.systemd = SystemdNotifier.from_env()  # READY/WATCHDOG under systemd, else no-op
        self.watchdog: Watchdog | None = None

    def status(self) -> ServiceStatus:
        keys = keys_state(self._box) if self._box is not None else "unknown"
        return ServiceStatus(
            version=__version__,
            started_at=self.started_at,
            uptime_seconds=round(self.clock.monotonic() - self._started_mono, 3),
            tls_fingerprint=self._tls_fingerprint,
            cameras=self._cameras.statuses(),
            keys=keys,
            alarms=sorted(self._alarms().values()),
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or SIGTERM/SIGINT arrives."""
        stop = stop or asyncio.Event()
        cfg = self.cfg
        prepare_data_dir(cfg.storage.data_dir)
        log.info("opening database", extra={"url": mask_url(cfg.database_url())})
        box = self._box = await asyncio.to_thread(open_box, cfg, self.clock)
        loop = asyncio.get_running_loop()
        unlock = UnlockManager(
            box.keys, self.clock, box.record, idle_timeout=cfg.security.footage_idle_lock()
        )
        run_id: int | None = None
        tasks: list[asyncio.Task[None]] = []
        live: LiveService | None = None
        notifying: asyncio.Task[None] | None = None
        notify_stop = asyncio.Event()  # set after the cameras stop: their last events go out
        try:
            if self.on_box is not None:
                await asyncio.to_thread(self.on_box, box)
            await asyncio.to_thread(ensure_owner, box)
            accounts = build_accounts(
                box,
                unlock,
                self.clock,
                session_idle=cfg.security.session_idle(),
                session_max_age=cfg.security.session_max_age(),
            )
            run_id = await asyncio.to_thread(self._record_start, box)
            store = box.segment_store()
            self._alarms = lambda: store.alarms
            events = box.event_store()
            self._hub.open(loop, lambda: events if keys_state(box) == "ready" else None)
            report = await asyncio.to_thread(reconcile, store)
            if report.changed:
                box.record("storage.reconcile", {k: len(v) for k, v in vars(report).items()})
            await asyncio.to_thread(events.reconcile)
            if keys_state(box) != "ready":
                log.warning(
                    "no usable owner keys: footage cannot be recorded",
                    extra={
                        "keys": keys_state(box),
                        "hint": "create them with 'nvr keys init --passphrase-file FILE'"
                        " or the dashboard's first run",
                    },
                )
            retainer = box.retainer(store)
            store.room_maker = lambda need: retainer.run(self.clock.wall(), need)
            tls_files = self._tls()
            self._tls_fingerprint = tls_files.fingerprint
            recording = (
                (store, GapLog(box.sessions, self.clock)) if keys_state(box) == "ready" else None
            )
            await self._cameras.start(recording)
            live = LiveService(
                source=self._cameras.live_source, cameras=self._cameras.names, record=box.record
            )

            async def on_keys() -> list[str]:
                """The first-run setup made the keys: record from now on, no restart."""
                if keys_state(box) != "ready":
                    return []
                started = self._cameras.enable_recording((store, GapLog(box.sessions, self.clock)))
                log.info("owner keys made: recording started", extra={"cameras": started})
                return started

            config_file = self.config_path or default_config_path(cfg.storage.data_dir)
            setup_code = await asyncio.to_thread(self._setup_code, accounts.owner_exists())
            # Open event streams end before the servers stop (uvicorn waits for them).
            streams = EventStreams(self.events_bus)
            exports = exports_for(box, lambda: store, self.clock, lambda: self.cfg)
            app = create_app(
                status=self.status,
                accounts=accounts,
                segments=lambda: store,
                record=box.record,
                doorbell=self._doorbell_router(box),
                events=EventsSource(
                    store=lambda: events,
                    gaps=lambda camera: gaps(box.sessions, camera),
                    cameras=lambda: known_cameras(box.sessions),
                    streams=streams,
                ),
                setup=SetupFlow(box, setup_code, on_keys, self.work_factor),
                cameras=CameraAdmin(
                    config_file,
                    self._cameras,
                    box.record,
                    on_change=self._cameras_changed,
                ),
                live=live,
                sharing=Sharing(
                    db=box.sessions,
                    requests=RequestLog(box.sessions, box.record, self.clock),
                    paperwork=Paperwork(
                        cfg.storage.data_dir, box.sessions, box.keys.recipients, self.clock
                    ),
                    record=box.record,
                    clock=self.clock,
                    audit=box.audit,
                    exports=exports,
                    privacy_masks=config_masks(lambda: self.cfg.cameras),
                ),
                settings=Settings(
                    db=box.sessions,
                    keys=box.keys,
                    audit=box.audit,
                    record=box.record,
                    clock=self.clock,
                    retention=RetentionEditor(
                        config_file,
                        cfg.storage,
                        apply=lambda storage: apply_retention(retainer, storage),
                    ),
                ),
            )
            bound = make_servers(cfg.server, app, tls_files.cert, tls_files.key)
            metrics_url = None
            if cfg.metrics.enabled:
                # Imported only here: prometheus-client is not loaded when metrics are off.
                from nvr.service.metrics import build_registry, metrics_app

                registry = build_registry(self.status, lambda: store, cfg.storage.data_dir)
                host, mport = cfg.metrics.address()
                try:
                    msrv, msock = make_metrics_server(host, mport, metrics_app(registry))
                except UserError:
                    for _, sock in bound:
                        sock.close()
                    raise
                bound.append((msrv, msock))
                shown = f"[{host}]" if ":" in host else host
                metrics_url = f"http://{shown}:{msock.getsockname()[1]}/metrics"
            servers = [server for server, _ in bound]
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            tasks = [asyncio.create_task(srv.serve(sockets=[sock])) for srv, sock in bound]
            await wait_started(servers, tasks)
            jobs = [
                Job("unlock-expiry", SWEEP_EVERY_SECONDS, unlock.sweep),
                Job("session-expiry", SWEEP_EVERY_SECONDS, accounts.sessions.sweep),
                Job(
                    "retention", RETENTION_EVERY_SECONDS, lambda: self._retention(retainer, events)
                ),
                Job(
                    "audit-checkpoint",
                    CHECKPOINT_TICK_SECONDS,
                    AuditCheckpointer(box.audit, box.sessions, self.clock).tick,
                ),
            ]
            if exports.links is not None:
                # Share links that ended (expired, used up, revoked, consent ended): their
                # stored bundles are deleted (nvr.sharing.links).
                jobs.append(Job("share-link-expiry", LINK_SWEEP_SECONDS, exports.links.sweep))
            tasks.append(asyncio.create_task(run_housekeeping(jobs, stop)))
            # MQTT and webhooks, only when configured (nothing connects otherwise). Not one
            # of ``tasks``: a broker that is away must not stop the service.
            notifier = Notifier.from_config(
                cfg.notifications,
                self.events_bus,
                self._cameras.statuses,
                box.device_id,
                __version__,
                doorbell_topics=lambda: {
                    c.name: c.doorbell_topic for c in self.cfg.cameras if c.doorbell_topic
                },
                on_press=lambda camera: self._camera_event(
                    "doorbell", camera, self.clock.wall(), "mqtt"
                ),
            )
            self.notifier = notifier  # its stats() are for status pages and metrics
            if notifier is not None:
                notifying = asyncio.create_task(notifier.run(notify_stop))
            port = servers[0].config.port
            url = public_url(cfg.server.bind, port)
            setup_url = None if setup_code is None else f"{url}setup?code={setup_code.display}"
            ready = Ready(url, port, tls_files.fingerprint, self.demo, setup_url, metrics_url)
            if setup_url is not None:
                # The one place the code is shown (and in <data_dir>/setup-code, 0600).
                log.warning(
                    "first run: no owner yet; finish the setup from this network at %s "
                    "(use this box's LAN address or %s.local instead of %s if needed)",
                    setup_url,
                    socket.gethostname(),
                    url.split("/")[2].rsplit(":", 1)[0],
                )
            elif recovery_pending(cfg.storage.data_dir):
                log.warning(
                    "the owner never confirmed storing the recovery key: if it is lost, "
                    "make a new one with 'nvr keys rotate --recovery-file FILE'"
                )
            log.info(
                "serving dashboard", extra={"url": ready.url, "tls_sha256": ready.tls_fingerprint}
            )
            if metrics_url is not None:
                log.info("serving metrics", extra={"url": metrics_url})
            if self.on_ready:
                self.on_ready(ready)
            self.systemd.send("READY=1", f"STATUS=serving {ready.url}")
            period = watchdog_seconds()
            if period is not None:
                self.watchdog = Watchdog(self.systemd, period, self._cameras.stalled)
                tasks.append(asyncio.create_task(self.watchdog.run(stop)))
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            log.info("stopping")
            self.systemd.send("STOPPING=1", "STATUS=stopping")
            stop.set()
            streams.close()
            for s in servers:
                s.should_exit = True
            waiter.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            unlock.lock_all("shutdown")
            if live is not None:
                await live.close()  # every viewer's peer connection, before the readers
            await self._cameras.stop()
            await self._hub.close()  # motion events the workers ended while stopping
            if notifying is not None:
                # Those events too, then the notifier signs off (MQTT: "offline").
                notify_stop.set()
                done, _ = await asyncio.wait([notifying], timeout=NOTIFY_SIGN_OFF_SECONDS)
                if not done:
                    notifying.cancel()
                    await asyncio.gather(notifying, return_exceptions=True)
            if run_id is not None:
                await asyncio.to_thread(self._record_stop, box, run_id)
            box.close()
            log.info("stopped cleanly")

    def _setup_code(self, owner_exists: bool) -> SetupCode | None:
        """A fresh one-time setup code while no owner exists (a stale file goes)."""
        if owner_exists:
            (self.cfg.storage.data_dir / CODE_FILE).unlink(missing_ok=True)
            return None
        return SetupCode.create(self.cfg.storage.data_dir)

    def _cameras_changed(self, cameras: list[CameraConfig]) -> None:
        """The dashboard changed the cameras: the status and later look-ups see them."""
        self.cfg = self.cfg.model_copy(update={"cameras": cameras})

    def _camera_device(self, camera: str, identity: DeviceIdentity) -> None:
        """A camera said what it is: a ``camera.device`` audit entry when new or changed."""
        box = self._box
        if box is None:
            return
        seq = remember(box.sessions, box.record, camera, identity, box.device_id)
        if seq is not None:
            log.info(
                "camera %s reported %s %s, firmware %s",
                camera,
                identity.manufacturer,
                identity.model,
                identity.firmware,
                extra={"camera": camera, "audit_seq": seq},
            )

    def _clock_jump(self, camera: str, seconds: float) -> None:
        """A recorder saw the box's wall clock step (from its thread): a ``clock.jump``
        audit entry (SHARING.md lists clock jumps among what the audit log keeps), so
        footage times around it can be judged later."""
        box = self._box
        if box is None:
            return
        seq = box.record("clock.jump", {"camera": camera, "seconds": round(seconds)})
        log.warning(
            "the wall clock jumped by %+.1f s (seen recording %s)",
            seconds,
            camera,
            extra={"camera": camera, "audit_seq": seq},
        )

    def _camera_event(self, kind: EventKind, camera: str, when: datetime, topic: str) -> None:
        """A doorbell press (ONVIF, the signed webhook, or a camera's ``doorbell_topic`` on
        MQTT) or camera-side motion (ONVIF):
        record around it, publish it and keep it as a sealed event (``EventHub``: the
        disk work goes to a thread). Called on the event loop."""
        self._cameras.trigger(camera)
        log.info("camera event", extra={"camera": camera, "kind": kind})
        source = topic if topic in ("webhook", "mqtt") else "onvif"
        self._hub.instant(kind, camera, when, {"source": source, "topic": topic})

    def _doorbell_router(self, box: Box) -> APIRouter | None:
        """The signed-press webhook, only when some camera has ``doorbell_webhook``."""
        webhooks = {
            c.name: c.doorbell_webhook.secret for c in self.cfg.cameras if c.doorbell_webhook
        }
        if not webhooks:
            return None
        return doorbell_router(
            webhooks.get,
            lambda camera, when: self._camera_event("doorbell", camera, when, "webhook"),
            self.clock,
            audit=box.record,
        )

    def _retention(self, retainer: Retainer, events: EventStore) -> None:
        retainer.run(self.clock.wall())
        events.expire(retainer.settings.per_camera, retainer.settings.default)

    def _record_start(self, box: Box) -> int:
        now = self.clock.wall()

        def begin() -> tuple[list[repo.RunRecord], int]:
            with box.sessions.begin() as session:
                unclean = repo.unclean_previous_runs(session)
                run_id = repo.start_run(session, __version__, now)
                repo.ensure_cameras(session, camera_names(self.cfg, self.demo), now)
            return unclean, run_id

        # The first write: another process holding the database (a backup, an sqlite3
        # shell) is waited out for a while, with a log line per try, then refused plainly.
        try:
            unclean, run_id = retry_locked(begin, "recording the service start")
        except OperationalError as exc:
            if not is_locked(exc):
                raise
            raise UserError(
                f"database {mask_url(self.cfg.database_url())} is locked by another process",
                hint="stop whatever holds it (an open sqlite3 shell, a backup) and start again",
            ) from exc
        box.record(
            "service.start",
            {"version": __version__, "run": run_id, "unclean_previous_runs": len(unclean)},
        )
        if unclean:
            log.warning(
                "previous run did not stop cleanly (power cut or crash?)",
                extra={"unclean_runs": len(unclean)},
            )
        return run_id

    def _record_stop(self, box: Box, run_id: int) -> None:
        with box.sessions.begin() as session:
            repo.finish_run(session, run_id, self.clock.wall())
        box.record("service.stop", {"run": run_id})
        box.audit.checkpoint()

    def _tls(self) -> tls.TlsFiles:
        t = self.cfg.server.tls
        if t.mode == "files" and t.cert is not None and t.key is not None:
            return tls.load_owner_files(t.cert, t.key)
        return tls.ensure_self_signed(
            self.cfg.storage.data_dir / "tls",
            cert_hostnames(self.cfg.server.bind),
            self.clock.wall(),
        )
