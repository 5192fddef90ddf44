"""The one live event stream: motion, doorbell presses and camera-side motion, as they
happen, for the dashboard and notifications. See docs/design/events.md."""

from nvr.events.bus import EventBus, EventKind, EventPhase, LiveEvent, LiveSubscription

__all__ = ["EventBus", "EventKind", "EventPhase", "LiveEvent", "LiveSubscription"]
