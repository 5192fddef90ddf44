"""Running uvicorn servers under the service's own signal handling.

uvicorn normally installs SIGTERM/SIGINT handlers and re-raises the signal after its own
shutdown, which would kill the process before the service stops its cameras and closes its
database. Here the runner owns the signals and tells the servers when to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from nvr.config import ServerConfig
from nvr.errors import UserError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ManagedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def https_redirect_app(https_port: int) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A minimal ASGI app that answers every plain-HTTP request with a redirect to HTTPS."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"localhost").decode("latin-1")
        name, sep, port = host.rpartition(":")
        if sep and port.isdigit() and not name.endswith(":"):
            host = name  # drop the plain-HTTP port; "[::1]:80" -> "[::1]"
        path = scope.get("raw_path") or scope.get("path", "/").encode()
        query = scope.get("query_string", b"")
        location = f"https://{host}:{https_port}{path.decode('latin-1')}"
        if query:
            location += "?" + query.decode("latin-1")
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def make_servers(
    server_cfg: ServerConfig, app: ASGIApp, cert: Path, key: Path
) -> list[tuple[ManagedServer, socket.socket]]:
    """The HTTPS server (and the optional plain-HTTP redirect) on sockets bound here."""
    try:
        sock = bind_socket(server_cfg.bind, server_cfg.port)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {server_cfg.bind}:{server_cfg.port}: {exc.strerror}",
            hint="another program may use that port: pass --port N",
        ) from exc
    common: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "lifespan": "off",
        "server_header": False,
        "proxy_headers": False,
        "host": server_cfg.bind,
    }
    main = ManagedServer(
        uvicorn.Config(
            app, ssl_certfile=str(cert), ssl_keyfile=str(key), port=sock.getsockname()[1], **common
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
                https_redirect_app(sock.getsockname()[1]), port=rsock.getsockname()[1], **common
            )
        )
        servers.append((redirect, rsock))
    return servers


def make_metrics_server(
    host: str, port: int, app: Callable[[Scope, Receive, Send], Awaitable[None]]
) -> tuple[ManagedServer, socket.socket]:
    """The plain-HTTP metrics listener (``metrics.listen``: loopback only, checked by the
    config) for ``nvr.service.metrics.metrics_app``."""
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise UserError(
            f"cannot listen for metrics on {host}:{port}: {exc.strerror}",
            hint="another program may use that port: change metrics.listen",
        ) from exc
    server = ManagedServer(
        uvicorn.Config(
            app,
            host=host,
            port=sock.getsockname()[1],
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
        )
    )
    return server, sock


async def wait_started(servers: list[ManagedServer], tasks: list[asyncio.Task[None]]) -> None:
    """Return once every server listens; re-raise if one died during start-up."""
    while not all(s.started for s in servers):
        done = [t for t in tasks if t.done()]
        if done:
            done[0].result()
            raise UserError("the web server stopped during start-up")
        await asyncio.sleep(0.02)
