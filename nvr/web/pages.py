"""The dashboard's HTML pages: one renderer, one navigation, one place for page context.

``Pages(web_dir)`` owns the Jinja2 templates. A page handler calls
``pages.render(request, "events.html", caller, title="Events", ...)``: every page gets
``user`` (name and role of the signed-in caller, or ``None``), ``nav`` (the menu entries
that caller's role may open, from the one role x permission table) and ``current`` (the
path, to mark the open entry) and, for the owner, ``reminders`` (requests due within
48 hours or overdue, shown in a banner on every page). Pages are HTML shells: the data
comes from the JSON API through ``web/static/api.js``; templates hold no inline script
(the CSP forbids it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from nvr.auth.deps import Caller
from nvr.auth.policy import Grant, Permission, Role, grant


@dataclass(frozen=True)
class NavEntry:
    path: str
    label: str
    permission: Permission


# The menu, in order. An entry shows when the caller's role has any grant (an installer
# sees Live only as "needs an install window": the page itself then explains).
NAV: tuple[NavEntry, ...] = (
    NavEntry("/live", "Live", Permission.LIVE_VIEW),
    NavEntry("/events", "Events", Permission.EVENTS_VIEW),
    NavEntry("/timeline", "Timeline", Permission.FOOTAGE_VIEW),
    NavEntry("/", "Status", Permission.HEALTH_VIEW),
    NavEntry("/cameras", "Cameras", Permission.CAMERAS_MANAGE),
    NavEntry("/requests", "Requests", Permission.REQUESTS_MANAGE),
    NavEntry("/report", "Report", Permission.REPORT_VIEW),
    NavEntry("/settings", "Settings", Permission.USERS_MANAGE),
)


def nav_for(role: Role | None) -> list[NavEntry]:
    if role is None:
        return []
    return [entry for entry in NAV if grant(role, entry.permission) is not Grant.NO]


class Pages:
    def __init__(self, web_dir: Path) -> None:
        self.templates = Jinja2Templates(directory=str(web_dir / "templates"))
        # Open requests whose deadline is near or past (``RequestLog.reminders``): set by
        # the sharing pages; every owner page shows them in a banner (base.html).
        self.reminders: Callable[[], Sequence[Any]] | None = None

    def render(
        self,
        request: Request,
        template: str,
        caller: Caller | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        principal = caller.principal if caller is not None else None
        base: dict[str, Any] = {
            "user": (
                {"name": principal.name, "role": principal.role.value}
                if principal is not None
                else None
            ),
            "nav": nav_for(principal.role if principal is not None else None),
            "current": request.url.path,
            "status": None,
            "reminders": (
                self.reminders()
                if self.reminders is not None
                and principal is not None
                and grant(principal.role, Permission.REQUESTS_MANAGE) is Grant.YES
                else []
            ),
        }
        base.update(context)
        return self.templates.TemplateResponse(request, template, base, status_code=status_code)
