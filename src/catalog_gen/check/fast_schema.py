r"""A fast "valid" verdict for JSON Schema, with python-jsonschema keeping the last word.

python-jsonschema takes about 5 ms to validate one service's effective chart values against the
chart's values.schema.json; jsonschema-rs (Rust, the same Draft 7 semantics) about 10 us. It is
used only to say "valid": a document it does not accept (or cannot take, such as a YAML
timestamp) goes to python-jsonschema, which decides and writes every message and location, so
problems read exactly as before. A test checks that jsonschema-rs never accepts what
python-jsonschema rejects on the chart's scenarios and on mutated values
(tests/unit/test_fast_schema.py). The two read a pattern's class escapes differently (`\s`,
`\d`, `\w`, `\b` are ECMA 262's in jsonschema-rs, Unicode-wide in Python's re: `\s` takes
U+001C there, not in ECMA 262, nor in helm's Go regexp): a schema whose patterns use them (but
for `[\s\S]`, any character in all three) gets no fast verdict, python-jsonschema judges it
alone. The chart's own patterns spell such classes out (a test keeps them so).

`per_key_verdict` makes it cheaper still where ChartContract validates per top-level key (the
schema's top-level keywords judge each top-level value on its own, and the chart's defaults are
valid): only the top-level values that are not the defaults' very objects go through the per-key
schema (a value coalesce left at its default is shared, not copied, and was judged valid with the
defaults), and the rules across top-level values (root `allOf`) see the whole effective values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import jsonschema_rs


class Verdict(Protocol):
    """is_valid(instance, known_valid): known_valid, when given, is an instance found valid
    whose top-level values, where they are the very objects of instance's, need no judging
    again."""

    def __call__(self, instance: Any, known_valid: Any = None) -> bool: ...


_ABSENT = object()  # no value of any instance


def fast_validator(schema: Mapping[str, Any]) -> Verdict | None:
    """is_valid for schema, or None when jsonschema-rs cannot compile it or reads one of its
    patterns otherwise than Python's re (the caller then uses python-jsonschema alone).
    Formats are checked, so it is never laxer there."""
    if dialect_escapes(schema):
        return None
    try:
        validator = jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return None

    def is_valid(instance: Any, known_valid: Any = None) -> bool:
        try:
            return bool(validator.is_valid(instance))
        except (ValueError, TypeError, OverflowError):  # not JSON data: let python decide
            return False

    return is_valid


def per_key_verdict(
    per_key_schema: Mapping[str, Any],
    cross_schema: Mapping[str, Any] | None,
    defaults: Mapping[str, Any],
) -> Verdict | None:
    """is_valid for the effective values (defaults coalesced with values) of a schema split in
    two: per_key_schema, whose top-level keywords judge each top-level value on its own, and
    cross_schema (None: none), the rules across top-level values. The caller promises that the
    defaults are valid against both; a top-level value that is the defaults' very object is then
    not judged again, nor one that is the very object it was in known_valid (an instance this
    verdict, or python-jsonschema, found valid: each of its top-level values is valid under the
    per-key schema). None when jsonschema-rs cannot compile either part."""
    per_key = fast_validator(per_key_schema)
    cross = fast_validator(cross_schema) if cross_schema is not None else None
    if per_key is None or (cross_schema is not None and cross is None):
        return None

    def is_valid(instance: Any, known_valid: Any = None) -> bool:
        if type(instance) is not dict:
            return per_key(instance) and (cross is None or cross(instance))
        known = known_valid if type(known_valid) is dict else {}
        changed = {
            key: value
            for key, value in instance.items()
            if value is not defaults.get(key, _ABSENT) and value is not known.get(key, _ABSENT)
        }
        return per_key(changed) and (cross is None or cross(instance))

    return is_valid


# A class escape ECMA 262 and Python's re read differently, unless it is in `[\s\S]` (anything).
_DIALECT_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\[sSdDwWbB]")
_ANYTHING = "[\\s\\S]"


def dialect_escapes(schema: Any) -> list[str]:
    """The patterns of a schema that use a class escape ECMA 262 and Python's re read
    differently."""
    return [
        pattern
        for pattern in schema_patterns(schema)
        if _DIALECT_ESCAPE.search(pattern.replace(_ANYTHING, ""))
    ]


def schema_patterns(node: Any) -> Iterator[str]:
    """Every regular expression of a schema: its `pattern` values and `patternProperties`
    keys, at any depth."""
    if isinstance(node, list):
        for item in node:
            yield from schema_patterns(item)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("pattern"), str):
        yield node["pattern"]
    properties = node.get("patternProperties")
    if isinstance(properties, dict):
        yield from properties
    for value in node.values():
        yield from schema_patterns(value)
