"""``nvr cameras discover``: list ONVIF cameras answering a WS-Discovery probe.

``discover_command`` is a plain Typer-compatible function; the ``cameras`` sub-app
registers it (``app.command("discover")(discover_command)``). It probes only the LAN
interface the user names, never every interface, and prints one line per camera:
the device service URL, then the name and hardware its scopes give.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    # nvr.onvif loads zeep, lxml and aiohttp: only ``discover`` needs them, not every
    # ``nvr`` command (nor the service, which imports this package).
    from nvr.onvif.discovery import DiscoveredDevice

INTERFACE = typer.Option(
    ...,
    "--interface",
    "-i",
    help="The LAN interface to probe on (e.g. eth0); nothing is sent anywhere else.",
)
TIMEOUT = typer.Option(
    3.0, "--timeout", min=0.1, max=60.0, help="Seconds to wait for cameras to answer."
)


def describe(device: DiscoveredDevice) -> str:
    """One line per camera: URL, then what its scopes say."""
    parts = [device.xaddrs[0]]
    if device.name:
        parts.append(f"name={device.name}")
    if device.hardware:
        parts.append(f"hardware={device.hardware}")
    return "  ".join(parts)


def discover_command(interface: str = INTERFACE, timeout: float = TIMEOUT) -> None:
    """Find ONVIF cameras on one LAN interface (WS-Discovery)."""
    from nvr.onvif.discovery import discover

    devices = asyncio.run(discover(interface, timeout))
    if not devices:
        typer.echo(f"No ONVIF camera answered on {interface} within {timeout:g} s.")
        return
    for device in devices:
        typer.echo(describe(device))
    typer.echo(
        f"{len(devices)} camera(s). Add one with: nvr cameras add --onvif HOST[:PORT] --name NAME"
    )
