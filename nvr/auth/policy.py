"""Who may do what: roles, permissions, ONE role x permission table, and ``decide``.

``decide(role, permission, install_window=..., now=..., viewer_cameras=..., camera=...)``
is pure: it takes values and returns a ``Decision(allowed, reason)``; it reads no clock,
no database and no request. Every route asks it through one dependency (``nvr.auth.deps``).
A caller without an account gets only the permissions in ``ANONYMOUS`` (a share link's
page and download, whose token the route checks): ``decide_anonymous``.

A table cell is a ``Grant``:
- ``YES``: always;
- ``OWN_CAMERAS``: only for the cameras the owner allowed this viewer;
- ``INSTALL_WINDOW``: only while an install window the owner opened is open and unexpired;
- ``NO``: never.

Authorization is necessary, not sufficient, for footage: the segments are encrypted to
the owner's keys, so playback also needs an unlocked identity (``nvr.auth.sessions``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    OWNER = "owner"
    VIEWER = "viewer"  # a household member
    INSTALLER = "installer"


class Permission(enum.StrEnum):
    # Footage and what is derived from it (camera-scoped: ``camera`` names one).
    LIVE_VIEW = "live.view"
    FOOTAGE_VIEW = "footage.view"  # timeline and playback
    EVENTS_VIEW = "events.view"  # event list, sealed thumbnails
    # The box.
    HEALTH_VIEW = "health.view"
    CAMERAS_MANAGE = "cameras.manage"  # add/edit/remove cameras, zones and masks
    CONFIG_MANAGE = "config.manage"
    SETTINGS_MANAGE = "settings.manage"  # retention, quota, notifications
    USERS_MANAGE = "users.manage"  # accounts, roles, a viewer's cameras
    KEYS_MANAGE = "keys.manage"  # passphrase change, rotation, household keys
    AUDIT_VIEW = "audit.view"
    INSTALL_WINDOW_OPEN = "install_window.open"  # open and close install windows
    # Sharing (issue 7).
    REQUESTS_MANAGE = "requests.manage"  # the request log
    SHARING_MANAGE = "sharing.manage"  # clip selection, consent, export, share links
    HOLDS_MANAGE = "holds.manage"  # legal holds
    REPORT_VIEW = "report.view"  # the transparency report
    # Open a share link's page and download (issue 7). The one permission an anonymous
    # caller has (``ANONYMOUS``): the link's token is the credential, checked by the route.
    SHARE_LINK_OPEN = "share_link.open"


class Grant(enum.Enum):
    YES = "yes"
    OWN_CAMERAS = "own cameras"
    INSTALL_WINDOW = "install window"
    NO = "no"


CAMERA_SCOPED = frozenset({Permission.LIVE_VIEW, Permission.FOOTAGE_VIEW, Permission.EVENTS_VIEW})

_Y, _C, _W, _N = Grant.YES, Grant.OWN_CAMERAS, Grant.INSTALL_WINDOW, Grant.NO

# THE table. Columns: owner, viewer, installer. docs/design/auth.md shows the same table and
# tests/auth/test_policy.py restates it independently cell by cell.
TABLE: Mapping[Permission, tuple[Grant, Grant, Grant]] = {
    Permission.LIVE_VIEW: (_Y, _C, _W),
    Permission.FOOTAGE_VIEW: (_Y, _C, _W),
    Permission.EVENTS_VIEW: (_Y, _C, _W),
    Permission.HEALTH_VIEW: (_Y, _N, _Y),
    Permission.CAMERAS_MANAGE: (_Y, _N, _Y),
    Permission.CONFIG_MANAGE: (_Y, _N, _Y),
    Permission.SETTINGS_MANAGE: (_Y, _N, _N),
    Permission.USERS_MANAGE: (_Y, _N, _N),
    Permission.KEYS_MANAGE: (_Y, _N, _N),
    Permission.AUDIT_VIEW: (_Y, _N, _N),
    Permission.INSTALL_WINDOW_OPEN: (_Y, _N, _N),
    Permission.REQUESTS_MANAGE: (_Y, _N, _N),
    Permission.SHARING_MANAGE: (_Y, _N, _N),
    Permission.HOLDS_MANAGE: (_Y, _N, _N),
    Permission.REPORT_VIEW: (_Y, _N, _N),
    Permission.SHARE_LINK_OPEN: (_Y, _Y, _Y),
}

# What a caller WITHOUT a signed-in account may do: only what carries its own credential
# in the request (a share link's token). Everything else is denied to anonymous callers
# (``decide_anonymous``); routes ask through ``Authorizer.anyone``, which refuses to be
# built for a permission not listed here.
ANONYMOUS: frozenset[Permission] = frozenset({Permission.SHARE_LINK_OPEN})
_COLUMN = {Role.OWNER: 0, Role.VIEWER: 1, Role.INSTALLER: 2}


def grant(role: Role, permission: Permission) -> Grant:
    """The table cell for ``role`` and ``permission``."""
    return TABLE[permission][_COLUMN[role]]


@dataclass(frozen=True)
class InstallWindow:
    """A time-limited window the owner opened for the installer to see footage."""

    id: int
    opened_by: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and self.opened_at <= now < self.expires_at


@dataclass(frozen=True)
class Decision:
    """``allowed`` and a reason a person understands (sent to the client on a 403).

    ``cameras`` narrows an allowed camera-scoped request that named no camera (a list of
    events, the live grid): the cameras the caller may see, ``None`` meaning all of them.
    """

    allowed: bool
    reason: str
    cameras: frozenset[str] | None = None


def decide_anonymous(permission: Permission) -> Decision:
    """May a caller with no account use ``permission``? Only those in ``ANONYMOUS``."""
    if permission in ANONYMOUS:
        return Decision(True, f"{permission} needs no account: the request carries its credential")
    return Decision(False, "sign in first")


def decide(
    role: Role,
    permission: Permission,
    *,
    install_window: InstallWindow | None,
    now: datetime,
    viewer_cameras: frozenset[str] = frozenset(),
    camera: str | None = None,
) -> Decision:
    """May ``role`` do ``permission`` (on ``camera``, for camera-scoped permissions) now?"""
    cell = grant(role, permission)
    if cell is Grant.YES:
        return Decision(True, f"{role} may use {permission}")
    if cell is Grant.NO:
        return Decision(False, f"the {role} role may not use {permission}")
    if cell is Grant.OWN_CAMERAS:
        if camera is None:
            if not viewer_cameras:
                return Decision(False, "the owner has not allowed this account any camera")
            return Decision(True, f"{permission} on the allowed cameras", viewer_cameras)
        if camera in viewer_cameras:
            return Decision(True, f"{permission} on camera '{camera}' is allowed")
        return Decision(False, f"the owner has not allowed this account camera '{camera}'")
    # Grant.INSTALL_WINDOW
    if install_window is None:
        return Decision(False, f"{permission} needs an install window opened by the owner")
    if install_window.closed_at is not None:
        return Decision(False, "the owner closed the install window")
    if now < install_window.opened_at:
        return Decision(False, "the install window has not opened yet")
    if now >= install_window.expires_at:
        return Decision(False, "the install window has expired")
    return Decision(True, f"{permission} inside the install window")
