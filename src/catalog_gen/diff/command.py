"""`catalog-gen diff --base REF`: plan the catalog at REF and in the work tree, render the chart of
each side for the services whose inputs differ, print the manifest diff.

Both sides are planned by this catalog-gen (the diff shows what the current generator makes of
the base catalog, not the base's committed generated/ files, which may be stale); each side uses
its own chart, lock and environments. Exit 0 whether or not anything differs, 1 when either
side's catalog is invalid (or helm refuses a service's values), 2 for usage errors (not a git
repository, an unknown REF, no helm).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.chart_templates import find_helm
from catalog_gen.diff import report as formats
from catalog_gen.diff.compare import Side, compare
from catalog_gen.diff.render import RenderError, service_inputs
from catalog_gen.diff.source import (
    GitError,
    extract,
    relative_to_root,
    repository_root,
    resolve_commit,
)
from catalog_gen.emit import argocd
from catalog_gen.emit.checks import check_planned
from catalog_gen.lock.lockfile import load_lock_models
from catalog_gen.plan.pipeline import plan_catalog
from catalog_gen.problems import Report, Severity

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
HEAD_LABEL = "work tree"


@dataclass(frozen=True)
class DiffRequest:
    base: str  # the git revision to compare with
    catalog: Path
    chart: Path
    display_root: str  # how the work tree's catalog is named in problems
    output_format: str  # text or markdown


def run_diff(request: DiffRequest, *, out: TextIO, err: TextIO) -> int:
    if not request.catalog.is_dir():
        err.write(f"catalog-gen: catalog directory {str(request.catalog)!r} not found\n")
        return EXIT_USAGE
    try:
        root = repository_root(request.catalog)
        commit = resolve_commit(root, request.base)
        paths = relative_to_root(root, request.catalog), relative_to_root(root, request.chart)
    except GitError as error:
        err.write(f"catalog-gen: {error}\n")
        return EXIT_USAGE
    helm = find_helm(request.chart)
    head_report, base_report = Report(), Report()
    head = plan_side(request.catalog, request.display_root, request.chart, head_report, HEAD_LABEL)
    with tempfile.TemporaryDirectory(prefix="catalog-gen-diff-base-") as temporary:
        try:
            base = _base_side(
                request.base, root, commit, paths, folder=Path(temporary), report=base_report
            )
        except GitError as error:
            err.write(f"catalog-gen: {error}\n")
            return EXIT_USAGE
        if not (head_report.ok and base_report.ok):
            return _invalid(head_report, base_report, out, err)
        try:
            comparison = compare(helm, base, head)
        except RenderError as error:
            err.write(f"catalog-gen: {error}\n")
            return EXIT_INVALID
    _warnings(head_report, err)
    if request.output_format == "markdown":
        out.write(formats.markdown(comparison))
    else:
        out.write(formats.text(comparison))
    err.write(f"catalog-gen: {formats.summary(comparison)}\n")
    return EXIT_OK


def _base_side(
    ref: str,
    root: Path,
    commit: str,
    paths: tuple[PurePosixPath, PurePosixPath],
    *,
    folder: Path,
    report: Report,
) -> Side:
    """The catalog and chart at commit, extracted under folder and planned; no services when
    the catalog did not exist there yet."""
    catalog, chart = paths
    if not extract(root, commit, catalog, folder):
        return Side(ref, folder / chart, {})
    if not extract(root, commit, chart, folder):
        raise GitError(f"{ref} has a catalog at {catalog} but no chart at {chart}")
    return plan_side(folder / catalog, f"{ref}:{catalog}", folder / chart, report, ref)


def plan_side(catalog: Path, display_root: str, chart: Path, report: Report, label: str) -> Side:
    """One side planned as `catalog-gen render` plans it (no cache: nothing is written)."""
    planned = plan_catalog(
        catalog, display_root, ChartContract.load(chart), report, lock_loader=load_lock_models
    )
    check_planned(planned, report)
    services = {inputs.key: inputs for inputs in map(service_inputs, planned.plans)}
    return Side(label, chart, services, argocd.deploy_files(planned))


def _invalid(head: Report, base: Report, out: TextIO, err: TextIO) -> int:
    """Both sides' problems (the base's paths start with REF:); exit 1."""
    out.write(head.format_text() + base.format_text())
    count = len(head.errors) + len(base.errors)
    err.write(f"catalog-gen: {count} problem{'s' if count != 1 else ''} found\n")
    return EXIT_INVALID


def _warnings(report: Report, err: TextIO) -> None:
    for problem in report.sorted():
        if problem.severity is Severity.WARNING:
            err.write(problem.format() + "\n")
