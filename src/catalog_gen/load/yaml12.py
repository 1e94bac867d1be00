"""Plain scalars that YAML 1.1 and YAML 1.2 read differently.

catalog-gen reads YAML 1.1 (PyYAML), as helm does; editors check a leaf against the published
JSON schema with YAML 1.2 readers (the YAML language server), and so do other tools a team may
point at the catalog. `enabled: yes` is true to the first and the text "yes" to the second,
`replicas: 010` is 8 and 10, `1:20` is 80 and a text, `1_000` is 1000 and a text, `1e3` is a
text and 1000.0. A leaf that means two things is refused (load/document.py) with both readings,
so its author writes the one meant; quoted text means the same to both.
"""

from __future__ import annotations

import math
import re
from typing import Any

# YAML 1.2's core schema (yaml.org/spec/1.2.2, 10.3.2): what a plain scalar resolves to there.
_NULLS = frozenset({"~", "null", "Null", "NULL", ""})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INFINITY = re.compile(r"([-+]?)\.(?:inf|Inf|INF)")
_NAN = frozenset({".nan", ".NaN", ".NAN"})
# A plain text YAML 1.1 keeps as text can be something else in 1.2 only if it starts so.
_NUMBER_START = frozenset("0123456789+-.")
_YAML11_ONLY_BOOLEANS = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"}
)


# ruamel.yaml's YAML 1.2 numbers (ruamel/yaml/resolver.py), wider than the core schema's (an
# underscore, a signed 0o octal): check-jsonschema reads leaves with it, so `1_0e5` and `+0o7`
# are numbers there and text to YAML 1.1 and 1.2.
_RUAMEL_NUMBER = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
)
# Plain scalars YAML 1.1 resolves to an indicator tag (PyYAML and ruamel.yaml alike: ruamel then
# cannot build the value, so check-jsonschema refuses the file), which are text in YAML 1.2.
_INDICATORS = {"=": "value", "<<": "merge"}


def second_reading(text: str, value: Any) -> str | None:
    """Why the plain scalar text, which YAML 1.1 reads as value, is ambiguous; None when YAML
    1.2 (and ruamel.yaml, check-jsonschema's reader) reads it alike."""
    shown = quoted_part(text)
    if text in _INDICATORS:
        return (
            f"{shown!r} is YAML 1.1's {_INDICATORS[text]} indicator (ruamel.yaml, which "
            "check-jsonschema reads with, cannot read the file) but a text in YAML 1.2: quote "
            f'it ("{shown}") for the text'
        )
    if "\t" in text:
        return (
            f"{shown!r} holds a tab: YAML allows it in an unquoted value, but ruamel.yaml, which "
            "check-jsonschema reads with, cannot read the file: quote the value"
        )
    if isinstance(value, str) and text[:1] not in _NUMBER_START:
        return None  # a text in 1.1 that is no number, boolean or null in 1.2 either
    if isinstance(value, bool) and text not in _YAML11_ONLY_BOOLEANS:
        return None
    other = yaml12_value(text)
    if type(other) is type(value) and (other == value or _both_nan(other, value)):
        if isinstance(value, str) and _RUAMEL_NUMBER.fullmatch(text):
            return (
                f"{shown!r} is a text in YAML 1.1 and 1.2 but a number to ruamel.yaml, which "
                f'check-jsonschema reads with: quote it ("{shown}") for the text'
            )
        return None
    readings = (
        f"{shown!r} is {_described(value)} in YAML 1.1, which catalog-gen reads, but "
        f"{_described(other)} in YAML 1.2 (editors checking the file against its JSON schema)"
    )
    if isinstance(value, str):
        return (
            f'{readings}: quote it ("{shown}") for the text, or write {_written(other)} for '
            f"{_described(other)}"
        )
    if isinstance(other, str):
        return (
            f"{readings}: write {_written(value)} for {_described(value)}, or quote it for the text"
        )
    # Both are values (010: 8 or 10): the editor shows the second, so both are offered.
    return (
        f"{readings}: write {_written(value)} for {_described(value)} or {_written(other)} for "
        f"{_described(other)}, or quote it for the text"
    )


def yaml12_value(text: str) -> Any:
    """What YAML 1.2's core schema reads the plain scalar text as."""
    if text in _NULLS:
        return None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if _INT.fullmatch(text):
        return int(text)
    if _OCTAL.fullmatch(text) or _HEX.fullmatch(text):
        return int(text, 0)
    if _FLOAT.fullmatch(text):
        return float(text)
    if infinity := _INFINITY.fullmatch(text):
        return -math.inf if infinity.group(1) == "-" else math.inf
    if text in _NAN:
        return math.nan
    return text


def _both_nan(first: Any, second: Any) -> bool:
    return (
        isinstance(first, float)
        and isinstance(second, float)
        and math.isnan(first)
        and math.isnan(second)
    )


_SHOWN_TEXT = 80  # the most of a text a message quotes


def quoted_part(text: str) -> str:
    """text as a message quotes it: its first 80 characters (a refused value may be 1 MiB)."""
    return text if len(text) <= _SHOWN_TEXT else text[:_SHOWN_TEXT] + "..."


_LONGEST_SHOWN_BITS = 300  # about 90 digits: longer integers are described by their length


def _described(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > _LONGEST_SHOWN_BITS:  # Python will not print past 4,300 digits
            return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    return "a text"


def _written(value: Any) -> str:
    """How to write a value that is no text so that both versions read it so."""
    return _described(value).removeprefix("the integer ").removeprefix("the number ")
