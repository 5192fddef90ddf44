"""The stock ``age`` CLI (Debian package ``age``) as a required peer.

``age_required``: use it (``@pytest.mark.usefixtures("age_required")``) on tests that run
``age`` or ``age-keygen``. Without the package they skip and say so; in CI (which installs
it) they fail instead (``procs.require``).
"""

from __future__ import annotations

import shutil

import pytest

from tests.support.procs import require


@pytest.fixture
def age_required() -> None:
    missing = [tool for tool in ("age", "age-keygen") if shutil.which(tool) is None]
    require(f"{', '.join(missing)} not installed (Debian package 'age')" if missing else None)
