"""``nvr cameras``: add, list and remove the cameras of the config file.

``add`` checks the camera first (connects, decodes a frame, prints ``NAME: h264 1920x1080 @
15 fps``; for ``--onvif`` it first asks the camera for its make, model and stream URIs
with ``nvr.onvif.probe_device``; ``--no-check`` skips all this), then writes it into the
config (an ONVIF camera as its ``onvif:`` block: the service asks it for its streams) with
``nvr.config.edit`` (comments kept, the file created if missing, validated before it is
replaced). Passwords never go into the config nor come from the command line: they are
read from ``--password-file`` (or lifted out of ``--url``'s ``user:password@``), stored in
the secrets file beside the config (mode 0600) as ``<name>_password`` and referenced as
``!secret <name>_password``. Nothing printed contains a password.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import typer

from nvr.capture.policy import Transport
from nvr.capture.probe import probe
from nvr.cli import options
from nvr.config import load_config, locate_config
from nvr.config.cameras import CAMERA_NAME
from nvr.config.edit import SecretRef, add_camera, camera_names, remove_camera, secrets_path
from nvr.config.loader import DEFAULT_SEARCH
from nvr.errors import UserError
from nvr.keys.passphrase import read_passphrase_file, wipe
from nvr.secrets import scrub

app = typer.Typer(
    no_args_is_help=True,
    help="Add, list and remove cameras in the config file.",
)

RECORD_MODES = ("continuous", "events", "off")
TRANSPORTS: tuple[str, ...] = get_args(Transport)
ONVIF_TIMEOUT = 10.0  # seconds for the whole ONVIF exchange


def split_credentials(url: str, what: str) -> tuple[str, str | None, str | None]:
    """``url`` without its ``user:password@``, the user name and the password (decoded)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        # Never echo the URL: a bad "port" is often half a password.
        raise UserError(
            f"{what} is not a valid URL",
            hint="percent-encode '/', '?', '#', ':' and '@' in the user name or password",
        ) from None
    if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
        raise UserError(f"{what} must be an rtsp:// or rtsps:// URL with a host")
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, user or None, password or None


def with_credentials(url: str, user: str | None, password: str | None) -> str:
    """``url`` with ``user:password@`` put in (percent-encoded), for connecting."""
    if user is None:
        return url
    parts = urlsplit(url)
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def parse_host_port(text: str, default_port: int = 80) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[v6]`` or ``[v6]:PORT`` -> (host, port)."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            host = ""
        port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or any(c in host for c in "/@ "):
        raise UserError(f"--onvif {text!r}: expected HOST or HOST:PORT")
    if not port:
        return host, default_port
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UserError(f"--onvif {text!r}: the port must be a number from 1 to 65535")
    return host, int(port)


def _read_password(path: Path) -> str:
    buf = read_passphrase_file(path)
    try:
        return bytes(buf).decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"password file {path} is not UTF-8 text") from None
    finally:
        wipe(buf)


def _config_to_edit(config: Path | None) -> Path:
    if config is not None:
        if config.is_dir():
            raise UserError(f"config file {config} is a directory")
        return config
    found = locate_config(None)
    if found is None:
        raise UserError(
            "no config file found to add the camera to",
            hint="name the file to create or edit with --config FILE",
        )
    return found


def _existing_config(config: Path | None) -> Path:
    found = locate_config(config, search=DEFAULT_SEARCH)
    if found is None:
        raise UserError("no config file found", hint="name it with --config FILE")
    return found


def _choice(value: str, option: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UserError(f"{option} must be one of {', '.join(choices)}, not {value!r}")
    return value


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="Short id: a-z, 0-9, '_', '-'.")],
    url: Annotated[
        str | None, typer.Option("--url", help="RTSP URL of the main (recorded) stream.")
    ] = None,
    sub_url: Annotated[
        str | None, typer.Option("--sub-url", help="RTSP URL of the low-resolution stream.")
    ] = None,
    onvif: Annotated[
        str | None,
        typer.Option("--onvif", metavar="HOST[:PORT]", help="Reach the camera over ONVIF."),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Camera user name.")] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file",
            dir_okay=False,
            help="File holding the camera password (mode 0600). Never give it as an argument.",
        ),
    ] = None,
    transport: Annotated[str, typer.Option("--transport", help="tcp or udp.")] = "tcp",
    record: Annotated[
        str, typer.Option("--record", help="continuous, events or off.")
    ] = "continuous",
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Do not connect to the camera first.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", dir_okay=False, help="Config file to edit (created if missing)."
        ),
    ] = None,
) -> None:
    """Check a camera, then add it to the config file."""
    if not CAMERA_NAME.fullmatch(name):
        raise UserError(
            f"{name!r} is not a valid camera name",
            hint="use 1-32 of a-z, 0-9, '_' and '-', starting with a letter or digit",
        )
    _choice(transport, "--transport", TRANSPORTS)
    _choice(record, "--record", RECORD_MODES)
    if (url is None) == (onvif is None):
        raise UserError("give either --url or --onvif", hint="see 'nvr cameras add --help'")
    if sub_url is not None and url is None:
        raise UserError("--sub-url goes with --url; ONVIF cameras report their streams")
    password = None if password_file is None else _read_password(password_file)
    if password is not None and user is None and url is None:
        raise UserError("--password-file needs --user")
    path = _config_to_edit(config)
    if path.exists():
        load_config(path)  # a config that is already broken is reported before anything else
    if name in camera_names(path):  # before connecting: the camera may be slow to answer
        raise UserError(
            f"a camera named {name!r} is already in {path}",
            hint=f"choose another --name, or first: nvr cameras remove {name} --config {path}",
        )
    secret = f"{name}_password"
    camera: dict[str, Any] = {"name": name}
    if url is not None:
        main, user, password = _merge(split_credentials(url, "--url"), user, password)
        sub = None
        if sub_url is not None:
            sub, sub_user, sub_password = split_credentials(sub_url, "--sub-url")
            if sub_user not in (None, user) or sub_password not in (None, password):
                raise UserError(
                    "--sub-url carries other credentials than --url",
                    hint="a camera has one user name and password for both streams",
                )
        if not no_check:
            mode: Transport = "udp" if transport == "udp" else "tcp"
            for stream, label in ((main, name), (sub, f"{name} (sub-stream)")):
                if stream is not None:
                    found = probe(with_credentials(stream, user, password), transport=mode)
                    typer.echo(f"{label}: {found.summary()}")
        camera |= {"main_url": main, "sub_url": sub, "username": user}
    else:
        assert onvif is not None
        host, port = parse_host_port(onvif)
        if not no_check:
            _check_onvif(name, host, port, user, password, transport)
        camera["onvif"] = {
            "host": host,
            "port": port,
            "username": user,
            "password": None if password is None else SecretRef(secret),
        }
    if password is not None and url is not None:
        camera["password"] = SecretRef(secret)
    camera |= {"transport": transport, "record": record}
    add_camera(path, camera, secrets={secret: password} if password is not None else None)
    typer.echo(f"added camera {name} to {path}")
    if password is not None:
        typer.echo(f"its password is in {secrets_path(path)} as {secret} (mode 0600)")


def _check_onvif(
    name: str, host: str, port: int, user: str | None, password: str | None, transport: str
) -> None:
    """Ask the camera what it is and for its streams, then read a frame of the main one."""
    # Imported here: the ONVIF stack (zeep, aiohttp) is only needed by this path.
    from nvr.onvif import probe_device

    device = asyncio.run(probe_device(host, port, user, password, timeout=ONVIF_TIMEOUT))
    what = " ".join(part for part in (device.manufacturer, device.model) if part) or "camera"
    typer.echo(f"{name}: {what} (ONVIF {host}:{port})")
    if device.main is None or device.main.uri is None:
        raise UserError(
            f"{host}:{port}: the camera reports no RTSP stream",
            hint="give the stream with --url instead of --onvif",
        )
    creds = device.credentials
    stream_user = creds.username if creds else user
    stream_password = creds.password.reveal() if creds else password
    mode: Transport = "udp" if transport == "udp" else "tcp"
    for profile, label in ((device.main, name), (device.sub, f"{name} (sub-stream)")):
        if profile is not None and profile.uri is not None:
            real = with_credentials(profile.uri, stream_user, stream_password)
            summary = probe(real, transport=mode).summary()
            typer.echo(f"{label}: {summary}  {scrub(profile.uri)}")


def _merge(
    parsed: tuple[str, str | None, str | None], user: str | None, password: str | None
) -> tuple[str, str | None, str | None]:
    bare, url_user, url_password = parsed
    if url_user is not None and user is not None and url_user != user:
        raise UserError("--user differs from the user name in --url; give it once")
    if url_password is not None and password is not None:
        raise UserError("--url holds a password and --password-file gives one; give it once")
    user = user or url_user
    password = password if password is not None else url_password
    if password is not None and user is None:
        raise UserError("a password needs a user name", hint="add --user NAME")
    return bare, user, password


@app.command("list")
def list_(config: Path | None = options.CONFIG) -> None:
    """List the cameras of the config file (passwords masked)."""
    path = _existing_config(config)
    cameras = load_config(path).cameras
    if not cameras:
        typer.echo(f"no cameras in {path}")
        return
    rows = [("NAME", "SOURCE", "RECORD", "TRANSPORT")]
    for camera in cameras:
        if camera.onvif is not None:
            source = f"onvif://{camera.onvif.host}:{camera.onvif.port}"
        else:
            source = str(camera.main_url)
        rows.append((camera.name, source, camera.record, camera.transport))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[3]]))


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Name of the camera to remove.")],
    config: Path | None = options.CONFIG,
) -> None:
    """Remove a camera from the config file; its recorded footage is kept."""
    path = _existing_config(config)
    remove_camera(path, name)
    typer.echo(f"removed camera {name} from {path}")
    typer.echo(
        "its recorded footage stays in the data directory until retention deletes it; "
        "restart the service to stop recording it"
    )
