"""The service: one object that starts every long-lived part and stops them in order.

Start-up, in order: data directory (0700) → database migrations → service run row and
camera registration → TLS certificate → camera ingest (and the demo doorbell when it is
on) → HTTPS server (and the optional plain-HTTP redirect). SIGTERM or SIGINT stops the
servers, then the cameras, then marks the run cleanly stopped, and ``run()`` returns.

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
from typing import Literal

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from nvr import __version__
from nvr.capture import StreamReader
from nvr.clock import Clock
from nvr.config import Config
from nvr.db import engine as db_engine
from nvr.db import migrate, repo
from nvr.demo.rtsp_server import DemoDoorbell
from nvr.errors import UserError
from nvr.secrets import mask_url
from nvr.service.http import ManagedServer, bind_socket, https_redirect_app
from nvr.service.status import CameraStatus, ServiceStatus
from nvr.web import tls
from nvr.web.app import create_app

log = logging.getLogger(__name__)

DEMO_CAMERA = "demo-doorbell"
# Wildcard bind addresses: compared against, never bound here.
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104


@dataclass(frozen=True)
class Ready:
    """What the service tells its caller once it is serving."""

    url: str
    port: int
    tls_fingerprint: str
    demo: bool


def prepare_data_dir(path: Path) -> None:
    """Create the data directory private to the service user, or say why it can't be used."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UserError(
            f"cannot create data directory {path}: {exc.strerror}",
            hint="pass --data-dir DIR or set storage.data_dir to a writable folder",
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(
            f"data directory {path} is not writable by this user",
            hint="fix its owner/permissions or pass --data-dir DIR",
        )


def cert_hostnames(bind: str) -> list[str]:
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), f"{socket.gethostname()}.local"]
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


class Service:
    def __init__(
        self,
        cfg: Config,
        *,
        clock: Clock,
        demo: bool = False,
        on_ready: Callable[[Ready], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.demo = demo or cfg.demo_wanted()
        self.on_ready = on_ready
        self.started_at: datetime = clock.wall()
        self._started_mono = clock.monotonic()
        self._readers: list[tuple[StreamReader, bool]] = []
        self._unsupported: list[CameraStatus] = []
        self._tls_fingerprint: str | None = None

    # -- status -------------------------------------------------------------------------
    def status(self) -> ServiceStatus:
        cams = [self._camera_status(reader, is_demo) for reader, is_demo in self._readers]
        return ServiceStatus(
            version=__version__,
            started_at=self.started_at,
            uptime_seconds=round(self.clock.monotonic() - self._started_mono, 3),
            tls_fingerprint=self._tls_fingerprint,
            cameras=cams + self._unsupported,
        )

    @staticmethod
    def _camera_status(reader: StreamReader, is_demo: bool) -> CameraStatus:
        h = reader.health()
        return CameraStatus(
            name=h.name,
            state=h.state,
            demo=is_demo,
            codec=h.codec,
            width=h.width,
            height=h.height,
            fps=None if h.fps is None else round(h.fps, 2),
            bitrate_kbps=None if h.bitrate is None else round(h.bitrate / 1000, 1),
            packets=h.packets,
            last_packet_at=h.last_packet_at,
            reconnects=h.reconnects,
            last_error=h.last_error,
        )

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or SIGTERM/SIGINT arrives."""
        stop = stop or asyncio.Event()
        cfg = self.cfg
        data_dir = cfg.storage.data_dir
        prepare_data_dir(data_dir)
        url = cfg.database_url()
        log.info("opening database", extra={"url": mask_url(url)})
        await asyncio.to_thread(migrate.upgrade, url)
        engine = db_engine.make_engine(url)
        sessions = sessionmaker(engine)
        demo: DemoDoorbell | None = None
        loop = asyncio.get_running_loop()
        run_id: int | None = None
        try:
            run_id = self._record_start(sessions)
            tls_files = self._tls()
            self._tls_fingerprint = tls_files.fingerprint
            if self.demo:
                demo = DemoDoorbell()
                await demo.start()
                self._add_reader(DEMO_CAMERA, demo.url, "tcp", is_demo=True)
                log.info("demo doorbell running", extra={"camera": DEMO_CAMERA})
            for cam in cfg.cameras:
                cam_url = cam.stream_url("main")
                if cam_url is None:
                    # ONVIF-only cameras get their stream URIs from the device (capture issue).
                    log.warning(
                        "camera has no RTSP URL; ONVIF lookup is not available yet",
                        extra={"camera": cam.name},
                    )
                    self._unsupported.append(
                        CameraStatus(
                            name=cam.name,
                            state="unsupported",
                            last_error="ONVIF-only camera: set main_url for now",
                        )
                    )
                    continue
                self._add_reader(cam.name, cam_url, cam.transport, is_demo=False)
            for reader, _ in self._readers:
                reader.start()

            bound = self._make_servers(tls_files)
            servers = [server for server, _ in bound]
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            tasks = [asyncio.create_task(srv.serve(sockets=[sock])) for srv, sock in bound]
            await self._wait_started(servers, tasks)
            port = servers[0].config.port
            ready = Ready(public_url(cfg.server.bind, port), port, tls_files.fingerprint, self.demo)
            log.info(
                "serving dashboard", extra={"url": ready.url, "tls_sha256": ready.tls_fingerprint}
            )
            if self.on_ready:
                self.on_ready(ready)
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            log.info("stopping")
            for s in servers:
                s.should_exit = True
            waiter.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await asyncio.gather(*(asyncio.to_thread(r.stop) for r, _ in self._readers))
            if demo is not None:
                await demo.stop()
            if run_id is not None:
                with sessions.begin() as session:
                    repo.finish_run(session, run_id, self.clock.wall())
            engine.dispose()
            log.info("stopped cleanly")

    def _add_reader(
        self, name: str, url: str, transport: Literal["tcp", "udp"], *, is_demo: bool
    ) -> None:
        reader = StreamReader(name, url, transport=transport, clock=self.clock)
        self._readers.append((reader, is_demo))

    def _record_start(self, sessions: sessionmaker[Session]) -> int:
        names = [c.name for c in self.cfg.cameras] + ([DEMO_CAMERA] if self.demo else [])
        now = self.clock.wall()
        with sessions.begin() as session:
            unclean = repo.unclean_previous_runs(session)
            run_id = repo.start_run(session, __version__, now)
            repo.ensure_cameras(session, names, now)
        if unclean:
            log.warning(
                "previous run did not stop cleanly (power cut or crash?)",
                extra={"unclean_runs": len(unclean)},
            )
        return run_id

    def _tls(self) -> tls.TlsFiles:
        t = self.cfg.server.tls
        if t.mode == "files" and t.cert is not None and t.key is not None:
            return tls.load_owner_files(t.cert, t.key)
        return tls.ensure_self_signed(
            self.cfg.storage.data_dir / "tls",
            cert_hostnames(self.cfg.server.bind),
            self.clock.wall(),
        )

    def _make_servers(self, tls_files: tls.TlsFiles) -> list[tuple[ManagedServer, socket.socket]]:
        server_cfg = self.cfg.server
        try:
            sock = bind_socket(server_cfg.bind, server_cfg.port)
        except OSError as exc:
            raise UserError(
                f"cannot listen on {server_cfg.bind}:{server_cfg.port}: {exc.strerror}",
                hint="another program may use that port: pass --port N",
            ) from exc
        app = create_app(status=self.status)
        main = ManagedServer(
            uvicorn.Config(
                app,
                ssl_certfile=str(tls_files.cert),
                ssl_keyfile=str(tls_files.key),
                log_config=None,
                access_log=False,
                lifespan="off",
                server_header=False,
                proxy_headers=False,
                port=sock.getsockname()[1],
                host=server_cfg.bind,
            )
        )
        servers = [(main, sock)]
        if server_cfg.http_redirect_port is not None:
            try:
                rsock = bind_socket(server_cfg.bind, server_cfg.http_redirect_port)
            except OSError as exc:
                sock.close()
                raise UserError(
                    f"cannot listen on {server_cfg.bind}:{server_cfg.http_redirect_port}: "
                    f"{exc.strerror}"
                ) from exc
            redirect = ManagedServer(
                uvicorn.Config(
                    https_redirect_app(sock.getsockname()[1]),
                    log_config=None,
                    access_log=False,
                    lifespan="off",
                    server_header=False,
                    port=rsock.getsockname()[1],
                )
            )
            servers.append((redirect, rsock))
        return servers

    @staticmethod
    async def _wait_started(servers: list[ManagedServer], tasks: list[asyncio.Task[None]]) -> None:
        while not all(s.started for s in servers):
            done = [t for t in tasks if t.done()]
            if done:
                done[0].result()  # re-raise why a server died during start-up
                raise UserError("the web server stopped during start-up")
            await asyncio.sleep(0.02)
