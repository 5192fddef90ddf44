"""ClipCache: LRU by count and bytes, entries expire after the TTL."""

from __future__ import annotations

from nvr.clock import FakeClock
from nvr.playback import ClipCache


def test_lru_count_bytes_and_ttl() -> None:
    clock = FakeClock()
    cache: ClipCache[str] = ClipCache(clock, entries=2, max_bytes=100, ttl=10.0)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("c", "C", 10)  # over the count: b goes
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == ("A", "C")
    cache.put("d", "D", 80)  # over the bytes: the oldest go until it fits
    assert cache.get("a") is None
    assert cache.size == 90
    assert len(cache) == 2
    cache.put("huge", "H", 101)  # larger than the budget: never kept
    assert cache.get("huge") is None
    clock.advance(10.5)
    assert cache.get("d") is None
    assert len(cache) == 0
    cache.put("e", "E", 1)
    cache.clear()
    assert cache.get("e") is None
