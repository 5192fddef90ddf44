"""Login throttling per account and per client address, with exponential backoff.

Pure bookkeeping over an injected ``Clock`` (monotonic time, so a wall-clock jump neither
frees nor locks anyone). The login handler calls, in this order:

1. ``attempt(account, address)`` BEFORE checking the password. A refused ``Verdict`` carries
   ``retry_after`` seconds: answer 429 without verifying anything. An allowed attempt is
   counted as a failure at once, so parallel requests cannot all slip past the counter
   while the slow Argon2/scrypt check runs.
2. ``succeeded(account, address)`` after a correct password: the account's counter is
   forgotten, and the address gets back the one attempt this success was counted (so an
   address counts failures only: a household signing in all day from one phone is never
   made to wait). Its earlier failures stay until ``forget_after``: a household member (or
   an installer) who knows their own password must not be able to clear the counter of the
   address they guess the owner's passphrase from. (A success counted at the threshold
   may announce a lockout, ``on_lockout``, that it then takes back.)

Each key (account name; client address, an IPv6 client by its /64) gets
``policy.free_attempts`` attempts, then waits ``base_delay`` seconds doubling with each
further attempt up to ``max_delay``; ``forget_after`` seconds without an attempt clear it.
Whenever an attempt leaves a key waiting, ``on_lockout(Lockout)`` is called: the caller logs
it (account and address, never the password, which this module never sees).

Memory is bounded: each table keeps at most ``max_keys`` keys. When full, keys that are no
longer waiting go first, then the least recently used, so spraying addresses or names can
push out only the stalest entries, not grow the process.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from nvr.clock import Clock


@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int
    base_delay: float  # seconds after the first attempt past the free ones
    max_delay: float
    forget_after: float  # seconds without an attempt after which a key starts afresh

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` counted attempts."""
        extra = attempts - self.free_attempts
        if extra <= 0:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2.0 ** min(extra - 1, 62)))


# 5 free, then 1 s, 2 s, 4 s ... 512 s, 15 min: ~100 guesses a day from one address.
ADDRESS_POLICY = ThrottlePolicy(free_attempts=5, base_delay=1, max_delay=900, forget_after=3600)
# More free attempts and a lower cap: a LAN attacker can slow the owner's login down by
# at most 5 minutes at a time, never lock the owner out (doc: auth.md, "Throttling").
ACCOUNT_POLICY = ThrottlePolicy(free_attempts=10, base_delay=1, max_delay=300, forget_after=3600)
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds; 0 when allowed


@dataclass(frozen=True)
class Lockout:
    """A key that must now wait: ``kind`` is ``account`` or ``address``."""

    kind: str
    key: str
    attempts: int
    retry_after: float


@dataclass
class _State:
    attempts: int
    last: float
    blocked_until: float


class _Table:
    def __init__(self, kind: str, policy: ThrottlePolicy, max_keys: int) -> None:
        self.kind = kind
        self.policy = policy
        self.max_keys = max_keys
        self.states: OrderedDict[str, _State] = OrderedDict()

    def get(self, key: str, now: float) -> _State | None:
        state = self.states.get(key)
        if state is not None and now - state.last >= self.policy.forget_after:
            del self.states[key]
            return None
        return state

    def wait(self, key: str, now: float) -> float:
        state = self.get(key, now)
        return 0.0 if state is None else max(0.0, state.blocked_until - now)

    def count(self, key: str, now: float) -> _State:
        state = self.get(key, now)
        if state is None:
            self._make_room(now)
            state = _State(attempts=0, last=now, blocked_until=now)
            self.states[key] = state
        state.attempts += 1
        state.last = now
        state.blocked_until = now + self.policy.delay(state.attempts)
        self.states.move_to_end(key)
        return state

    def take_back(self, key: str, now: float) -> None:
        """Uncount one attempt of ``key`` (a success counted before its check)."""
        state = self.get(key, now)
        if state is None or state.attempts == 0:
            return
        state.attempts -= 1
        state.blocked_until = min(
            state.blocked_until, state.last + self.policy.delay(state.attempts)
        )

    def _make_room(self, now: float) -> None:
        if len(self.states) < self.max_keys:
            return
        # Prefer dropping keys that no longer wait (oldest first), then the oldest at all.
        for key, state in self.states.items():
            if state.blocked_until <= now:
                del self.states[key]
                return
        self.states.popitem(last=False)


def address_key(host: str | None) -> str:
    """The throttling key for a client: IPv4 as is, IPv6 by its /64 (one host's share)."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def account_key(name: str) -> str:
    return name.strip().casefold()[:64]


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        *,
        account_policy: ThrottlePolicy = ACCOUNT_POLICY,
        address_policy: ThrottlePolicy = ADDRESS_POLICY,
        max_keys: int = MAX_KEYS,
        on_lockout: Callable[[Lockout], None] | None = None,
    ) -> None:
        self._clock = clock
        self._accounts = _Table("account", account_policy, max_keys)
        self._addresses = _Table("address", address_policy, max_keys)
        self._on_lockout = on_lockout
        self._lock = threading.Lock()

    def attempt(self, account: str, address: str | None) -> Verdict:
        """Whether a login for ``account`` from ``address`` may be checked now; if so it
        is counted (see the module docstring)."""
        now = self._clock.monotonic()
        keys = ((self._accounts, account_key(account)), (self._addresses, address_key(address)))
        lockouts: list[Lockout] = []
        with self._lock:
            wait = max(table.wait(key, now) for table, key in keys)
            if wait > 0:
                return Verdict(False, wait)
            for table, key in keys:
                state = table.count(key, now)
                if state.blocked_until > now:
                    lockouts.append(
                        Lockout(table.kind, key, state.attempts, state.blocked_until - now)
                    )
        if self._on_lockout is not None:
            for lockout in lockouts:
                self._on_lockout(lockout)
        return Verdict(True)

    def waiting(self, account: str, address: str | None) -> Verdict:
        """Whether ``account`` or ``address`` must wait now, WITHOUT counting an attempt:
        for checks that count only failures (the setup code, ``nvr.web.setup``), which
        call ``attempt`` after a wrong guess."""
        now = self._clock.monotonic()
        with self._lock:
            wait = max(
                self._accounts.wait(account_key(account), now),
                self._addresses.wait(address_key(address), now),
            )
        return Verdict(wait <= 0, wait)

    def succeeded(self, account: str, address: str | None) -> None:
        """A correct password for ``account`` from ``address`` (after ``attempt``)."""
        with self._lock:
            self._accounts.states.pop(account_key(account), None)
            self._addresses.take_back(address_key(address), self._clock.monotonic())

    def tracked(self) -> tuple[int, int]:
        """How many accounts and addresses are remembered (for health and tests)."""
        return len(self._accounts.states), len(self._addresses.states)


class FailureThrottle:
    """Failures per client address only, for a credential carried in a URL (a share link's
    token, ``nvr.sharing.links``): there is no account to key on, and an account-wide key
    would let one guesser lock every recipient out.

    ``waiting(address)`` before looking anything up (refused: answer 429, log nothing, so
    a guesser cannot flood the audit log); ``failed(address)`` after a wrong guess. Right
    guesses are not counted. Same bounded table and backoff as the login's address key.
    """

    def __init__(
        self, clock: Clock, *, policy: ThrottlePolicy = ADDRESS_POLICY, max_keys: int = MAX_KEYS
    ) -> None:
        self._clock = clock
        self._addresses = _Table("address", policy, max_keys)
        self._lock = threading.Lock()

    def waiting(self, address: str | None) -> Verdict:
        now = self._clock.monotonic()
        with self._lock:
            wait = self._addresses.wait(address_key(address), now)
        return Verdict(wait <= 0, wait)

    def failed(self, address: str | None) -> None:
        with self._lock:
            self._addresses.count(address_key(address), self._clock.monotonic())

    def tracked(self) -> int:
        return len(self._addresses.states)
