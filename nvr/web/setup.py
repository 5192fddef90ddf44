"""First run in the dashboard: the setup code, the LAN check and ``/api/v1/setup/...``.

While no owner account exists (docs/design/first-run.md):

- ``GET /setup``: the stepper page (LAN clients only; the code is asked by the page).
- ``POST /api/v1/setup/check``: whether the presented code is right (204).
- ``POST /api/v1/setup/strength`` ``{passphrase, name?}``: ``{score, ok, reason, hint}``
  (zxcvbn via ``check_strength``) for the strength meter.
- ``POST /api/v1/setup/owner`` ``{name, passphrase, confirmation}``: makes the keys
  (``Box.create_owner_keys``, the calibrated work factor, in a thread) and the owner
  account, deletes the setup code, starts recording (``on_keys``), signs the owner in
  (session cookie, unlock attached) and returns the recovery identity ONCE with the
  session info. A weak passphrase is a 422 with zxcvbn's reason.

Each of those answers only a client on the LAN (loopback, RFC 1918, IPv6 ULA fc00::/7,
link-local; never a public address: 403) presenting the setup code in the
``X-Setup-Code`` header (403, and every wrong code is counted by a ``LoginThrottle``
per address and overall: 429 with ``Retry-After`` once over). A cross-site ``Origin`` is
refused. Once an owner exists they all answer 409 ("already set up") and the normal
session guard applies to everything else.

- ``POST /api/v1/setup/recovery-confirmed`` (the owner's session, CSRF): the owner says the
  recovery key is stored; until then ``<data_dir>/setup-recovery-pending`` exists
  (204; 409 when nothing is pending). Audit entry ``setup.recovery_confirmed``.
  ``GET /api/v1/setup/recovery`` (the owner): ``{pending}``, for the dashboard's reminder.

The setup code: 8 symbols of Crockford's base32 (40 bits), shown as ``XXXX-XXXX``,
made by ``SetupCode.create`` at service start while there is no owner, written to
``<data_dir>/setup-code`` (0600) and printed in the log; compared in constant time after
normalising (case, ``-``, spaces, O->0, I/L->1).

No ``from __future__ import annotations``: handlers built in a factory (see deps.py).
"""

import asyncio
import hmac
import ipaddress
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, SecretStr

from nvr.audit.entry import Actor
from nvr.auth import users
from nvr.auth.deps import Caller, same_origin
from nvr.auth.login import actor_of, lockout_notice
from nvr.auth.policy import Permission, Role
from nvr.auth.sessions import Principal, set_session_cookie
from nvr.auth.throttle import LoginThrottle
from nvr.errors import UserError
from nvr.keys.files import write_private
from nvr.keys.passphrase import MIN_LENGTH, WeakPassphrase, check_strength
from nvr.keys.store import KeyError_
from nvr.service.box import Box
from nvr.web.pages import Pages
from nvr.web.session import Accounts

log = logging.getLogger(__name__)

SETUP_PAGE = "/setup"
CODE_HEADER = "X-Setup-Code"
CODE_FILE = "setup-code"
PENDING_FILE = "setup-recovery-pending"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
CODE_LENGTH = 8
THROTTLE_KEY = "setup"  # one counter for every address together, plus one per address

LAN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_lan(host: str | None) -> bool:
    """Loopback, RFC 1918, IPv6 ULA or link-local (an IPv4-mapped IPv6 address as its
    IPv4 address); a public address, or anything else, is not."""
    if not host:
        return False
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in LAN_NETWORKS if net.version == ip.version)


def normalise_code(text: str) -> str:
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return "".join(text.upper().split()).replace("-", "").translate(table)


@dataclass
class SetupCode:
    """The one-time code of a fresh box (see the module docstring)."""

    path: Path
    code: str = field(repr=False)

    @classmethod
    def create(cls, data_dir: Path) -> "SetupCode":
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        path = data_dir / CODE_FILE
        write_private(path, (cls.format(code) + "\n").encode())
        return cls(path, code)

    @staticmethod
    def format(code: str) -> str:
        return f"{code[:4]}-{code[4:]}"

    @property
    def display(self) -> str:
        return self.format(self.code)

    def matches(self, presented: str | None) -> bool:
        given = normalise_code(presented or "")[:64].encode()
        return hmac.compare_digest(given, self.code.encode())

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def recovery_pending(data_dir: Path) -> bool:
    return (data_dir / PENDING_FILE).exists()


@dataclass
class SetupFlow:
    """What the setup routes need; built by the service (or a test)."""

    box: Box
    code: SetupCode | None  # None: the box had an owner at start
    on_keys: Callable[[], Awaitable[object]] | None = None  # start recording
    work_factor: int | None = None  # None: calibrated (~1 s), as the CLI does
    throttle: LoginThrottle | None = None


class StrengthRequest(BaseModel):
    model_config = {"extra": "forbid"}
    passphrase: SecretStr = Field(max_length=1024)
    name: str | None = Field(default=None, max_length=128)


class Strength(BaseModel):
    score: int
    ok: bool
    min_length: int
    reason: str | None
    hint: str | None


class OwnerRequest(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=128)
    passphrase: SecretStr = Field(min_length=1, max_length=1024)
    confirmation: SecretStr = Field(min_length=1, max_length=1024)


class OwnerCreated(BaseModel):
    name: str
    role: str
    csrf_token: str
    idle_timeout_seconds: int
    unlocked: bool
    recovery_identity: str
    recovery_recipient: str
    recording: list[str]


class RecoveryState(BaseModel):
    pending: bool


def _field_error(field_name: str, reason: str, hint: str | None = None) -> HTTPException:
    detail: dict[str, Any] = {"field": field_name, "reason": reason}
    if hint:
        detail["hint"] = hint
    return HTTPException(422, detail)


def _score(passphrase: str, context: list[str]) -> int:
    from zxcvbn import zxcvbn  # ~12 MB of dictionaries: only when someone sets one

    result = zxcvbn(passphrase[:100], user_inputs=["porchlight", "nvr", "doorbell", *context])
    return int(result["score"])


def setup_router(flow: SetupFlow, accounts: Accounts, pages: Pages) -> APIRouter:
    router = APIRouter(tags=["setup"])
    box = flow.box
    throttle = flow.throttle or LoginThrottle(box.clock, on_lockout=lockout_notice(box.record))
    create_lock = threading.Lock()
    data_dir = box.cfg.storage.data_dir

    def client(request: Request) -> str | None:
        return request.client.host if request.client else None

    def open_setup(request: Request) -> None:
        """Setup still to do, and a client on the LAN."""
        if accounts.owner_exists():
            raise HTTPException(409, "already set up: sign in instead")
        if not is_lan(client(request)):
            raise HTTPException(403, "first-run setup is only available from the local network")

    def code_holder(request: Request) -> None:
        open_setup(request)
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        address = client(request)
        verdict = throttle.waiting(THROTTLE_KEY, address)
        if not verdict.allowed:
            wait = max(1, int(verdict.retry_after + 0.999))
            raise HTTPException(
                429, f"too many wrong codes: try again in {wait} s", {"Retry-After": str(wait)}
            )
        code = flow.code
        if code is None or not code.matches(request.headers.get(CODE_HEADER)):
            throttle.attempt(THROTTLE_KEY, address)
            box.record("setup.code_failed", {"client": address or "unknown"})
            raise HTTPException(
                403,
                "wrong or missing setup code: use the link the service printed in its log "
                f"(or the code in {data_dir / CODE_FILE})",
            )

    Holder = Depends(code_holder)
    Owner = Annotated[Caller, Depends(accounts.authorizer.require(Permission.KEYS_MANAGE))]

    @router.get(SETUP_PAGE, response_class=HTMLResponse, include_in_schema=False)
    def setup_page(request: Request) -> HTMLResponse:
        open_setup(request)
        return pages.render(request, "setup.html", None, min_length=MIN_LENGTH)

    @router.post(
        "/api/v1/setup/check",
        status_code=204,
        dependencies=[Holder],
        summary="Check the setup code (first run only)",
    )
    def check() -> Response:
        return Response(status_code=204)

    @router.post(
        "/api/v1/setup/strength",
        dependencies=[Holder],
        summary="How strong a passphrase is (first run only)",
    )
    def strength(body: StrengthRequest) -> Strength:
        text = body.passphrase.get_secret_value()
        context = [body.name] if body.name else []
        try:
            check_strength(text.encode(), context)
        except WeakPassphrase as exc:
            score = _score(text, context) if text else 0
            return Strength(
                score=score, ok=False, min_length=MIN_LENGTH, reason=exc.message, hint=exc.hint
            )
        return Strength(
            score=_score(text, context), ok=True, min_length=MIN_LENGTH, reason=None, hint=None
        )

    @router.post(
        "/api/v1/setup/owner",
        dependencies=[Holder],
        summary="Create the owner keys and account, sign in (first run only)",
    )
    async def create_owner(
        body: OwnerRequest, request: Request, response: Response
    ) -> OwnerCreated:
        try:
            name = users.normalize_name(body.name)
        except UserError as exc:
            raise _field_error("name", exc.message, exc.hint) from None
        passphrase = body.passphrase.get_secret_value()
        if not hmac.compare_digest(
            passphrase.encode(), body.confirmation.get_secret_value().encode()
        ):
            raise _field_error("confirmation", "the two passphrases differ")
        try:
            check_strength(passphrase.encode(), [name])
        except WeakPassphrase as exc:
            raise _field_error("passphrase", exc.message, exc.hint) from None
        actor = Actor(role=Role.OWNER.value, user=name)
        address = client(request) or "unknown"

        def make() -> tuple[str, str, str, int]:
            # One creation at a time; a second finds the keys and gets 409.
            with create_lock:
                try:
                    recovery, _ = box.create_owner_keys(
                        passphrase.encode(), flow.work_factor, actor, name
                    )
                except KeyError_ as exc:
                    raise HTTPException(409, f"already set up: {exc.message}") from None
                write_private(data_dir / PENDING_FILE, b"the recovery key is not confirmed\n")
                if flow.code is not None:
                    flow.code.discard()
                box.record("setup.owner", {"owner": name, "client": address}, actor)
                token = accounts.unlocks.unlock(passphrase.encode(), actor)
                with box.sessions() as session:
                    user = users.get_user(session, name)
                assert user is not None
                recipient = str(box.keys.recipient_list()["recovery"])
                return recovery.to_string(), recipient, token, user.id

        identity, recipient, unlock_token, user_id = await asyncio.to_thread(make)
        principal = Principal(user_id, name, Role.OWNER)
        issued = accounts.sessions.login(principal, unlock_token=unlock_token)
        box.record(
            "login", {"session": issued.session.key[:16], "client": address, "via": "setup"}, actor
        )
        set_session_cookie(response, issued.token, accounts.sessions.max_age)
        recording: list[str] = []
        if flow.on_keys is not None:
            # The recovery key must reach the owner whatever happens to the cameras: a
            # failure here is logged (recording then starts at the next restart).
            try:
                started = await flow.on_keys()
            except Exception:
                log.exception("owner keys made, but recording could not be started")
                started = []
            if isinstance(started, list):
                recording = [str(s) for s in started]
        log.info("first-run setup done: owner keys and account created", extra={"owner": name})
        return OwnerCreated(
            name=name,
            role=Role.OWNER.value,
            csrf_token=issued.session.csrf_token,
            idle_timeout_seconds=int(accounts.sessions.idle_timeout.total_seconds()),
            unlocked=True,
            recovery_identity=identity,
            recovery_recipient=recipient,
            recording=recording,
        )

    @router.get("/api/v1/setup/recovery", summary="Is the recovery key still unconfirmed?")
    def recovery_state(caller: Owner) -> RecoveryState:
        return RecoveryState(pending=recovery_pending(data_dir))

    @router.post(
        "/api/v1/setup/recovery-confirmed",
        status_code=204,
        summary="The owner has stored the recovery key",
    )
    def recovery_confirmed(caller: Owner) -> Response:
        pending = data_dir / PENDING_FILE
        if not pending.exists():
            raise HTTPException(409, "no recovery key is waiting to be confirmed")
        pending.unlink(missing_ok=True)
        box.record("setup.recovery_confirmed", {}, actor_of(caller.principal))
        return Response(status_code=204)

    return router
