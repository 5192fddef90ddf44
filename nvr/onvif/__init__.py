"""ONVIF: find cameras (WS-Discovery), ask them what they are, follow their events.

- ``discovery``: ``discover(interface, timeout)`` on one named LAN interface.
- ``device``: ``probe_device(...)`` -> identity, main/sub RTSP URIs, clock offset.
- ``events``: ``EventSubscription`` keeps a PullPoint subscription alive and turns
  doorbell presses and camera motion into ``on_event`` calls.
- ``errors``: the one-line user errors all of them raise.

Design notes: docs/design/onvif.md.
"""

from nvr.onvif.device import Credentials, OnvifDevice, StreamProfile, probe_device
from nvr.onvif.discovery import DiscoveredDevice, discover
from nvr.onvif.errors import NotOnvifDevice, OnvifAuthFailed, OnvifError, OnvifUnreachable
from nvr.onvif.events import DEFAULT_RULES, EventKind, EventSubscription, TopicRule

__all__ = [
    "DEFAULT_RULES",
    "Credentials",
    "DiscoveredDevice",
    "EventKind",
    "EventSubscription",
    "NotOnvifDevice",
    "OnvifAuthFailed",
    "OnvifDevice",
    "OnvifError",
    "OnvifUnreachable",
    "StreamProfile",
    "TopicRule",
    "discover",
    "probe_device",
]
