"""Strings every YAML reader takes as strings: how catalog-gen writes text into YAML.

Helm reads values.yaml with go-yaml v2 (YAML 1.1: `y`, `n`, `on`, `off` are booleans, `1e3`,
`0x1f`, `0o7` and `1_000` numbers), Argo CD and kubectl read manifests the same way, Backstage
reads with a YAML 1.2 parser, and PyYAML's own resolver agrees with none of them exactly. So no
string is written plain: one-line text is double-quoted, multi-line text a literal block (or
double-quoted where a block cannot hold it). Mapping keys stay plain only when they cannot be
anything but a string in any of those readers (a letter, then letters, digits and `_./-`, not a
YAML 1.1 boolean or null word); every other key is double-quoted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*[A-Za-z0-9]")
# YAML 1.1 booleans and null (go-yaml v2 also reads y/Y/n/N), compared in lower case.
_RESERVED_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def plain_key(text: str) -> bool:
    """Whether text may be written as a plain mapping key and still be this string everywhere."""
    return _PLAIN_KEY.fullmatch(text) is not None and text.lower() not in _RESERVED_WORDS


def text_style(text: str, *, literal: bool = True) -> str:
    """The scalar style of a string value: a literal block for multi-line text, else quoted."""
    return "|" if literal and "\n" in text and not text[:1].isspace() else '"'


def represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(STR_TAG, text, style=text_style(text))


def represent_mapping_plain_keys(
    dumper: yaml.SafeDumper, tag: str, mapping: Mapping[Any, Any], flow_style: bool | None = None
) -> yaml.MappingNode:
    node = yaml.SafeDumper.represent_mapping(dumper, tag, mapping, flow_style)
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == STR_TAG and plain_key(key.value):
            key.style = None
    return node


def quoting_dumper(base: type[yaml.SafeDumper], name: str) -> type[yaml.SafeDumper]:
    """A subclass of base that writes every string as described in this module's docstring."""
    dumper: type[yaml.SafeDumper] = type(
        name, (base,), {"represent_mapping": represent_mapping_plain_keys}
    )
    dumper.add_representer(str, represent_text)
    return dumper
