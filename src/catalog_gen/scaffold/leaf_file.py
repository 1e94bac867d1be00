"""One leaf checked as if it were in the catalog, then written, or nothing written.

`new` and `promote` build a leaf's bytes in memory, plan the whole catalog with it in place
(plan/pipeline.py's `unwritten`: the same rules as `validate`, cross-leaf ones included) and
keep the problems of that leaf, of the environment files and of the model lock, as
`catalog-gen validate LEAF` would. Only a clean result is written, under a temporary name in the
leaf's directory and linked to its name, which fails if the name exists: a leaf is never
overwritten and never seen half-written.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.emit.checks import check_planned
from catalog_gen.emit.yamltext import quoting_dumper
from catalog_gen.load.document import (
    LOCK_FILE,
    OUTSIDE_WHY,
    Document,
    join_display,
    parse_document,
    resolves_outside,
)
from catalog_gen.plan.pipeline import CatalogPlan, LeafPlanner, LockLoader, plan_catalog
from catalog_gen.problems import Report

# The modeline every leaf starts with (catalog/<env>/<namespace>/<service>.yaml, schemas/ beside
# catalog/), so editors validate as you type.
MODELINE = "# yaml-language-server: $schema=../../../schemas/catalog-leaf.schema.json\n"
_Dumper = quoting_dumper(yaml.SafeDumper, "LeafDumper")


class ScaffoldUsageError(Exception):
    """The command line names no leaf it can work on (exit 2)."""


@dataclass(frozen=True)
class CatalogAccess:
    """The catalog as the command line gave it, and how to plan it."""

    path: Path
    display_root: str
    chart: ChartContract
    lock_loader: LockLoader
    cache: LeafPlanner | None = None


@dataclass(frozen=True)
class LeafPlace:
    """Where a leaf lives: <catalog>/<environment>/<namespace>/<service>.yaml."""

    environment: str
    namespace: str
    service: str

    @property
    def relative(self) -> PurePosixPath:
        return PurePosixPath(self.environment, self.namespace, f"{self.service}.yaml")

    def path(self, catalog: CatalogAccess) -> Path:
        return catalog.path.joinpath(*self.relative.parts)

    def display(self, catalog: CatalogAccess) -> str:
        return join_display(catalog.display_root, self.relative)


@dataclass(frozen=True)
class Scaffolded:
    """What `new` or `promote` built: the leaf's place (None when there is none to show), its
    bytes, whether they were written, and what was adapted."""

    place: LeafPlace | None
    content: bytes
    written: bool
    notes: tuple[str, ...] = ()


def path_part(text: str, what: str) -> str:
    """text as one component of a catalog path; ScaffoldUsageError if it cannot be one (the
    names' own rules are the leaf's, checked with the leaf)."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise ScaffoldUsageError(f"{what} {text!r} is not a name")
    return text


def utf8_argument(what: str, text: str | None) -> None:
    """ScaffoldUsageError when text holds bytes that are not UTF-8: Python hands them over as
    lone surrogates (surrogateescape), which the leaf's YAML would write as escapes no reader
    takes, so the error would otherwise name the leaf, a file the user never wrote."""
    if text is None:
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise ScaffoldUsageError(f"{what} '{shown}' is not valid UTF-8") from None


def leaf_bytes(data: dict[str, Any], comments: str = "") -> bytes:
    """A leaf as YAML: the modeline, comments (whole lines), then data in its key order, every
    string quoted (emit/yamltext.py)."""
    body = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return (MODELINE + comments + body).encode("utf-8")


def check_leaf(
    catalog: CatalogAccess, place: LeafPlace, content: bytes, report: Report
) -> tuple[CatalogPlan, Document | None]:
    """Plan the catalog with content at place; report keeps what `validate` of that leaf would
    print. Also the leaf's Document (None when it is not a YAML mapping), for the caller's
    own problems."""
    display = place.display(catalog)
    everything = Report()
    planned = plan_catalog(
        catalog.path,
        catalog.display_root,
        catalog.chart,
        everything,
        lock_loader=catalog.lock_loader,
        cache=catalog.cache,
        unwritten={place.path(catalog): content},
    )
    check_planned(planned, everything)
    keep = {display, join_display(catalog.display_root, PurePosixPath(LOCK_FILE))}
    keep |= set(planned.environment_displays)
    report.extend(problem for problem in everything.problems if problem.path in keep)
    elsewhere = folder_elsewhere(catalog, place)
    if elsewhere is not None:
        report.add(display, 1, 1, "$", elsewhere)
    document = parse_document(content, place.path(catalog), display, Report())
    return planned, document


def folder_elsewhere(catalog: CatalogAccess, place: LeafPlace) -> str | None:
    """Why a leaf cannot be written at place when its folder is a link to another folder of the
    catalog (qa/shared -> ../dev/shared): the leaf was planned where it was asked for, and would
    be read where it lands, as another environment's or namespace's leaf."""
    real_root = os.path.realpath(catalog.path)
    real = os.path.realpath(place.path(catalog).parent)
    expected = os.path.join(real_root, place.environment, place.namespace)
    if real == expected or resolves_outside(real, real_root):
        return None  # outside: write_leaf refuses it (resolves_outside)
    landed = PurePosixPath(os.path.relpath(real, real_root))
    return (
        f"not written: its folder is a link to {landed.as_posix()} in the catalog, where it "
        f"would be read as a leaf of that folder, not of {place.environment}/{place.namespace}"
    )


def refuse_existing(catalog: CatalogAccess, place: LeafPlace, report: Report, advice: str) -> bool:
    """True (and a problem) when place already holds a file, or anything else."""
    if not os.path.lexists(place.path(catalog)):
        return False
    report.add(place.display(catalog), 1, 1, "$", f"already exists; {advice}")
    return True


def write_leaf(catalog: CatalogAccess, place: LeafPlace, content: bytes, report: Report) -> bool:
    """content written at place, whole, unless place exists by then (a problem): True if written."""
    target = place.path(catalog)
    if resolves_outside(str(target.parent), os.path.realpath(catalog.path)):
        report.add(
            place.display(catalog),
            1,
            1,
            "$",
            f"not written: its folder links outside the catalog directory; {OUTSIDE_WHY}",
        )
        return False
    elsewhere = folder_elsewhere(catalog, place)
    if elsewhere is not None:
        report.add(place.display(catalog), 1, 1, "$", elsewhere)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # as open() would have created it
        os.link(temporary, target)  # fails if target exists: never overwrites
    except FileExistsError:
        report.add(place.display(catalog), 1, 1, "$", "already exists (created meanwhile)")
        return False
    finally:
        os.unlink(temporary)
    return True


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
