"""Safe YAML loading that remembers where every value came from.

A leaf is parsed into plain data (dict, list, str, int, float, bool) plus a table of line/column
marks keyed by JSON path, so later stages can point at the offending node instead of the file.
Everything YAML can do beyond plain data is refused with a located Problem: duplicate keys,
aliases (the billion-laughs vector), non-core tags, several documents, non-mapping roots, huge or
deeply nested files, non-string keys.
"""

from __future__ import annotations

import importlib.util
import operator
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, ClassVar, Literal

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from catalog_gen.load.yaml12 import quoted_part, second_reading
from catalog_gen.problems import JsonPathPart, Report

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
LEAF_SUFFIX = ".yaml"
ENVIRONMENTS_DIR = "environments"
LOCK_FILE = "models.lock.yaml"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED_MOST = 65536  # scalar tags remembered (a plain scalar's tag depends on its text only)


def _pristine_resolver() -> Any:
    """PyYAML's resolver class as its module defines it, from a fresh copy of that module: its
    implicit resolvers are a class attribute every loader shares, which any library loaded in
    the same process may add to (yamllint, imported, reads `0o17` as an integer everywhere), and
    catalog-gen must read YAML 1.1 as PyYAML defines it, whatever else was loaded."""
    spec = importlib.util.find_spec("yaml.resolver")
    if spec is None or spec.loader is None:  # pragma: no cover - PyYAML is imported above
        raise ImportError("yaml.resolver cannot be loaded again")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Resolver


_PristineResolver = _pristine_resolver()


class _FastLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader with PyYAML's own implicit resolvers and no path resolvers (whatever
    another library added to the ones its loaders share), cheap where the composer calls it
    for every node of every leaf: a plain scalar's tag is remembered per text (the resolver's
    pattern matching ran for each, and leaves repeat the same texts), and descending and
    ascending the path resolvers, which do nothing without any, are C functions that do
    nothing (a Python call each, twice per node)."""

    yaml_implicit_resolvers = _PristineResolver.yaml_implicit_resolvers
    yaml_path_resolvers: ClassVar[dict[Any, str]] = {}
    descend_resolver = staticmethod(operator.is_)  # called with (parent, index)
    ascend_resolver = staticmethod(tuple)  # called with nothing

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode:  # without path resolvers: the default tags
            return _MAP if kind is MappingNode else _SEQ
        if not implicit[0]:  # a quoted or block scalar without a tag: text
            return _STR
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = str(super().resolve(kind, value, implicit))
            if len(_RESOLVED) >= _RESOLVED_MOST:
                _RESOLVED.clear()
            _RESOLVED[value] = tag
        return tag


_RESOLVED: dict[str, str] = {}  # a plain scalar's text -> its tag
_RESOLVER: Any = _PristineResolver()  # the loaders' resolver, for a tag not resolved yet
_PLAIN = (True, False)  # the resolver's `implicit` for a plain scalar without a tag
_READINGS: dict[str, str | None] = {}  # plain text -> why YAML 1.1 and 1.2 read it apart
_UNSEEN = "\0unseen"  # no verdict kept yet (a verdict is None or a message, never this)


_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {
    f"{_TAG}{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "value", "merge")
}
_STR, _INT, _FLOAT, _BOOL = (f"{_TAG}{name}" for name in ("str", "int", "float", "bool"))
_MERGE, _SEQ, _MAP = f"{_TAG}merge", f"{_TAG}seq", f"{_TAG}map"
_AS_TEXT = frozenset({_STR, f"{_TAG}timestamp", f"{_TAG}value", _MERGE})
_INDICATOR_TAGS = frozenset({f"{_TAG}value", _MERGE})
_CONSTRUCTOR = SafeConstructor()

Position = tuple[int, int]
DataPath = tuple[JsonPathPart, ...]


@dataclass
class Document:
    """One YAML file as data plus the 1-based position of every value and mapping key."""

    path: Path
    display: str
    data: Any
    value_marks: dict[DataPath, Position] = field(default_factory=dict)
    key_marks: dict[DataPath, Position] = field(default_factory=dict)

    def position(self, parts: Sequence[JsonPathPart]) -> Position:
        """Where the value at parts starts, or the nearest enclosing value that exists."""
        where = tuple(parts)
        while where not in self.value_marks and where:
            where = where[:-1]
        return self.value_marks.get(where, (1, 1))

    def key_position(self, parts: Sequence[JsonPathPart]) -> Position:
        """Where the mapping key naming parts starts (list items: the item itself)."""
        where = tuple(parts)
        if where in self.key_marks:
            return self.key_marks[where]
        return self.position(where)

    def has(self, parts: Sequence[JsonPathPart]) -> bool:
        return tuple(parts) in self.value_marks

    def first_present(self, candidates: Iterable[DataPath]) -> DataPath:
        """The first candidate path the document has, else the root."""
        for candidate in candidates:
            if self.has(candidate):
                return candidate
        return ()

    def add(
        self,
        report: Report,
        parts: Sequence[JsonPathPart],
        message: str,
        *,
        at_key: bool = False,
        hint: str | None = None,
    ) -> None:
        line, column = self.key_position(parts) if at_key else self.position(parts)
        report.add(self.display, line, column, list(parts), message, hint=hint)


class _YamlRefusedError(Exception):
    def __init__(
        self, position: Position, parts: DataPath, message: str, *, repeated: str = ""
    ) -> None:
        super().__init__(message)
        self.position = position
        self.parts = parts
        self.message = message
        # What a file may hold thousands of (aliases, duplicate keys): reported 20 at most.
        self.repeated = repeated


def load_document(path: Path, display: str, report: Report) -> Document | None:
    """Read one YAML file whose root must be a mapping; None (and Problems) if it cannot be used."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        report.add(display, 1, 1, "$", f"cannot read file: {error.strerror or error}")
        return None
    return parse_document(raw, path, display, report)


def parse_document(
    raw: bytes, path: Path, display: str, report: Report, *, max_bytes: int = MAX_FILE_BYTES
) -> Document | None:
    """raw as a Document whose root is a mapping; None (and located problems) if it cannot be
    used. The model lock is read with this too (with its own, larger, max_bytes)."""
    if len(raw) > max_bytes:
        report.add(
            display,
            1,
            1,
            "$",
            f"file is {len(raw)} bytes; catalog files are limited to {max_bytes} bytes",
        )
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # error.object: what was decoded, after a BOM (which the YAML reader does not see
        # either); the column in characters, as every other column.
        body = bytes(error.object)
        line = body.count(b"\n", 0, error.start) + 1
        start = body.rfind(b"\n", 0, error.start) + 1
        column = len(body[start : error.start].decode("utf-8")) + 1
        report.add(display, line, column, "$", "file is not valid UTF-8")
        return None
    if _one_one_breaks_reported(text, display, report):
        _non_printables_reported(text, display, report)  # every problem of the file, at once
        return None
    root = _compose_reported(text, display, report)
    if root is False:
        return None
    if root is None or (isinstance(root, ScalarNode) and root.value == "" and not root.style):
        # No document, or one with nothing in it (`---` alone, a `...`)
        report.add(display, 1, 1, "$", "file is empty; expected a mapping (key: value lines)")
        return None
    if not isinstance(root, MappingNode):
        line, column = _position(root)
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        report.add(display, line, column, "$", f"top level must be a mapping, not {kind}")
        return None
    document = Document(path=path, display=display, data=None)
    if not _build_reported(root, text, document, report):
        return None
    return document


# Line breaks to YAML 1.1 (PyYAML) and not to YAML 1.2, editors, diffs or `grep -n`: after a
# `#` they end the comment, so a value hidden in what every reviewer sees as a comment is read.
_ONE_ONE_BREAKS = re.compile("[\u0085\u2028\u2029]")
_BREAK_NAMES = {"\u0085": "NEXT LINE", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}


def _one_one_breaks_reported(text: str, display: str, report: Report) -> bool:
    """Every U+0085, U+2028 and U+2029 of text reported (at the line and column an editor
    shows); True when there was one."""
    found = False
    if text.isascii():  # most catalog files: none of them can be there
        return found
    for match in _ONE_ONE_BREAKS.finditer(text):
        found = True
        offset = match.start()
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        point = ord(match.group())
        report.add(
            display,
            line,
            column,
            "$",
            f"character U+{point:04X} ({_BREAK_NAMES[match.group()]}) ends a line for YAML 1.1 "
            "(catalog-gen's reading) but not for YAML 1.2, editors or a diff, so what follows "
            "it would be read as on a line of its own; remove it, or write it as the escape "
            f'"\\u{point:04x}" inside a double-quoted string',
        )
    return found


def _non_printables_reported(text: str, display: str, report: Report) -> bool:
    """Every character YAML does not allow in a file, reported where an editor shows it (libyaml
    gives a byte offset of the first only, the pure reader a character offset); whether there
    was one."""
    found = 0
    for match in yaml.reader.Reader.NON_PRINTABLE.finditer(text):
        found += 1
        if found > _MOST_CHARACTERS_SHOWN:  # a binary file: the first few say what it is
            continue
        offset = match.start()
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        point = ord(match.group())
        report.add(
            display,
            line,
            column,
            "$",
            f"invalid YAML: character U+{point:04X} is not allowed in a YAML file; write it as "
            f'the escape "\\u{point:04x}" inside a double-quoted string',
        )
    if found > _MOST_CHARACTERS_SHOWN:
        more = found - _MOST_CHARACTERS_SHOWN
        report.add(display, 1, 1, "$", f"invalid YAML: {more} more such characters")
    return found > 0


_MOST_CHARACTERS_SHOWN = 20


def _compose_reported(text: str, display: str, report: Report) -> Node | Literal[False] | None:
    """The YAML node tree of text (None when empty); False when it is not YAML (reported)."""
    try:
        return _compose(text)
    except yaml.reader.ReaderError:
        if not _non_printables_reported(text, display, report):
            report.add(display, 1, 1, "$", "invalid YAML: a character YAML does not allow")
        return False
    except yaml.MarkedYAMLError as error:
        mark, problem, hint = _yaml_error_place(error, text)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        if mark is not None and hint is None and _char_at(text, mark.line, mark.column) == "\t":
            hint = "YAML does not allow tabs for indentation: use spaces"
        report.add(display, line, column, "$", f"invalid YAML: {problem}", hint=hint)
        return False
    except yaml.YAMLError as error:
        report.add(display, 1, 1, "$", f"invalid YAML: {error}")
        return False


# What the parser was reading when it gave up, where that started is the place to fix: a quote,
# bracket or brace left open (it gives up at the end of the file, or lines later), a key without
# its ':' (it gives up on the next line).
_OPENED_CONTEXTS = (
    "while scanning a quoted scalar",
    "while parsing a flow mapping",
    "while parsing a flow sequence",
    "while scanning a simple key",
)
_LONGEST_IMPLICIT_KEY = 1024  # YAML 1.2 7.4.2: an implicit key is at most 1024 characters


def _yaml_error_place(
    error: yaml.MarkedYAMLError, text: str
) -> tuple[yaml.Mark | None, str, str | None]:
    """Where to report a YAML error, its message and a hint."""
    problem = " ".join(part for part in (error.context, error.problem) if part)
    if "expected a single document" in problem:
        problem = "file holds several YAML documents; a catalog file is exactly one mapping"
    opened, stopped = error.context_mark, error.problem_mark
    hint = _long_key_hint(text, stopped)
    if opened is None or stopped is None or not (error.context or "").startswith(_OPENED_CONTEXTS):
        return stopped or opened, problem, hint
    at_end = stopped.index >= len(text.rstrip("\0"))
    found = "" if at_end else _char_at(text, stopped.line, stopped.column)
    if found and found in _CLOSERS:
        return stopped, problem, hint  # a closer too many or of the wrong kind: there
    where = f"line {stopped.line + 1}, column {stopped.column + 1}"
    where = "the end of the file" if at_end else where
    return opened, f"{problem} (it starts here; the parser stopped at {where})", hint


_CLOSERS = "}]"


def _long_key_hint(text: str, stopped: yaml.Mark | None) -> str | None:
    """The implicit-key limit, where the parser stopped past it at a ':' with no key before it
    on the line (a long value holding ': ' is not a long key)."""
    if stopped is None or stopped.column <= _LONGEST_IMPLICIT_KEY:
        return None
    line = _line_at(text, stopped.line)
    if line[stopped.column : stopped.column + 1] != ":":
        return None
    if re.search(r":(\s|$)", line[: stopped.column]):  # a key ends before: this ':' is a value's
        return None
    return f"a key without quotes is at most {_LONGEST_IMPLICIT_KEY} characters: quote it"


def _build_reported(root: MappingNode, text: str, document: Document, report: Report) -> bool:
    """document.data from the mapping root, every use of YAML beyond plain data reported (all of
    them, in one run); False when there was one: the file is judged no further."""
    # An alias needs an anchor, and an anchor the '&' indicator: without one, no node can come
    # twice and the walk need not remember the nodes it saw.
    walk = _Walk(document, set() if "&" in text else None)
    refusals = walk.refusals
    try:
        document.data = _build(root, (), walk, 0)
    except _YamlRefusedError as too_deep:
        refusals.append(too_deep)
    if not refusals:  # every leaf of a clean catalog: nothing to count
        return True
    alias_count = sum(refused.message == "alias" for refused in refusals)
    aliases = iter(_alias_positions(text, min(alias_count, _MOST_SHOWN)))
    counts = Counter(refused.repeated for refused in refusals if refused.repeated)
    shown: Counter[str] = Counter()
    for refused in refusals:
        line, column = refused.position
        message = refused.message
        if refused.repeated:
            shown[refused.repeated] += 1
            if shown[refused.repeated] > _MOST_SHOWN:
                continue
            if message == "alias":
                line, column = next(aliases, refused.position)
                message = "YAML anchors and aliases are not allowed; write the value out in full"
            more = counts[refused.repeated] - shown[refused.repeated]
            if shown[refused.repeated] == _MOST_SHOWN and more:
                message += f" (and {more} more {refused.repeated} in this file)"
        report.add(document.display, line, column, list(refused.parts), message)
    # The data of a file YAML reads otherwise than its author may have meant (a value two
    # versions read apart, the one of two duplicate keys that wins) is not judged further:
    # what a later stage would say of it could be false about what was meant.
    return False


# A file of aliases or duplicate keys gets this many problems of each, the last counting the rest.
_MOST_SHOWN = 20


def _line_at(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line] if line < len(lines) else ""


def _char_at(text: str, line: int, column: int) -> str:
    return _line_at(text, line)[column : column + 1]


def _compose(text: str) -> Node | None:
    loader = _FastLoader(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _position(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


@dataclass
class _Walk:
    """What _build carries down the tree: the document's marks, the nodes seen (None: the text
    has no anchor, so no node can come twice) and the refusals found so far."""

    document: Document
    seen: set[int] | None
    refusals: list[_YamlRefusedError] = field(default_factory=list)
    # The document's marks, reached once here rather than through it for every node.
    value_marks: dict[DataPath, Position] = field(init=False)

    def __post_init__(self) -> None:
        self.value_marks = self.document.value_marks


def _build(node: Node, parts: DataPath, walk: _Walk, depth: int) -> Any:
    """The value of node; what YAML beyond plain data it uses goes to walk.refusals, and the
    walk goes on (only a depth past MAX_DEPTH is raised), so one run reports every such use."""
    seen = walk.seen
    if seen is not None and _seen_before(node, seen):
        # Not walked again: an alias may name a tree that grows exponentially with each use.
        walk.refusals.append(_YamlRefusedError(_position(node), parts, "alias", repeated="aliases"))
        return None
    if depth > MAX_DEPTH:
        raise _YamlRefusedError(
            _position(node), parts, f"nested deeper than {MAX_DEPTH} levels; not a catalog file"
        )
    mark = node.start_mark  # _position, inline: this runs for every value
    walk.value_marks[parts] = (mark.line + 1, mark.column + 1)
    if isinstance(node, ScalarNode):
        # Inline, not a call: this runs for every value (_two_readings says why).
        if not node.style and _READINGS.get(node.value, _UNSEEN) is not None:
            _two_readings(node, parts, walk.refusals)
        try:
            return _scalar(node, parts)
        except _YamlRefusedError as refused:
            walk.refusals.append(refused)
            return node.value
    if isinstance(node, SequenceNode):
        _require_tag(node, _SEQ, parts, walk.refusals)
        return [
            _build(item, (*parts, index), walk, depth + 1) for index, item in enumerate(node.value)
        ]
    if isinstance(node, MappingNode):
        _require_tag(node, _MAP, parts, walk.refusals)
        return _build_mapping(node, parts, walk, depth)
    raise _YamlRefusedError(_position(node), parts, "unsupported YAML node")  # pragma: no cover


def _build_mapping(node: MappingNode, parts: DataPath, walk: _Walk, depth: int) -> dict[str, Any]:
    """_build's mapping: an entry whose key is refused is left out; both values of a duplicate
    key are walked, so what either holds is reported."""
    mapping: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    refusals = walk.refusals
    for key_node, value_node in node.value:
        if walk.seen is not None and _seen_before(key_node, walk.seen):  # a key is a node too
            refusals.append(
                _YamlRefusedError(_position(key_node), parts, "alias", repeated="aliases")
            )
            continue
        try:
            key = _key(key_node, parts)
        except _YamlRefusedError as refused:
            refusals.append(refused)
            continue
        child = (*parts, key)
        if not key_node.style and _READINGS.get(key, _UNSEEN) is not None:
            _two_readings(key_node, child, refusals)
        position = _position(key_node)
        if key in mapping:
            message = (
                f"duplicate key {key!r} (first defined on line {key_lines[key]}); "
                "YAML keeps only the last of them, so say it once"
            )
            refusals.append(_YamlRefusedError(position, child, message, repeated="duplicate keys"))
        else:
            key_lines[key] = position[0]
        walk.document.key_marks[child] = position
        mapping[key] = _build(value_node, child, walk, depth + 1)
    return mapping


def _seen_before(node: Node, seen: set[int]) -> bool:
    """An alias composes to the very same node object twice (a tree has no shared nodes)."""
    if id(node) in seen:
        return True
    seen.add(id(node))
    return False


def _key(node: Node, parts: DataPath) -> str:
    if node.tag == _MERGE:
        raise _YamlRefusedError(
            _position(node), parts, "YAML merge keys (<<) are not allowed; write the keys out"
        )
    if not isinstance(node, ScalarNode) or node.tag != _STR:
        shown = node.value if isinstance(node, ScalarNode) else "a collection"
        raise _YamlRefusedError(
            _position(node),
            parts,
            f"mapping keys must be strings; {shown!r} is read as "
            f"{_kind_of_tag(node.tag)} (quote it if you meant the text)",
        )
    value: str = node.value
    return value


def _two_readings(node: ScalarNode, parts: DataPath, refusals: list[_YamlRefusedError]) -> None:
    """A plain (style "" from libyaml, None from PyYAML's own parser), untagged scalar whose text
    YAML 1.1 and 1.2 read apart is refused (`!!str 1` is text to both). The verdict is kept per
    text (_build looks it up first: a catalog repeats its texts, and every value and key is
    checked)."""
    text: str = node.value
    reading = _READINGS.get(text, _UNSEEN)
    if reading is _UNSEEN:
        if len(_READINGS) >= _RESOLVED_MOST:
            _READINGS.clear()
        reading = _READINGS[text] = _reading_of(text)
    if reading is not None and node.tag == _implicit_tag(text):
        refusals.append(_YamlRefusedError(_position(node), parts, str(reading)))


def _reading_of(text: str) -> str | None:
    """second_reading of a plain scalar's text, read as YAML 1.1 reads it untagged."""
    node = ScalarNode(_implicit_tag(text), text, start_mark=_NOWHERE)
    try:
        value = _scalar(node, ())
    except _YamlRefusedError:  # no value: refused as such where it is used (_build)
        return None
    return second_reading(text, value)


_NOWHERE = yaml.Mark("", 0, 0, 0, None, 0)  # the mark of a node made here, not read


def _implicit_tag(text: str) -> str:
    """The tag YAML 1.1 resolves a plain, untagged scalar's text to."""
    tag = _RESOLVED.get(text)
    if tag is None:
        tag = str(_RESOLVER.resolve(ScalarNode, text, _PLAIN))
    return tag


def _scalar(node: ScalarNode, parts: DataPath) -> Any:
    tag = node.tag
    if tag == _STR:  # most values: first, and nothing more to check
        return node.value
    if tag not in _SCALAR_TAGS:
        raise _YamlRefusedError(
            _position(node), parts, f"YAML tag {tag!r} is not allowed; use plain values"
        )
    if tag in _INDICATOR_TAGS and node.value not in ("=", "<<"):
        # `!!value x`: ruamel.yaml (check-jsonschema) cannot build it. A plain `=` or `<<` is
        # refused as read apart (load/yaml12.py); `<<` as a key in _key.
        raise _YamlRefusedError(
            _position(node), parts, f"YAML tag {tag!r} is not allowed; use plain values"
        )
    if tag in _AS_TEXT:
        # A date-like value stays the text the author wrote; no field wants a datetime.
        return node.value
    try:
        if tag == _INT:
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == _FLOAT:
            return _CONSTRUCTOR.construct_yaml_float(node)
        if tag == _BOOL:
            return _CONSTRUCTOR.construct_yaml_bool(node)
    except (ValueError, KeyError) as error:
        # An explicit tag (!!int 'abc'), a text YAML 1.1's pattern takes for a number that is
        # none (`0x_`), or a number Python will not build (thousands of digits).
        shown = quoted_part(node.value)
        kind = _kind_of_tag(tag)
        message = (
            f"{shown!r} is tagged !!{tag.removeprefix(_TAG)} but is not {kind}"
            if node.style or tag != _implicit_tag(node.value)
            else f"{shown!r} reads as {kind} in YAML 1.1 but is not one that can be read: "
            "quote it for the text"
        )
        raise _YamlRefusedError(_position(node), parts, message) from error
    return None


def _require_tag(node: Node, tag: str, parts: DataPath, refusals: list[_YamlRefusedError]) -> None:
    if node.tag != tag:
        message = f"YAML tag {node.tag!r} is not allowed; use plain values"
        refusals.append(_YamlRefusedError(_position(node), parts, message))


def _kind_of_tag(tag: str) -> str:
    return {
        f"{_TAG}int": "an integer",
        f"{_TAG}float": "a number",
        f"{_TAG}bool": "a boolean",
        f"{_TAG}null": "null",
    }.get(tag, "a non-string value")


def _alias_positions(text: str, wanted: int) -> list[Position]:
    """Exact position of the first `wanted` aliases, in the text's order (parsed only that far:
    the pure-Python parser takes seconds over a big file)."""
    found: list[Position] = []
    if wanted <= 0:
        return found
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            mark = event.start_mark
            if isinstance(event, yaml.AliasEvent) and mark is not None:
                found.append((mark.line + 1, mark.column + 1))
                if len(found) == wanted:
                    return found
    except yaml.YAMLError:  # pragma: no cover - the same text composed fine a moment ago
        return found
    return found


@dataclass(frozen=True)
class CatalogFiles:
    """The files of a catalog directory, sorted: environment files and leaves."""

    environments: dict[str, Path]
    leaves: list[Path]


@dataclass(frozen=True)
class _Found:
    """A path under the catalog that may hold catalog data; reason is set when it cannot."""

    relative: str  # POSIX text, relative to the catalog
    reason: str | None = None
    regular: bool = False  # a regular file, as its directory entry says (no stat needed)


_LEAF_LAYOUT = "leaves are files <environment>/<namespace>/<serviceName>.yaml"
_ENVIRONMENT_LAYOUT = "environment files are files environments/<environment>.yaml"
# Directories below this depth (catalog/<env>/<namespace>/...) are searched only to report what
# they hold; a symbolic link there is not followed (it could point anywhere, or at itself).
_FOLLOW_LINKS_DEPTH = 2


def discover(catalog: Path, display_root: str, report: Report) -> CatalogFiles:
    """Find `environments/<env>.yaml` and `<env>/<namespace>/<service>.yaml` under catalog.

    Every path that looks like catalog data (a `.yaml`/`.yml` name, or a directory that cannot
    be searched) is either read or reported: nothing that could be a leaf is skipped silently.
    Files at the catalog's top level are not leaves (the model lock; other YAML files there are
    reported); READMEs and other non-YAML files are ignored anywhere. Paths are text until a
    file is kept (a walk over every leaf, on every run: no pathlib object per entry).
    """
    environments: dict[str, Path] = {}
    leaves: list[Path] = []
    if not catalog.is_dir():
        report.add(display_root, 0, 0, "$", "catalog directory not found")
        return CatalogFiles(environments, leaves)
    root = os.fspath(catalog)
    real_root = os.path.realpath(root)
    for found in _catalog_paths(root, real_root):
        relative = found.relative
        parts = relative.split("/")
        reason = found.reason or _misplaced(root, real_root, parts, regular=found.regular)
        if reason is not None:
            report.add(join_display(display_root, PurePosixPath(relative)), 1, 1, "$", reason)
        elif parts[0] == ENVIRONMENTS_DIR:
            environments[parts[1][: -len(LEAF_SUFFIX)]] = catalog / relative
        elif len(parts) == 3:
            leaves.append(catalog / relative)
    return CatalogFiles(environments, leaves)


def _misplaced(catalog: str, real_root: str, parts: list[str], *, regular: bool) -> str | None:
    """Why a YAML-named path is not read, or None when it is an environment file or a leaf
    (the top-level lock is neither and reads as None too: plan/pipeline.py loads it itself)."""
    if len(parts) == 1:
        if parts[0] == LOCK_FILE:
            return None
        return f"not read: {_LEAF_LAYOUT}, {_ENVIRONMENT_LAYOUT}"
    is_environment = parts[0] == ENVIRONMENTS_DIR
    layout = _ENVIRONMENT_LAYOUT if is_environment else _LEAF_LAYOUT
    hidden = [part for part in parts if part.startswith(".")]
    if hidden:
        return f"not read: {hidden[0]!r} starts with '.' (hidden); {layout}"
    kind = None if regular else _file_kind(os.path.join(catalog, *parts), real_root)
    if kind == OUTSIDE_FILE:
        return f"not read: {kind}; {OUTSIDE_WHY}"
    if kind is not None:
        return f"is {kind}; {layout}"
    name = parts[-1]
    if not name.endswith(LEAF_SUFFIX):
        what = "environment files" if is_environment else "catalog leaves"
        return f"{what} use the .yaml extension; rename to {PurePosixPath(name).stem}.yaml"
    if is_environment:
        return (
            None if len(parts) == 2 else "environment files live at environments/<environment>.yaml"
        )
    if len(parts) != 3:
        return (
            "leaves live at <environment>/<namespace>/<serviceName>.yaml under the catalog "
            "directory"
        )
    return None


# A link may point anywhere: what the catalog renders (and what its errors quote) must come from
# the catalog's own files, which git holds, not from a file elsewhere on the machine running it.
OUTSIDE_FILE = "a symbolic link to a file outside the catalog directory"
_OUTSIDE_DIRECTORY = "a symbolic link to a directory outside the catalog directory"
OUTSIDE_WHY = (
    "catalog files are read only inside the catalog: move what it links to into the catalog "
    "(a link to a place inside the catalog is followed)"
)


def resolves_outside(path: str, real_root: str) -> bool:
    """Whether path's real path (every link followed) is outside real_root (a real path)."""
    real = os.path.realpath(path)
    return real != real_root and not real.startswith(os.path.join(real_root, ""))


def _file_kind(path: str, real_root: str) -> str | None:
    """None for a regular file, or a link to one inside real_root (the catalog's real path);
    else what it is, in words (OUTSIDE_FILE for a link to a regular file outside it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "gone (deleted while reading)"
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return "a directory"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if resolves_outside(path, real_root):
        return OUTSIDE_FILE
    return None


def _catalog_paths(catalog: str, real_root: str) -> list[_Found]:
    """Every YAML-named entry below catalog, every directory that cannot be searched, and every
    symbolic link to a directory that is not followed (deeper than a namespace, or resolving
    outside real_root: catalog's real path); sorted by path (as PurePosixPath sorts: part by
    part)."""
    found: list[_Found] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        try:
            with os.scandir(os.path.join(catalog, relative) if relative else catalog) as scan:
                entries = list(scan)
        except OSError as error:
            found.append(_Found(relative, f"directory cannot be read: {error.strerror or error}"))
            continue
        depth = relative.count("/") + 2 if relative else 1  # the parts of a child's path
        for entry in entries:
            child = f"{relative}/{entry.name}" if relative else entry.name
            named_yaml = entry.name.lower().endswith((".yml", LEAF_SUFFIX))
            if named_yaml:
                found.append(_Found(child, regular=_is_regular(entry)))
            if entry.name == ".git" or not _is_directory(entry):
                continue
            refused = _link_refused(catalog, child, entry, depth, real_root)
            if refused is not None:
                if not named_yaml:  # else reported above as a YAML name that is no file
                    found.append(_Found(child, refused))
                continue
            pending.append(child)
    return sorted(found, key=lambda item: item.relative.split("/"))


def _link_refused(
    catalog: str, child: str, entry: os.DirEntry[str], depth: int, real_root: str
) -> str | None:
    """Why the directory entry (a directory) is not searched, or None: a symbolic link is
    followed only as an environment or namespace directory inside the catalog (a directory
    that is no link lies inside it whenever its parent does)."""
    if not entry.is_symlink():
        return None
    if depth > _FOLLOW_LINKS_DEPTH:
        return f"not read: a symbolic link to a directory; {_LEAF_LAYOUT}"
    if resolves_outside(os.path.join(catalog, child), real_root):
        return f"not read: {_OUTSIDE_DIRECTORY}; {OUTSIDE_WHY}"
    return None


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """A regular file, not a link (the directory listing's type: no stat on Linux)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _is_directory(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def join_display(display_root: str, relative: PurePath | str) -> str:
    """A path as the user would type it: the catalog argument joined with the relative path
    (a path, or its POSIX text)."""
    text = relative if isinstance(relative, str) else relative.as_posix()
    if display_root in ("", "."):
        return text
    return f"{display_root.rstrip('/')}/{text}"
