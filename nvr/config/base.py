"""The base class of every config section.

Contract: sections reject unknown keys, are frozen, carry no runtime state, take their field
descriptions from attribute docstrings (they end up in the JSON Schema), and keep input
values out of ``ValidationError`` text. A key present but left empty (YAML ``null``) takes
its default when that default is not ``None``: installers comment out every line under a
section header and expect the section's defaults, not an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.fields import FieldInfo


def _takes_default_for_null(field: FieldInfo) -> bool:
    if field.is_required():
        return False
    return field.default_factory is not None or field.default is not None


class Section(BaseModel):
    """A mapping in the config file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in fields and _takes_default_for_null(fields[key]))
        }
