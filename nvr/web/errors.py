"""The one shape of a refusal, for the OpenAPI document: ``{"error": reason}``.

The app's error handlers (``nvr.web.app``) answer every 4xx with ``ErrorBody``;
``ERROR_RESPONSES`` declares, once for every route, the refusals any route may give, and
a route adds those only it gives with ``responses={429: error_response("...")}``. The
declared document is what schemathesis holds the app to (tests/web/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """Every refusal's body: the reason, for people (and, for bad input, each field's)."""

    error: str
    reasons: list[str] | None = None


def error_response(description: str, **extra: Any) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a refusal with the ``{"error": ...}`` body."""
    return {"model": ErrorBody, "description": description, **extra}


# What any route may answer besides its own success: no session, not allowed, no such
# thing, bad input (422: against the schema; 400: what a schema cannot say, like a time
# range whose start is after its end).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: error_response("bad input the schema cannot express (e.g. a time range)"),
    401: error_response("not signed in, or the session ended"),
    403: error_response("not allowed: role, CSRF token, cross-site origin, or no key"),
    404: error_response("no such thing (camera, clip, event ...)"),
    422: error_response("the request does not match the schema (a reason per field)"),
}

THROTTLED = error_response(
    "too many failed attempts: wait the Retry-After seconds",
    headers={"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
)
