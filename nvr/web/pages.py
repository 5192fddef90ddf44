"""The dashboard's HTML pages: one renderer, one navigation, one place for page context.

``Pages(web_dir)`` owns the Jinja2 templates. A page handler calls
``pages.render(request, "events.html", caller, title="Events", ...)``: every page gets
``user`` (name and role of the signed-in caller, or ``None``), ``nav`` (the menu entries
that caller may open *now*: the one role x permission table asked through
``Pages.allows``, so a viewer without cameras or an installer without an open install
window is not offered pages that would refuse them) and ``current`` (the path, to mark
the open entry) and, for the owner, ``reminders`` (requests due within 48 hours or
overdue, shown in a banner on every page). ``home(session)`` is "/" (Status) or, for a
role that may not see it, the first page of that menu: where "/" sends that role. The
Account page (``/account``) is in every signed-in menu. A refused or missing page
renders ``error.html`` (``render_error``), not JSON. Pages are HTML shells: the data
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
from nvr.auth.sessions import ActiveSession


@dataclass(frozen=True)
class NavEntry:
    path: str
    label: str
    permission: Permission | None  # None: every signed-in account


ACCOUNT_PAGE = "/account"

# The menu, in order. An entry shows when the caller may open it now (``Pages.allows``);
# without that look-up (tests of single pages) when the role has any grant at all.
NAV: tuple[NavEntry, ...] = (
    NavEntry("/live", "Live", Permission.LIVE_VIEW),
    NavEntry("/events", "Events", Permission.EVENTS_VIEW),
    NavEntry("/timeline", "Timeline", Permission.FOOTAGE_VIEW),
    NavEntry("/", "Status", Permission.HEALTH_VIEW),
    NavEntry("/cameras", "Cameras", Permission.CAMERAS_MANAGE),
    NavEntry("/requests", "Requests", Permission.REQUESTS_MANAGE),
    NavEntry("/report", "Report", Permission.REPORT_VIEW),
    NavEntry("/settings", "Settings", Permission.USERS_MANAGE),
    NavEntry(ACCOUNT_PAGE, "Account", None),
)

Allows = Callable[[ActiveSession, Permission], bool]


def nav_for(role: Role | None) -> list[NavEntry]:
    """The entries ``role`` may ever open (any grant in the table)."""
    if role is None:
        return []
    return [
        entry
        for entry in NAV
        if entry.permission is None or grant(role, entry.permission) is not Grant.NO
    ]


class Pages:
    def __init__(self, web_dir: Path, allows: Allows | None = None) -> None:
        self.templates = Jinja2Templates(directory=str(web_dir / "templates"))
        # Open requests whose deadline is near or past (``RequestLog.reminders``): set by
        # the sharing pages; every owner page shows them in a banner (base.html).
        self.reminders: Callable[[], Sequence[Any]] | None = None
        self.allows = allows

    def nav(self, session: ActiveSession | None) -> list[NavEntry]:
        """The menu for ``session``: what it may open now."""
        if session is None:
            return []
        entries = nav_for(session.principal.role)
        if self.allows is None:
            return entries
        allows = self.allows
        return [e for e in entries if e.permission is None or allows(session, e.permission)]

    def home(self, session: ActiveSession) -> str:
        """Where ``session`` starts: the Status page ("/") when it may see it, else the
        first page of its menu (the Account page at least)."""
        paths = [entry.path for entry in self.nav(session)]
        return "/" if "/" in paths else paths[0]

    def render_error(
        self, request: Request, session: ActiveSession | None, status_code: int, reason: str
    ) -> HTMLResponse:
        """A refused or missing page as a page: the reason, a link to the caller's home."""
        home = self.home(session) if session is not None else "/signin"
        return self._render(
            request,
            "error.html",
            session,
            status_code=status_code,
            title="Not allowed here" if status_code == 403 else "Not found",
            reason=reason,
            home=home,
            refused=status_code == 403,
        )

    def render(
        self,
        request: Request,
        template: str,
        caller: Caller | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        return self._render(
            request,
            template,
            caller.session if caller is not None else None,
            status_code=status_code,
            **context,
        )

    def _render(
        self,
        request: Request,
        template: str,
        session: ActiveSession | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        principal = session.principal if session is not None else None
        base: dict[str, Any] = {
            "user": (
                {"name": principal.name, "role": principal.role.value}
                if principal is not None
                else None
            ),
            "nav": self.nav(session),
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
