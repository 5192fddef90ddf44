"""Schemathesis over the app's own OpenAPI document, as each role: no 5xx, and every
answer is one the document declares (status, content type, body schema, headers).

The app is the service's (``create_app`` with accounts over a real box, playback and the
doorbell webhook); the schema is read from ``/api/v1/openapi.json`` of that app, so a
route another change adds is fuzzed here without touching this file. Each role runs
every operation with both valid (positive) and invalid (negative) generated input, a
fresh session per example (a generated ``DELETE /api/v1/session`` cannot starve the
next one), the CSRF header on every request. Bounded and derandomized: a few examples
per operation and mode, the same ones every run.

Why not ``@schema.parametrize()``: schemathesis 4.32's lazy pytest integration
(``schemathesis.pytest.from_fixture``) breaks on pytest 9 (it rewrites the private
``Function._nodeid``), and the app needs a box made in a temporary directory, i.e. a
fixture. So each role's test walks ``schema.get_all_operations()`` itself and runs one
Hypothesis test per operation with ``operation.as_strategy(mode)``, collecting failures
so one report names every operation that failed.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from nvr.auth.policy import Role
from nvr.auth.sessions import COOKIE_NAME, CSRF_HEADER, Principal
from nvr.clock import FakeClock
from nvr.secrets import Secret
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.doorbell import doorbell_router
from tests.support.accounts import PASSPHRASE, Site, open_site
from tests.support.sharing import sharing_for
from tests.web.test_routes import closed_events

ROLES = ["anonymous", "viewer", "installer", "owner"]
NAMES = {"viewer": "sam", "installer": "ines", "owner": "alex"}
EXAMPLES = 6  # per operation and generation mode
# A schema-valid request may still be refused with 400 for what a schema cannot say
# (a time range with its start after its end): the app's documented meaning of 400.
CONFIG = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
"""
)


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = open_site(tmp_path_factory.mktemp("openapi"))
    yield built
    built.box.close()


@pytest.fixture(scope="module")
def schema(site: Site) -> Any:
    webhook = Secret(random.token_hex(16))
    doorbell = doorbell_router(
        lambda camera: webhook if camera == "porch" else None,
        lambda camera, when: None,
        FakeClock(),
    )
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        doorbell=doorbell,
        events=closed_events(site),
        sharing=sharing_for(site),
    )
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=CONFIG)


def credentials(site: Site, role: str) -> Callable[[], dict[str, str]]:
    """Headers for one request as ``role``: a new session each time (the owner's with an
    unlock, made again when a generated lock or sign-out ended the last one)."""
    if role == "anonymous":
        return dict
    principal = Principal(site.ids[NAMES[role]], NAMES[role], Role(role))
    unlock: list[str] = []

    def headers() -> dict[str, str]:
        token = None
        if role == "owner":
            if not unlock or not site.unlocks.is_unlocked(unlock[0]):
                unlock[:] = [site.unlocks.unlock(PASSPHRASE.encode())]
            token = unlock[0]
        issued = site.accounts.sessions.login(principal, unlock_token=token)
        return {"cookie": f"{COOKIE_NAME}={issued.token}", CSRF_HEADER: issued.session.csrf_token}

    return headers


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(schema: Any, site: Site, role: str) -> None:
    headers = credentials(site, role)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            def run(case: Any) -> None:
                case.call_and_validate(headers=headers())

            try:
                run()
            except Unsatisfiable:
                # Nothing to break: no parameters, or nothing a schema-invalid value fits.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (FailureGroup, Exception) as exc:  # one report naming every failure
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations >= 8  # the schema really was read
    assert not failures, "\n\n".join(failures)
