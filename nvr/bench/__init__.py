"""Benchmarks: figures to print and record in the docs, never assertions in tests.

One module per benchmark; each has a ``run(...)`` that does the work in a folder it is
given and returns a frozen result dataclass (plain values, so ``dataclasses.asdict`` turns
it into JSON). ``nvr.bench.machine`` describes the machine the figures come from, and
``document`` wraps a result with that description and a timestamp: the shape every
``nvr bench ... --json FILE`` writes. Printing is the CLI's job (``nvr.cli.bench_cmd``).

Units: MB and GB are decimal (10^6, 10^9 bytes), as bit rates are: a 4 Mbit/s stream is
0.5 MB/s, 1.8 GB an hour. Wall time is ``time.perf_counter``; CPU time is
``time.process_time`` (user + system, all threads of this process).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from nvr.bench.machine import Machine

SCHEMA_VERSION = 1


def document(name: str, result: Any, machine: Machine, when: datetime) -> dict[str, Any]:
    """The JSON document for one benchmark run: what ran, where, when, and its figures."""
    return {
        "schema": SCHEMA_VERSION,
        "benchmark": name,
        "timestamp": when.isoformat(),
        "machine": dataclasses.asdict(machine),
        "result": dataclasses.asdict(result),
    }
