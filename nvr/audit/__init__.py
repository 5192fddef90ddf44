"""The tamper-evident audit log: canonical entries in an RFC 6962 Merkle tree, with signed
C2SP checkpoints and inclusion proofs. See docs/design/audit-log.md.

``merkle``, ``entry``, ``note``, ``proof`` and ``verify`` are pure; ``log`` is the
database-backed log (``AuditLog``) and the one place that does I/O.
"""
