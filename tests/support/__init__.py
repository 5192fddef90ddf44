"""Fixtures and helpers for the suite's real components (cameras, namespaces, footage)."""
