"""Unlock and lock over the API (``/api/v1/unlock``, ``/api/v1/lock``).

Until sign-in exists these answer only on the box itself (like every route but
``/healthz``); the dashboard's login (issue 6) will open the same ``UnlockManager``.
The token travels as ``Authorization: Bearer <token>``. The passphrase is taken in the
request body, never in a URL, and never logged.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Response, params
from pydantic import BaseModel, Field, SecretStr

from nvr.keys.store import KeyError_
from nvr.service.unlock import UnlockManager


class UnlockRequest(BaseModel):
    model_config = {"extra": "forbid"}
    passphrase: SecretStr = Field(min_length=1, max_length=1024)


class UnlockResponse(BaseModel):
    token: str
    idle_timeout_seconds: int


class SessionState(BaseModel):
    unlocked: bool


def bearer(authorization: Annotated[str | None, Header()] = None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "missing 'Authorization: Bearer <token>'")
    return authorization.removeprefix("Bearer ").strip()


def unlock_router(manager: UnlockManager, *, guard: params.Depends) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["unlock"], dependencies=[guard])

    @router.post("/unlock", summary="Unlock footage with the owner passphrase")
    async def unlock(body: UnlockRequest) -> UnlockResponse:
        secret = body.passphrase.get_secret_value().encode()
        try:
            token = await asyncio.to_thread(manager.unlock, secret)
        except KeyError_ as exc:
            status = 401 if exc.message == "wrong passphrase" else 409
            raise HTTPException(status, exc.message) from None
        return UnlockResponse(
            token=token, idle_timeout_seconds=int(manager.idle_timeout.total_seconds())
        )

    @router.get("/unlock", summary="Whether this token's session is still unlocked")
    async def state(token: Annotated[str, Depends(bearer)]) -> SessionState:
        return SessionState(unlocked=manager.is_unlocked(token))

    @router.post("/lock", summary="Lock this session now", status_code=204)
    async def lock(token: Annotated[str, Depends(bearer)]) -> Response:
        if not manager.lock(token, "logout"):
            raise HTTPException(404, "no such session (already locked?)")
        return Response(status_code=204)

    return router
