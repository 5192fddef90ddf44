"""The JSON Schema: generated from the models, committed, and kept in sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nvr.config.schema import config_schema, schema_text

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "config" / "nvr.schema.json"
REGENERATE = "nvr config schema --output config/nvr.schema.json"


def test_committed_schema_is_in_sync() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        f"config/nvr.schema.json is out of date with the config models; regenerate it with: "
        f"{REGENERATE}"
    )


def test_schema_is_draft_2020_12_and_closed() -> None:
    schema = config_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Porchlight configuration"
    assert schema["additionalProperties"] is False
    assert all(d["additionalProperties"] is False for d in schema["$defs"].values())


def _property(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    node = schema
    for key in path:
        node = node["properties"][key]
        ref = node.get("$ref") or next(
            (o["$ref"] for o in node.get("anyOf", []) if "$ref" in o), None
        )
        if ref is not None and key != path[-1]:
            node = schema["$defs"][ref.rsplit("/", 1)[1]]
    return node


def _types(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in node.get("anyOf", [node]) if o.get("type") != "null"]


def test_secrets_are_write_only_strings() -> None:
    schema = config_schema()
    defs = schema["$defs"]
    for model, key in [
        ("CameraConfig", "password"),
        ("OnvifConfig", "password"),
        ("MqttConfig", "password"),
        ("WebhookConfig", "secret"),
        ("DatabaseConfig", "url"),
    ]:
        (node,) = _types(defs[model]["properties"][key])
        assert (node["type"], node["writeOnly"]) == ("string", True), (model, key)
        assert "default" not in node or node["default"] is None


def test_schema_carries_defaults_enums_and_bounds() -> None:
    schema = config_schema()
    port = _property(schema, "server", "port")
    assert (port["default"], port["minimum"], port["maximum"]) == (8443, 1, 65535)
    record = schema["$defs"]["CameraConfig"]["properties"]["record"]
    assert record["enum"] == ["continuous", "events", "off"]
    assert "description" in record


def test_schema_text_is_stable_json() -> None:
    assert schema_text() == schema_text()
    assert json.loads(schema_text()) == config_schema()
    assert schema_text().endswith("}\n")
