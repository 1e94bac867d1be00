"""A fast writer of `json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)`.

With `indent`, json.dumps runs the pure-Python encoder, a generator per container. app.json is
written for every service, so `indented_json` writes the same text in one recursive pass, with
json's own C string encoder for every key and string. It takes plain data only: dicts with string
keys, lists, strings, ints, finite floats, booleans and None, nested at most _DEEPEST levels;
anything else (a subclass, a tuple, a non-string key, NaN) gives None and the caller calls
json.dumps. tests/gitops/test_json_text.py compares the two on random data.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # what json.dumps uses with ensure_ascii=False
from typing import Any

_DEEPEST = 100


class _OutsideError(Exception):
    """The data is outside what this writer is proven equal to json.dumps on."""


def indented_json(data: Any) -> str | None:
    """json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False), or None (see above)."""
    parts: list[str] = []
    try:
        _write(data, "\n", parts, 0)
    except _OutsideError:
        return None
    return "".join(parts)


def _write(value: Any, newline: str, parts: list[str], depth: int) -> None:
    """value at the indentation newline ends with: its first line follows what parts hold."""
    kind = type(value)
    if kind is str:
        parts.append(encode_basestring(value))
    elif kind is dict or kind is list:
        _container(value, newline, parts, depth)
    elif value is None:
        parts.append("null")
    elif kind is bool:
        parts.append("true" if value else "false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is float and math.isfinite(value):
        parts.append(float.__repr__(value))
    else:
        raise _OutsideError


def _container(
    value: dict[Any, Any] | list[Any], newline: str, parts: list[str], depth: int
) -> None:
    if not value:
        parts.append("{}" if type(value) is dict else "[]")
        return
    if depth >= _DEEPEST:
        raise _OutsideError
    inner = newline + "  "
    separator = inner
    if type(value) is dict:
        if any(type(key) is not str for key in value):
            raise _OutsideError
        parts.append("{")
        for key in sorted(value):
            parts.append(f"{separator}{encode_basestring(key)}: ")
            _write(value[key], inner, parts, depth + 1)
            separator = "," + inner
        parts.append(newline + "}")
        return
    parts.append("[")
    for item in value:
        parts.append(separator)
        _write(item, inner, parts, depth + 1)
        separator = "," + inner
    parts.append(newline + "]")
