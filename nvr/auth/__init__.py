"""Accounts and authorization for the dashboard (docs/design/auth.md).

- ``policy``: roles, permissions, the one role x permission table and ``decide``;
- ``passwords``: Argon2id hashes of viewer and installer passwords;
- ``throttle``: login backoff per account and per client address;
- ``sessions``: server-side sessions in memory, CSRF tokens, cookie attributes;
- ``users``: the ``users``, ``viewer_cameras`` and ``install_windows`` rows;
- ``deps``: the FastAPI dependency that applies all of the above to a request.

Importing this package loads nothing: each module imports its own libraries, so the CLI
does not pay for Argon2 or FastAPI (tests/test_imports.py).
"""
