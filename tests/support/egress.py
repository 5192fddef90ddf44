"""Record every connection attempt that leaves a network namespace, for the zero-egress test.

Contract:

- ``Recorder.start(netns)`` opens a packet socket (``AF_PACKET``, every protocol) *inside*
  ``netns`` (created on a thread that joined it: a socket belongs to the namespace it was
  made in) and reads it on a daemon thread until ``stop()``. It sees every frame any
  interface of the namespace sends (``lo`` and the link to the camera), no matter which
  process sent it: the service, its FFmpeg/GStreamer children, a DNS lookup by libc.
- It keeps one ``Attempt`` per outgoing TCP SYN (no ACK: a new connection) and per
  outgoing UDP datagram, IPv4 and IPv6: ``(interface, protocol, destination, port)``.
  ICMP, ARP and IPv6 neighbour discovery are the kernel's, not a program's, and are not
  attempts. ``attempts()`` is a copy of what was seen so far; ``clear()`` forgets it.
- ``disallowed(allowed)`` is every attempt for which the predicate ``allowed`` is false.
  An attempt to a DNS or mDNS port carries the first name of the message (and whether
  it is a query or a response) in ``question``, for the failure message.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.live.inside import call_inside
from tests.support.netns import Netns

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
_IPV4, _IPV6 = 0x0800, 0x86DD
_TCP, _UDP = 6, 17
_SYN, _ACK = 0x02, 0x10


@dataclass(frozen=True)
class Attempt:
    interface: str
    protocol: str  # "tcp" (a SYN) or "udp" (a datagram)
    destination: str
    port: int
    question: str = field(default="", compare=False)  # a DNS or mDNS query: the name asked

    def __str__(self) -> str:
        asked = f" ({self.question})" if self.question else ""
        return (
            f"{self.protocol} to {self.destination} port {self.port}{asked} (via {self.interface})"
        )


def _question(message: bytes) -> str:
    """The first name of a DNS/mDNS message, marked as a query or a response (best effort,
    for the failure message)."""
    if len(message) < 12:
        return ""
    kind = "response" if message[2] & 0x80 else "query"
    labels: list[str] = []
    at = 12
    while at < len(message) and (size := message[at]) and size < 64 and len(labels) < 64:
        labels.append(message[at + 1 : at + 1 + size].decode("ascii", "replace"))
        at += 1 + size
    return f"{kind} {'.'.join(labels)}"


def parse(interface: str, frame: bytes) -> Attempt | None:
    """The attempt in one outgoing Ethernet frame (``lo`` and veth both carry a 14-byte
    Ethernet header), or ``None`` if it is not a TCP SYN or a UDP datagram."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if ethertype == _IPV4 and len(ip) >= 20:
        header = (ip[0] & 0x0F) * 4
        proto, dst = ip[9], str(ipaddress.IPv4Address(ip[16:20]))
        if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:  # a later fragment: no ports
            return None
        payload = ip[header:]
    elif ethertype == _IPV6 and len(ip) >= 40:
        proto, dst = ip[6], str(ipaddress.IPv6Address(ip[24:40]))
        payload = ip[40:]  # the service sends no extension headers; a hop-by-hop is MLD
    else:
        return None
    if proto == _TCP and len(payload) >= 14:
        if payload[13] & _SYN and not payload[13] & _ACK:
            return Attempt(interface, "tcp", dst, struct.unpack_from("!H", payload, 2)[0])
    elif proto == _UDP and len(payload) >= 8:
        port = struct.unpack_from("!H", payload, 2)[0]
        question = _question(payload[8:]) if port in (53, 5353) else ""
        return Attempt(interface, "udp", dst, port, question)
    return None


class Recorder:
    """Outgoing connection attempts in one namespace; see the module docstring."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._seen: list[Attempt] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name="egress-recorder", daemon=True)

    @classmethod
    def start(cls, netns: Netns) -> Recorder:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.settimeout(0.2)
            return sock

        recorder = cls(call_inside(netns, make, timeout=10))
        recorder._thread.start()
        return recorder

    def _read(self) -> None:
        while not self._stopping.is_set():
            try:
                frame, address = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if address[2] != PACKET_OUTGOING:
                continue
            if (attempt := parse(address[0], frame)) is not None:
                with self._lock:
                    self._seen.append(attempt)

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._seen)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def disallowed(self, allowed: Callable[[Attempt], bool]) -> list[Attempt]:
        return [a for a in self.attempts() if not allowed(a)]

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._sock.close()
