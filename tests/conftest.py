"""Suite-wide fixtures: real test cameras, network namespaces, synthetic footage.

They live in ``tests/support`` (one module per component, each with its contract in its
docstring); docs/testing.md says what each gives and how to run the groups.

Parallel runs (pytest-xdist, ``-n 2 --dist loadfile --no-loadscope-reorder``, as
``deploy/quickstart.sh test`` runs the suite): a module is one unit of work, run whole
on one worker, so its module-scoped fixtures (a running service, a browser) start once.
Units are handed out in collection order, which on a worker puts ``START_FIRST`` ahead
of the rest: the longest unit first, so that it does not start last and leave the other
worker idle at the end, then the Chromium modules, so that while the recorder's
real-time segments run on one worker the other runs the browsers one after another
(ordering only: a Chromium module may still run beside another later, which is load, not
a conflict). A serial run keeps the collected order.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.support.procs",
    "tests.support.netns",
    "tests.support.rtsp_server",
    "tests.support.footage",
    "tests.support.demo_camera",
    "tests.support.small_fs",
    "tests.support.age_cli",
    "tests.support.browser",
    "tests.support.mosquitto",
]

START_FIRST = (
    "tests/faults/test_sigkill.py",  # 50 kills and restarts of the service: about 5 minutes
    "tests/record/test_recorder.py",  # three real 60 s segments: about 4 minutes
    "tests/faults/test_soak_short.py",  # a two-minute soak of the real service
    "tests/deploy/test_install.py",  # about 3 minutes: install.sh in a Debian root, booted
    "tests/browser/test_share_flow.py",  # about 2 minutes: the whole sharing flow
    "tests/faults/test_disk.py",  # real demo runs filling a loop disk, locking the db: ~3 minutes
    "tests/browser/test_pages.py",
    "tests/browser/test_walkthrough.py",
    "tests/security/test_full_run.py",  # a minute: recording, motion, Chromium in a netns
    "tests/faults/test_camera_faults.py",  # about 2 minutes: a camera flapping for 60 s
    "tests/bench/test_dashboard.py",
    "tests/service/test_first_run.py",
    "tests/live/test_browser.py",
    "tests/bench/test_live.py",
    "tests/browser/test_signin.py",
    "tests/browser/test_requests.py",
    "tests/web/test_footage_pages.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker: keep the order
        return

    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return START_FIRST.index(module) if module in START_FIRST else len(START_FIRST)

    items.sort(key=rank)  # stable: a module's tests stay together and in order
