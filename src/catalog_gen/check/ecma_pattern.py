r"""JSON Schema's `pattern` as ECMA 262 (and helm's Go regexp) read it, for python-jsonschema.

python-jsonschema searches a pattern with Python's re, whose `$` also matches before a final
line break: `^[a-z]+$` accepts "high\n", which helm's schema check (Go's regexp), jsonschema-rs
and ECMA 262 all refuse, so a value written as a YAML block scalar (`|`, which keeps its last
line break) would pass catalog-gen and fail helm. Here `$` outside a character class means the
end of the text (`\Z`); the rest of the pattern is read by re as before. The class escapes
(`\d`, `\s`, `\w`) differ too, and check/fast_schema.py keeps the chart's patterns free of them.
Only the `pattern` keyword (which `propertyNames` uses for keys) is changed: a schema with
`patternProperties` would still see Python's `$` in them (the chart has none; a test keeps it so).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    """pattern for re, its `$` the end of the text (ECMA 262 without the m flag)."""
    return re.compile(_end_anchored(pattern))


def _end_anchored(pattern: str) -> str:
    parts: list[str] = []
    escaped = False
    opened = -1  # where the character class being read began (its "["), else -1
    for character in pattern:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif opened >= 0:
            # A "]" first in a class (after "[" or "[^") is one of its characters.
            if character == "]" and "".join(parts[opened + 1 :]) not in ("", "^"):
                opened = -1
        elif character == "[":
            opened = len(parts)
        elif character == "$":
            parts.append(r"\Z")
            continue
        parts.append(character)
    return "".join(parts)


@functools.cache
def with_ecma_patterns(validator_class: Any) -> Any:
    """validator_class with the `pattern` keyword read as ECMA 262 reads it (one class per
    draft)."""
    import jsonschema  # noqa: PLC0415 - only where a verdict needs python-jsonschema's words

    extend: Any = jsonschema.validators.extend  # untyped in its stubs
    return extend(validator_class, {"pattern": _pattern})


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    import jsonschema  # noqa: PLC0415 - loaded already: this runs inside its validation

    if validator.is_type(instance, "string") and not compiled(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")
