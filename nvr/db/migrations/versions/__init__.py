"""One module per schema revision, a linear chain: 0001, 0002, ...

A package (not a bare directory) so that installing Porchlight installs the scripts.
Revisions are frozen history: they spell out their tables with plain SQLAlchemy types and
never import ``nvr.db.models``, which only describes the newest schema.
"""
