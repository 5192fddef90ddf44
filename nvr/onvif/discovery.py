"""WS-Discovery: find ONVIF cameras on one named LAN interface.

Contract:

- ``await discover(interface, timeout)`` multicasts one WS-Discovery ``Probe`` for
  ``dn:NetworkVideoTransmitter`` to 239.255.255.250:3702 *out of ``interface`` only*
  (``SO_BINDTODEVICE`` plus ``IP_MULTICAST_IF`` with that interface's IPv4 address, TTL 1),
  listens ``timeout`` seconds for unicast ``ProbeMatch`` answers and returns one
  ``DiscoveredDevice`` per endpoint (merged if it answered twice), sorted by address.
  A missing interface or one without IPv4 is a ``UserError``; it never falls back to
  another interface, so a probe cannot leak onto a network the user did not name.
- ``build_probe(message_id)`` and ``parse_probe_matches(datagram)`` are pure: bytes in,
  values out. Datagrams carrying a DTD are dropped unparsed (entity expansion attacks
  from anyone on the LAN); anything else malformed is ignored.
- WS-Discovery (OASIS, 2005/04 namespace as ONVIF uses it; the schema ships with
  onvif-zeep-async as ``wsdl/ws-discovery.xsd``). onvif-zeep-async itself has no probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote

from nvr.errors import UserError

GROUP = "239.255.255.250"
PORT = 3702
_SIOCGIFADDR = 0x8915
_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}
_ONVIF_SCOPE = "onvif://www.onvif.org/"


@dataclass(frozen=True)
class DiscoveredDevice:
    address: str  # the endpoint reference (usually urn:uuid:...), stable per device
    xaddrs: tuple[str, ...]  # device service URLs, e.g. http://192.0.2.10/onvif/device_service
    scopes: tuple[str, ...] = field(default=())
    name: str | None = None
    hardware: str | None = None


def build_probe(message_id: str) -> bytes:
    """A WS-Discovery Probe for ONVIF video transmitters."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:d="{NS["d"]}"'
        ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        "<s:Header>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        '<a:To s:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        f'<a:Action s:mustUnderstand="true">{NS["d"]}/Probe</a:Action>'
        "</s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def scope_value(scopes: tuple[str, ...], kind: str) -> str | None:
    """The decoded value of ``onvif://www.onvif.org/<kind>/<value>`` among ``scopes``."""
    prefix = f"{_ONVIF_SCOPE}{kind}/"
    for scope in scopes:
        if scope.startswith(prefix) and len(scope) > len(prefix):
            return unquote(scope[len(prefix) :])
    return None


def parse_probe_matches(datagram: bytes) -> list[DiscoveredDevice]:
    """The devices in one ProbeMatches datagram; [] for anything else."""
    if b"<!DOCTYPE" in datagram or b"<!ENTITY" in datagram:
        return []
    try:
        root = ET.fromstring(datagram)  # noqa: S314 (no DTD can reach here, see above)
    except ET.ParseError:
        return []
    found = []
    # ProbeMatches/ProbeMatch per the spec; some devices (ipycam) omit the wrapper.
    for match in root.iterfind("s:Body//d:ProbeMatch", NS):
        # a:EndpointReference per the spec; ipycam puts it in the discovery namespace.
        address = (match.findtext("*/a:Address", "", NS) or "").strip()
        xaddrs = tuple((match.findtext("d:XAddrs", "", NS) or "").split())
        scopes = tuple((match.findtext("d:Scopes", "", NS) or "").split())
        if not xaddrs:
            continue
        found.append(
            DiscoveredDevice(
                address=address or xaddrs[0],
                xaddrs=xaddrs,
                scopes=scopes,
                name=scope_value(scopes, "name"),
                hardware=scope_value(scopes, "hardware"),
            )
        )
    return found


def interface_ipv4(interface: str) -> str:
    """The primary IPv4 address of ``interface``; UserError if it has none or is unknown."""
    if not interface or len(interface.encode()) > 15 or "/" in interface:
        raise UserError(f"not a network interface name: {interface!r}")
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise UserError(
            f"no network interface named {interface!r}",
            hint="list them with `ip -brief address`; name the one on the cameras' LAN",
        ) from None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(
                sock.fileno(), _SIOCGIFADDR, struct.pack("256s", interface.encode()[:15])
            )
        except OSError:
            raise UserError(f"network interface {interface!r} has no IPv4 address") from None
    return socket.inet_ntoa(packed[20:24])


def _probe_socket(interface: str) -> socket.socket:
    address = interface_ipv4(interface)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        # Both: BINDTODEVICE pins sends and receives to the interface (needs root or
        # CAP_NET_RAW); MULTICAST_IF alone already picks the outgoing interface.
        with contextlib.suppress(PermissionError):
            sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, interface.encode())
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.bind((address, 0))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _merge(seen: dict[str, DiscoveredDevice], device: DiscoveredDevice) -> None:
    old = seen.get(device.address)
    if old is None:
        seen[device.address] = device
        return
    seen[device.address] = DiscoveredDevice(
        address=old.address,
        xaddrs=tuple(dict.fromkeys(old.xaddrs + device.xaddrs)),
        scopes=tuple(dict.fromkeys(old.scopes + device.scopes)),
        name=old.name or device.name,
        hardware=old.hardware or device.hardware,
    )


async def discover(interface: str, timeout: float = 3.0) -> list[DiscoveredDevice]:
    """Probe for ONVIF cameras on ``interface`` and collect answers for ``timeout`` s."""
    loop = asyncio.get_running_loop()
    message_id = f"urn:uuid:{uuid.uuid4()}"
    seen: dict[str, DiscoveredDevice] = {}
    with _probe_socket(interface) as sock:
        probe = build_probe(message_id)
        # UDP may drop one; devices answer each copy and we merge by endpoint.
        for _ in range(2):
            await loop.sock_sendto(sock, probe, (GROUP, PORT))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(left):
                    data, _sender = await loop.sock_recvfrom(sock, 65535)
            except TimeoutError:
                break
            if message_id.encode() not in data:
                continue  # an answer to someone else's probe
            for device in parse_probe_matches(data):
                _merge(seen, device)
    return sorted(seen.values(), key=lambda d: d.address)
