"""Sharing (issue 7, docs/design/requests.md, SHARING.md): the owner's record of who asked
for footage and what was decided, legal holds, the transparency report; redaction, consent,
export bundles and share links live beside them in their own modules.

- ``nvr.sharing.requests``: the request log (``RequestLog``), its state machine and sealed
  paperwork (``Paperwork``); nothing is ever deleted.
- ``nvr.sharing.guidance``: plain-language notes per legal basis (not legal advice).
- ``nvr.sharing.report``: the transparency report, computed from the audit log only.
"""
