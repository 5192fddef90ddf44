"""What can go wrong talking to an ONVIF camera, as one-line user errors.

Each is a ``nvr.errors.UserError`` so the CLI prints it as one line plus a hint. Messages
name the host and port only: never a password, never a URL with credentials (everything
that may quote the camera's own text passes through ``nvr.secrets.scrub``).
"""

from __future__ import annotations

from nvr.errors import UserError
from nvr.secrets import scrub


class OnvifError(UserError):
    """Any ONVIF failure the user can act on."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(scrub(" ".join(message.split())), hint=hint)


class OnvifUnreachable(OnvifError):
    """Nothing answered at host:port (refused, timed out, no route)."""


class OnvifAuthFailed(OnvifError):
    """The camera answered with an ONVIF NotAuthorized fault (wrong user or password)."""


class NotOnvifDevice(OnvifError):
    """Something answered, but not with ONVIF SOAP."""
