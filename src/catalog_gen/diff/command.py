"""`catalog-gen diff --base REF`: plan the catalog at REF and in the work tree, render the chart of
each side for the services whose inputs differ, print the manifest diff.

The work tree's side is what this catalog-gen plans (what render will commit). The base side is
what Argo CD deploys from REF: a service's values are REF's committed generated values file where
REF has one (a catalog-gen upgrade that changes a value, a claim's size, shows as the change it
is), else what this catalog-gen plans for the base catalog (a repository that does not commit
generated/, a service new at REF); release, namespace and sync policy come from the base's plan.
Each side uses its own chart, lock and environments. Exit 0 whether or not anything differs, 1
when either side's catalog is invalid (or helm refuses a service's values), 2 for usage errors
(not a git repository, an unknown REF, no helm).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TextIO

import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.chart_templates import find_helm
from catalog_gen.diff import report as formats
from catalog_gen.diff.compare import Committed, Side, compare
from catalog_gen.diff.render import Footprint, RenderError, effective_footprint, service_inputs
from catalog_gen.diff.source import (
    GitError,
    extract,
    read_named,
    relative_to_root,
    repository_root,
    resolve_commit,
)
from catalog_gen.emit import argocd
from catalog_gen.emit.checks import check_planned
from catalog_gen.emit.values import VALUES_FILE
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
    # The generated tree, whose values files at REF Argo CD deploys (None: generated/ here).
    out: Path | None = None


def run_diff(request: DiffRequest, *, out: TextIO, err: TextIO) -> int:
    if not request.catalog.is_dir():
        err.write(f"catalog-gen: catalog directory {str(request.catalog)!r} not found\n")
        return EXIT_USAGE
    try:
        root = repository_root(request.catalog)
        commit = resolve_commit(root, request.base)
        paths = _paths(root, request)
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
    source = formats.base_source(comparison)
    if source is not None:
        err.write(f"catalog-gen: {source}\n")
    err.write(f"catalog-gen: {formats.summary(comparison)}\n")
    return EXIT_OK


@dataclass(frozen=True)
class BasePaths:
    """Where the base side's files are at any commit (relative to the top of the work tree)."""

    catalog: PurePosixPath
    chart: PurePosixPath
    out: PurePosixPath | None  # the generated tree; None outside the work tree


def _paths(root: Path, request: DiffRequest) -> BasePaths:
    """The request's folders relative to root (a GitError where one lies outside it). Only
    the default generated tree may: then no service's values are read from REF."""
    catalog, chart = relative_to_root(root, request.catalog), relative_to_root(root, request.chart)
    if request.out is not None:
        return BasePaths(catalog, chart, relative_to_root(root, request.out))
    try:
        return BasePaths(catalog, chart, relative_to_root(root, Path(argocd.GENERATED_DIR)))
    except GitError:
        return BasePaths(catalog, chart, None)


def _base_side(
    ref: str, root: Path, commit: str, paths: BasePaths, *, folder: Path, report: Report
) -> Side:
    """The catalog and chart at commit, extracted under folder and planned, each service's values
    then replaced by the commit's generated values file where it has one; no services when the
    catalog did not exist there yet."""
    catalog, chart = paths.catalog, paths.chart
    if not extract(root, commit, catalog, folder):
        return Side(ref, folder / chart, {})
    if not extract(root, commit, chart, folder):
        raise GitError(f"{ref} has a catalog at {catalog} but no chart at {chart}")
    planned = plan_side(folder / catalog, f"{ref}:{catalog}", folder / chart, report, ref)
    if not report.ok or paths.out is None:
        return planned
    return deployed(planned, read_named(root, commit, paths.out, VALUES_FILE), str(paths.out))


def deployed(planned: Side, committed: Mapping[PurePosixPath, bytes], folder: str) -> Side:
    """planned with the values Argo CD deploys: the committed file of each service that has one
    (by <env>/<namespace>/<service> under the generated tree folder), rendered with the side's
    chart. The footprint is the file's too (the chart's defaults coalesced with it, as helm
    does)."""
    keys = frozenset(key for key in planned.services if PurePosixPath(key) in committed)
    unlike = frozenset(
        key for key in keys if committed[PurePosixPath(key)] != planned.services[key].values
    )
    services = dict(planned.services)
    if unlike:
        contract = ChartContract.load(planned.chart)  # only for files unlike the plan's
        for key in unlike:
            values = committed[PurePosixPath(key)]
            footprint = _footprint(contract, values, services[key].footprint)
            services[key] = replace(services[key], values=values, footprint=footprint)
    found = Committed(folder, keys, unlike) if keys else None
    return replace(planned, services=services, committed=found)


def _footprint(contract: ChartContract, values: bytes, planned: Footprint) -> Footprint:
    """The footprint of a committed values file; the plan's where the file is not a YAML
    mapping of the types the chart takes (helm then refuses it, and the diff says so)."""
    try:
        document = yaml.safe_load(values)
        if isinstance(document, dict):
            return effective_footprint(contract.effective(document))
    except (yaml.YAMLError, TypeError, ValueError):
        pass
    return planned


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
