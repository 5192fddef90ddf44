"""The JSON Schema of the config file, generated from the models.

Contract: ``schema_text()`` is deterministic (same models, same text) and is what
``nvr config schema`` prints and what ``config/nvr.schema.json`` holds; editors use it to
complete and check ``nvr.yaml``. Secrets are ``{"type": "string", "writeOnly": true}``.
"""

from __future__ import annotations

import json
from typing import Any

from nvr.config.models import Config

__all__ = ["config_schema", "schema_text"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file."""
    schema = Config.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "Porchlight configuration"}


def schema_text() -> str:
    """``config_schema()`` as indented JSON with a final newline."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
