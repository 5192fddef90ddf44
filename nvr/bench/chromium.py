"""Debian's Chromium as the benchmarks and the browser tests launch it (docs/testing.md).

Playwright drives ``/usr/bin/chromium`` from the Debian package, never a browser it would
download. ``FLAGS`` keep a headless run quiet and offline (no component updates, no sync,
no background requests); ``WEBRTC_FLAGS`` add what WebRTC on loopback inside a network
namespace needs (host candidates on loopback, no mDNS-hidden addresses).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WEBRTC_FLAGS: tuple[str, ...] = (
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
)
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"  # benchmarks time video without a click
