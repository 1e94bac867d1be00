"""`catalog-gen promote SERVICE --from ENV --to ENV`: a leaf copied into another environment.

The target leaf is the source's text with only the environment-bound scalars replaced, each
at its own place (comments, order and layout are kept; the result is parsed again and must be
exactly the source's data with those values changed):

- `environment`: the target's name;
- every string value that is a host name under the source environment's `baseDomain` (leaf
  hosts, additional hostnames, hosts in `chartValues`): the same labels under the target's.

What cannot be adapted without guessing is kept and said (warnings): hosts outside the source's
`baseDomain`, `gateway.parentRef`, `cache.storageClass` and `cache.existingClaim` (they name
things of the source's cluster). A `gpu.type` the target does not offer, a model the target's
lock lacks under `requireLock`, the GPU budget and every other rule are the target's own rules,
run on the whole catalog with the promoted leaf in place (scaffold/leaf_file.py): they block.
"""

from __future__ import annotations

import codecs
import copy
import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from catalog_gen.check.shape import validate_document
from catalog_gen.emit.yamltext import quoting_dumper
from catalog_gen.fields import WILDCARD_HOSTNAME
from catalog_gen.load.document import (
    ENVIRONMENTS_DIR,
    OUTSIDE_FILE,
    OUTSIDE_WHY,
    DataPath,
    Document,
    join_display,
    load_document,
    parse_document,
    resolves_outside,
)
from catalog_gen.models import Environment
from catalog_gen.problems import Report, Severity, json_path
from catalog_gen.scaffold.leaf_file import (
    CatalogAccess,
    LeafPlace,
    Scaffolded,
    ScaffoldUsageError,
    check_leaf,
    path_part,
    refuse_existing,
    utf8_argument,
    write_leaf,
)

_HOST = re.compile(WILDCARD_HOSTNAME)
# What follows a block scalar's indicators on its header line (`>-  # note`): spaces, a comment.
_HEADER_REST = re.compile(r" *(?:#.*)?\Z")
_LINE_BREAK = re.compile(r"[\r\n]")
_Dumper = quoting_dumper(yaml.SafeDumper, "PromotedScalarDumper")
# Leaf keys that name something of one environment's cluster: kept as they are, with a warning.
ENVIRONMENT_BOUND: dict[DataPath, str] = {
    ("gateway", "parentRef"): "names a Gateway of {source}'s cluster",
    ("cache", "storageClass"): "names a StorageClass of {source}'s cluster",
    ("cache", "existingClaim"): "names a PersistentVolumeClaim of {source}'s cluster",
}


@dataclass(frozen=True)
class Change:
    """One scalar of the source leaf replaced in the target leaf."""

    where: DataPath
    old: str
    new: str

    def describe(self) -> str:
        return f"{json_path(self.where)}: {self.old!r} -> {self.new!r}"


def find_source(catalog: CatalogAccess, source: str, service: str) -> LeafPlace:
    """SERVICE (unique in the environment) or NAMESPACE/SERVICE as the source leaf's place."""
    environment = path_part(source, "environment")
    parts = service.split("/")
    if len(parts) > 2:
        raise ScaffoldUsageError(f"{service!r} is not SERVICE or NAMESPACE/SERVICE")
    name = path_part(parts[-1], "service")
    root = catalog.path / environment
    if len(parts) == 2:
        place = LeafPlace(environment, path_part(parts[0], "namespace"), name)
        if not place.path(catalog).is_file():
            raise ScaffoldUsageError(f"{place.display(catalog)}: no such leaf")
        return place
    # The name as it is, not a pattern: `*` or `[i]` in SERVICE match no other leaf.
    found = sorted(
        path.parent.name for path in root.glob(f"*/{glob.escape(name)}.yaml") if path.is_file()
    )
    if not found:
        shown = join_display(catalog.display_root, Path(environment, "*", f"{name}.yaml"))
        raise ScaffoldUsageError(f"no service {name!r} in environment {environment!r} ({shown})")
    if len(found) > 1:
        listed = ", ".join(f"{namespace}/{name}" for namespace in found)
        raise ScaffoldUsageError(
            f"service {name!r} is in several namespaces of {environment!r}: {listed}; "
            "name one as NAMESPACE/SERVICE"
        )
    return LeafPlace(environment, found[0], name)


def promote(
    catalog: CatalogAccess,
    service: str,
    source_name: str,
    target_name: str,
    report: Report,
    *,
    dry_run: bool = False,
) -> Scaffolded:
    """The promoted leaf, checked with the target's rules and written when clean (place None
    when the source cannot be read: report says why); notes: the values adapted."""
    for option, text in (
        ("[NAMESPACE/]SERVICE", service),
        ("--from", source_name),
        ("--to", target_name),
    ):
        utf8_argument(option, text)
    path_part(target_name, "environment")
    if source_name == target_name:
        raise ScaffoldUsageError(f"--from and --to both name {source_name!r}")
    source = find_source(catalog, source_name, service)
    target = LeafPlace(target_name, source.namespace, source.service)
    if resolves_outside(str(source.path(catalog)), os.path.realpath(catalog.path)):
        report.add(source.display(catalog), 1, 1, "$", f"not read: {OUTSIDE_FILE}; {OUTSIDE_WHY}")
        return Scaffolded(None, b"", written=False)
    raw = source.path(catalog).read_bytes()
    document = parse_document(raw, source.path(catalog), source.display(catalog), report)
    if document is None:
        return Scaffolded(None, b"", written=False)
    environments = (_environment(catalog, source_name), _environment(catalog, target_name))
    changes = adapted(document.data, *environments, target_name)
    content = spliced(raw, document, changes)
    notes = tuple(change.describe() for change in changes)
    if refuse_existing(
        catalog,
        target,
        report,
        "`catalog-gen promote` never overwrites a leaf: edit it, or remove it and promote again",
    ):
        return Scaffolded(target, content, written=False, notes=notes)
    _, promoted = check_leaf(catalog, target, content, report)
    if promoted is not None:
        _warn_kept(promoted, changes, (source_name, target_name), environments, report)
    if not report.ok or dry_run:
        return Scaffolded(target, content, written=False, notes=notes)
    written = write_leaf(catalog, target, content, report)
    return Scaffolded(target, content, written, notes)


def _environment(catalog: CatalogAccess, name: str) -> Environment | None:
    """The environment's settings, or None when it is missing or invalid (the check of the
    promoted leaf reports that)."""
    path = catalog.path / ENVIRONMENTS_DIR / f"{name}.yaml"
    if not path.is_file() or resolves_outside(str(path), os.path.realpath(catalog.path)):
        return None  # the catalog reads no file outside it: the check reports that one
    scratch = Report()
    document = load_document(path, str(path), scratch)
    return None if document is None else validate_document(Environment, document, scratch)


def adapted(
    data: Any, source: Environment | None, target: Environment | None, target_name: str
) -> tuple[Change, ...]:
    """The scalars of the source leaf's data that change in the target environment."""
    changes: list[Change] = []
    if isinstance(data, dict) and isinstance(data.get("environment"), str):
        changes.append(Change(("environment",), data["environment"], target_name))
    old = source.base_domain if source is not None else None
    new = target.base_domain if target is not None else None
    if old is None or new is None or old == new:
        return tuple(changes)
    for where, value in _strings(data, ()):
        moved = _moved_host(value, old, new)
        if where != ("environment",) and moved is not None:
            changes.append(Change(where, value, moved))
    return tuple(changes)


def _strings(node: Any, where: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*where, index))


def _moved_host(value: str, old: str, new: str) -> str | None:
    """value under the domain old, moved under new; None when it is no host under old."""
    if _HOST.fullmatch(value) is None:
        return None
    if value == old:
        return new
    if value.endswith(f".{old}"):
        return value[: -len(old)] + new
    return None


def _warn_kept(
    promoted: Document,
    changes: tuple[Change, ...],
    names: tuple[str, str],
    environments: tuple[Environment | None, Environment | None],
    report: Report,
) -> None:
    """Warnings for the environment-bound values kept as they were (names and environments:
    the source's and the target's)."""
    source_name = names[0]
    changed = {change.where for change in changes}
    kept: list[tuple[DataPath, str]] = [
        (where, reason.format(source=source_name))
        for where, reason in ENVIRONMENT_BOUND.items()
        if promoted.has(where)
    ]
    hosts: list[DataPath] = [("ingress", "host")]
    additional = promoted.data.get("gateway", {})
    if isinstance(additional, dict) and isinstance(additional.get("additionalHostnames"), list):
        count = len(additional["additionalHostnames"])
        hosts += [("gateway", "additionalHostnames", index) for index in range(count)]
    why_host = _why_host_kept(names, environments)
    for where in hosts:
        if promoted.has(where) and where not in changed:
            kept.append((where, why_host))
    for where, reason in kept:
        line, column = promoted.position(where)
        report.add(
            promoted.display,
            line,
            column,
            where,
            f"kept from {source_name}: it {reason}; make sure it is right for "
            f"{promoted.data.get('environment')!r}",
            severity=Severity.WARNING,
        )


def _why_host_kept(
    names: tuple[str, str], environments: tuple[Environment | None, Environment | None]
) -> str:
    """Why promote moved no host here: adapted moves only hosts under the source's baseDomain,
    and only when both environments set one and they differ."""
    (source_name, target_name), (source, target) = names, environments
    old = source.base_domain if source is not None else None
    new = target.base_domain if target is not None else None
    if source is not None and old is None:
        return f"is a host, and {source_name} sets no baseDomain to move hosts from"
    if target is not None and new is None:
        return f"is a host, and {target_name} sets no baseDomain to move it under"
    if old is not None and old == new:
        return f"is a host, and {source_name} and {target_name} share the baseDomain {old}"
    if target is None and old is not None:  # the target environment is missing or invalid
        return f"is a host, and {target_name} has no valid environment file to move it under"
    if old is None:  # the source environment is missing or invalid (reported)
        return f"is a host, and only hosts under {source_name}'s baseDomain move"
    return f"is a host, and only hosts under {source_name}'s baseDomain ({old}) move"


def spliced(raw: bytes, document: Document, changes: tuple[Change, ...]) -> bytes:
    """The source's text with each changed scalar replaced where it stands (a quoted scalar
    from the project's emitter), every other byte kept; checked by parsing it again."""
    text = raw.decode("utf-8-sig")
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    spans = sorted(
        (_replacement(text, _node_at(root, change.where), change.new) for change in changes),
        reverse=True,
    )
    for start, end, replacement in spans:
        text = text[:start] + replacement + text[end:]
    content = bom + text.encode("utf-8")
    expected = copy.deepcopy(document.data)
    for change in changes:
        _set(expected, change.where, change.new)
    again = parse_document(content, document.path, document.display, Report())
    if again is None or again.data != expected:
        raise RuntimeError(f"promoting {document.display} changed more than {len(changes)} values")
    return content


def _replacement(text: str, node: ScalarNode, value: str) -> tuple[int, int, str]:
    """Where node stands in text (start, end) and the text to put there: value as a quoted
    scalar. A block scalar's (`|`, `>`) marks also cover the rest of its header line (spaces, a
    comment) and the line breaks (and blank lines) after its last line: those stay, around the
    new scalar, which takes the header's place."""
    start, end = node.start_mark.index, node.end_mark.index
    new = _scalar_text(value)
    if node.style not in ("|", ">"):
        return start, end, new
    span = text[start:end]
    header = _LINE_BREAK.split(span, maxsplit=1)[0]
    rest = _HEADER_REST.search(header)
    body = span[len(header) :]
    breaks = body[len(body.rstrip(" \r\n")) :]
    kept = (rest.group() if rest is not None else "") + breaks
    return start, end, new + kept


def _node_at(node: Node | None, where: DataPath) -> ScalarNode:
    for part in where:
        if isinstance(node, MappingNode) and isinstance(part, str):
            node = next(value for key, value in node.value if key.value == part)
        elif isinstance(node, SequenceNode) and isinstance(part, int):
            node = node.value[part]
        else:
            raise RuntimeError(f"no YAML node at {json_path(where)}")
    if not isinstance(node, ScalarNode):
        raise RuntimeError(f"no YAML scalar at {json_path(where)}")
    return node


def _scalar_text(value: str) -> str:
    """value as one double-quoted YAML scalar (emit/yamltext.py's style for one-line text)."""
    text = yaml.dump(value, Dumper=_Dumper, width=4096, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...")


def _set(data: Any, where: DataPath, value: str) -> None:
    for part in where[:-1]:
        data = data[part]
    data[where[-1]] = value
