"""A fast "valid" verdict for JSON Schema, with python-jsonschema keeping the last word.

python-jsonschema takes about 5 ms to validate one service's effective chart values against the
chart's values.schema.json; jsonschema-rs (Rust, the same Draft 7 semantics) about 10 us. It is
used only to say "valid": a document it does not accept (or cannot take, such as a YAML
timestamp) goes to python-jsonschema, which decides and writes every message and location, so
problems read exactly as before. A test checks that jsonschema-rs never accepts what
python-jsonschema rejects on the chart's scenarios and on mutated values
(tests/unit/test_fast_schema.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jsonschema_rs

Verdict = Callable[[Any], bool]


def fast_validator(schema: Mapping[str, Any]) -> Verdict | None:
    """is_valid for schema, or None when jsonschema-rs cannot compile it (the caller then uses
    python-jsonschema alone). Formats are checked, so it is never laxer there."""
    try:
        validator = jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return None

    def is_valid(instance: Any) -> bool:
        try:
            return bool(validator.is_valid(instance))
        except (ValueError, TypeError, OverflowError):  # not JSON data: let python decide
            return False

    return is_valid
