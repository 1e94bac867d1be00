"""A fast writer of the block YAML the emitters write, for the data shape they write.

PyYAML's representer is pure Python and costs most of a cold render (about 1 ms a document).
`block_yaml` serializes (never concatenates YAML text from templates) plain data: dicts with
string keys, lists, strings, ints, floats, booleans and None, and writes exactly the bytes
`yaml.dump(data, Dumper=<a emit/yamltext.py quoting dumper>, default_flow_style=False,
allow_unicode=True, indent=2, width=W)` writes for W >= 4096 (tests/gitops/test_block_yaml.py
compares the two on random documents and on every rendered file). Anything outside that shape
gives None and the caller dumps with PyYAML: text other than printable ASCII and line breaks, a
quoted scalar longer than _LONGEST (PyYAML may fold it), a key longer than _LONGEST_KEY characters
or empty (PyYAML writes it as a complex key), a literal block PyYAML cannot write as one (a space
before a line break, a trailing space, several trailing line breaks), a list directly in a list,
the same dict or list twice (PyYAML writes an anchor and an alias), nesting deeper than
_DEEPEST, and any other type (tuples, subclasses).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from catalog_gen.emit.yamltext import plain_key, text_style

_LONGEST = 1000  # characters of a quoted scalar; with keys < 128 and indents < 200, < 4096 wide
_DEEPEST = 100
# PyYAML and libyaml write a key as a simple key while it and its tag (!!str) are < 128 long.
_LONGEST_KEY = 100
_QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # printable ASCII but '"' and '\'
_LITERAL = re.compile(r"[\x20-\x7e\n]*")
_LITERAL_NOT = re.compile(r" \n| $|\n\n$")


class _OutsideError(Exception):
    """The data is outside the shape this writer is proven equal to PyYAML on."""


def block_yaml(
    data: Any, *, sort_keys: bool, comments: Mapping[str, Sequence[str]] | None = None
) -> str | None:
    """data as PyYAML writes it in block style (see the module docstring); None when the data
    is outside the shape this writer handles. comments: lines (each with its `#` and line
    break) written above some top-level keys."""
    if type(data) is not dict or not data:
        return None
    writer = _Writer(sort_keys, comments or {})
    try:
        writer.mapping(data, 0, "")
    except _OutsideError:
        return None
    return "".join(writer.lines)


class _Writer:
    """The lines of one document. A key or an item and a scalar after it are one line (one
    string); the hot loops are inlined, since every service's values go through them."""

    def __init__(self, sort_keys: bool, comments: Mapping[str, Sequence[str]]) -> None:
        self.sort_keys = sort_keys
        self.comments = comments
        self.lines: list[str] = []
        self.seen: set[int] = set()  # the dicts and lists written (PyYAML aliases a repeat)

    def mapping(self, data: dict[Any, Any], indent: int, first: str) -> None:
        """A non-empty mapping at indent; its first key follows first (a sequence's "- ")."""
        self.enter(data, indent)
        items = sorted(data.items()) if self.sort_keys else list(data.items())
        comments = self.comments if indent == 0 else None
        pad = " " * indent
        prefix = first
        for key, value in items:
            if type(key) is not str:
                raise _OutsideError
            if comments and key in comments:
                self.lines.extend(comments[key])
            if type(value) is str and "\n" not in value:  # most lines: one quoted text
                self.lines.append(f"{prefix}{_key(key)}: {_quoted(value)}\n")
            else:
                self.value(f"{prefix}{_key(key)}:", value, indent, in_mapping=True)
            prefix = pad

    def sequence(self, data: list[Any], indent: int, first: str) -> None:
        """A non-empty sequence at indent (PyYAML does not indent one under a mapping key)."""
        self.enter(data, indent)
        pad = " " * indent
        prefix = first
        for item in data:
            if type(item) is list and item:
                raise _OutsideError
            self.value(f"{prefix}-", item, indent, in_mapping=False)
            prefix = pad

    def enter(self, data: object, indent: int) -> None:
        if id(data) in self.seen or indent > 2 * _DEEPEST:
            raise _OutsideError
        self.seen.add(id(data))

    def value(self, head: str, value: Any, indent: int, *, in_mapping: bool) -> None:
        """head (a key and its ':', or an item's '-'), what follows it on its line, and the
        lines below it."""
        kind = type(value)
        if kind is str:
            if "\n" in value and text_style(value) == "|":
                self.lines.append(head + _literal(value, indent + 2))
            else:
                self.lines.append(f"{head} {_quoted(value)}\n")
        elif kind is dict and value:
            if in_mapping:
                self.lines.append(head + "\n")
                self.mapping(value, indent + 2, " " * (indent + 2))
            else:
                self.lines.append(head)
                self.mapping(value, indent + 2, " ")
        elif kind is list and value:
            if not in_mapping:
                raise _OutsideError
            self.lines.append(head + "\n")
            self.sequence(value, indent, " " * indent)
        elif kind is dict or kind is list:
            self.enter(value, indent)  # empty, but PyYAML would still alias a repeat
            self.lines.append(f"{head} {_scalar(value)}\n")
        else:
            self.lines.append(f"{head} {_scalar(value)}\n")


@functools.lru_cache(maxsize=4096)  # the same keys come back in every document
def _key(key: str) -> str:
    if not key or len(key) > _LONGEST_KEY:
        raise _OutsideError
    return key if plain_key(key) else _quoted(key)


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _quoted(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    if kind is float:
        return _float(value)
    if kind is dict:
        return "{}"
    if kind is list:
        return "[]"
    raise _OutsideError


@functools.lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    if len(text) > _LONGEST or _QUOTABLE.fullmatch(text) is None:
        raise _OutsideError
    return f'"{text}"'


def _float(value: float) -> str:
    """PyYAML's SafeRepresenter.represent_float."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def _literal(text: str, indent: int) -> str:
    """A literal block scalar at indent (text has a line break and no leading white space)."""
    if _LITERAL.fullmatch(text) is None or _LITERAL_NOT.search(text) is not None:
        raise _OutsideError
    chomp = "" if text.endswith("\n") else "-"
    pad = " " * indent
    body = "".join(f"{pad}{line}\n" if line else "\n" for line in text.rstrip("\n").split("\n"))
    return f" |{chomp}\n{body}"
