"""UDP multicast on the loopback interface, for proving a namespace carries multicast.

Only ever run inside a ``Netns`` (the network rule): sockets are pinned to ``lo``
(127.0.0.1) and TTL 1. Contract:

- ``python -m tests.support.multicast recv GROUP PORT [--timeout S]`` joins ``GROUP`` on
  lo, prints ``LISTENING`` once joined, then one JSON line ``{"payload": ..., "sender":
  ...}`` for the first datagram, or exits 1 if none arrives in time.
- ``python -m tests.support.multicast send GROUP PORT PAYLOAD`` sends one datagram.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

LOOPBACK = "127.0.0.1"


def receiver(group: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((group, port))
    membership = socket.inet_aton(group) + socket.inet_aton(LOOPBACK)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    return sock


def send(group: str, port: int, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.sendto(payload, (group, port))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    recv_parser = sub.add_parser("recv")
    recv_parser.add_argument("group")
    recv_parser.add_argument("port", type=int)
    recv_parser.add_argument("--timeout", type=float, default=10.0)
    send_parser = sub.add_parser("send")
    send_parser.add_argument("group")
    send_parser.add_argument("port", type=int)
    send_parser.add_argument("payload")
    args = parser.parse_args(argv)

    if args.command == "send":
        send(args.group, args.port, args.payload.encode())
        return 0
    with receiver(args.group, args.port) as sock:
        sock.settimeout(args.timeout)
        print("LISTENING", flush=True)
        try:
            data, sender = sock.recvfrom(65536)
        except TimeoutError:
            print("no datagram", file=sys.stderr)
            return 1
    print(json.dumps({"payload": data.decode(errors="replace"), "sender": sender[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
