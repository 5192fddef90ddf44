"""The role x permission table, cell by cell, and ``decide`` around install windows.

``EXPECTED`` restates issue 6's rules independently of ``nvr.auth.policy.TABLE``: owner all;
viewer live + playback (+ events) of allowed cameras only; installer cameras, health and
config, and footage only inside an open install window; a share link (the token is the
credential) opens for everyone, anonymous callers included, and nothing else does for
them. Every role x permission pair runs in every situation below, so a cell changed by
mistake fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nvr.auth.policy import (
    ANONYMOUS,
    CAMERA_SCOPED,
    TABLE,
    Decision,
    Grant,
    InstallWindow,
    Permission,
    Role,
    decide,
    decide_anonymous,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ALLOWED = frozenset({"porch"})

# What each role gets: "all", "own" (allowed cameras), "window" (install window), "none".
EXPECTED: dict[Role, dict[Permission, str]] = {
    Role.OWNER: dict.fromkeys(Permission, "all"),
    Role.VIEWER: {
        p: "own"
        if p in {Permission.LIVE_VIEW, Permission.FOOTAGE_VIEW, Permission.EVENTS_VIEW}
        else "all"
        if p is Permission.SHARE_LINK_OPEN
        else "none"
        for p in Permission
    },
    Role.INSTALLER: {
        p: "all"
        if p
        in {
            Permission.HEALTH_VIEW,
            Permission.CAMERAS_MANAGE,
            Permission.CONFIG_MANAGE,
            Permission.SHARE_LINK_OPEN,
        }
        else "window"
        if p in {Permission.LIVE_VIEW, Permission.FOOTAGE_VIEW, Permission.EVENTS_VIEW}
        else "none"
        for p in Permission
    },
}

OPEN = InstallWindow(1, "owner", NOW - timedelta(minutes=5), NOW + timedelta(minutes=55))
EXPIRED = InstallWindow(2, "owner", NOW - timedelta(hours=2), NOW - timedelta(hours=1))
CLOSED = InstallWindow(3, "owner", NOW - timedelta(minutes=5), NOW + timedelta(hours=1), NOW)
FUTURE = InstallWindow(4, "owner", NOW + timedelta(minutes=1), NOW + timedelta(hours=1))

# (name, install window, camera asked for)
SITUATIONS = [
    ("no window, allowed camera", None, "porch"),
    ("no window, other camera", None, "garage"),
    ("no window, no camera", None, None),
    ("open window, allowed camera", OPEN, "porch"),
    ("open window, other camera", OPEN, "garage"),
    ("expired window", EXPIRED, "porch"),
    ("closed window", CLOSED, "porch"),
    ("window not yet open", FUTURE, "porch"),
]


def expected(
    role: Role, permission: Permission, window: InstallWindow | None, camera: str | None
) -> bool:
    rule = EXPECTED[role][permission]
    if rule == "all":
        return True
    if rule == "own":
        return camera is None or camera in ALLOWED
    if rule == "window":
        return window is OPEN
    return False


def test_the_table_covers_every_permission_and_expected_covers_every_role() -> None:
    assert set(TABLE) == set(Permission)
    assert set(EXPECTED) == set(Role)


@pytest.mark.parametrize("situation", SITUATIONS, ids=[s[0] for s in SITUATIONS])
@pytest.mark.parametrize("permission", list(Permission), ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_role_and_permission(
    role: Role, permission: Permission, situation: tuple[str, InstallWindow | None, str | None]
) -> None:
    _, window, camera = situation
    decision = decide(
        role,
        permission,
        install_window=window,
        now=NOW,
        viewer_cameras=ALLOWED if role is Role.VIEWER else frozenset(),
        camera=camera,
    )
    assert decision.allowed is expected(role, permission, window, camera), decision.reason
    assert decision.reason


@pytest.mark.parametrize("permission", list(Permission), ids=str)
def test_anonymous_callers_may_open_share_links_and_nothing_else(permission: Permission) -> None:
    decision = decide_anonymous(permission)
    assert decision.allowed is (permission is Permission.SHARE_LINK_OPEN), decision.reason
    assert decision.reason
    assert {Permission.SHARE_LINK_OPEN} == ANONYMOUS


def test_viewer_listing_is_narrowed_to_the_allowed_cameras() -> None:
    decision = decide(
        Role.VIEWER,
        Permission.EVENTS_VIEW,
        install_window=None,
        now=NOW,
        viewer_cameras=frozenset({"porch", "gate"}),
    )
    assert decision == Decision(True, decision.reason, frozenset({"porch", "gate"}))
    owner = decide(Role.OWNER, Permission.EVENTS_VIEW, install_window=None, now=NOW)
    assert owner.allowed
    assert owner.cameras is None


def test_a_viewer_allowed_no_camera_sees_nothing() -> None:
    decision = decide(Role.VIEWER, Permission.LIVE_VIEW, install_window=None, now=NOW)
    assert not decision.allowed
    assert "not allowed this account any camera" in decision.reason


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        (None, "needs an install window opened by the owner"),
        (EXPIRED, "install window has expired"),
        (CLOSED, "owner closed the install window"),
        (FUTURE, "has not opened yet"),
    ],
)
def test_installer_refusals_name_their_reason(window: InstallWindow | None, reason: str) -> None:
    decision = decide(
        Role.INSTALLER, Permission.FOOTAGE_VIEW, install_window=window, now=NOW, camera="porch"
    )
    assert not decision.allowed
    assert reason in decision.reason


def test_the_window_ends_exactly_at_its_expiry() -> None:
    def at(when: datetime) -> bool:
        return decide(Role.INSTALLER, Permission.LIVE_VIEW, install_window=OPEN, now=when).allowed

    assert at(OPEN.opened_at)
    assert at(OPEN.expires_at - timedelta(microseconds=1))
    assert not at(OPEN.expires_at)


def test_camera_scoped_permissions_are_the_footage_ones() -> None:
    assert {Permission.LIVE_VIEW, Permission.FOOTAGE_VIEW, Permission.EVENTS_VIEW} == CAMERA_SCOPED


def test_the_design_note_shows_the_same_table() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "design" / "auth.md").read_text()
    symbol = {Grant.YES: "Y", Grant.OWN_CAMERAS: "C", Grant.INSTALL_WINDOW: "W", Grant.NO: "-"}
    rows: dict[str, list[str]] = {}
    for line in doc.splitlines():
        match = re.fullmatch(r"\| `([a-z_.]+)` \|[^|]*\|(.*)\|", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    assert rows == {
        permission.value: [symbol[cell] for cell in TABLE[permission]] for permission in Permission
    }
