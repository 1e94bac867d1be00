"""One leaf, planned: load, shape, path rules, then plan/service.py `plan_service`.

`plan_leaf` is a pure function of the leaf's bytes and the LeafContext (the same for every leaf
of a run), which is what lets the cache (catalog_gen/cache.py) and the forked planners
(plan/fresh.py) plan a leaf anywhere and get the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.rules import check_invalid_leaf_parts, check_leaf_path
from catalog_gen.check.shape import validate_document
from catalog_gen.load.document import load_document, parse_document
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.plan.service import LOCK_FILE, plan_service
from catalog_gen.plan.service_plan import ModelLockFacts, ServicePlan
from catalog_gen.problems import Report


@dataclass(frozen=True)
class LeafContext:
    """What planning one leaf reads besides the leaf itself (the same for every leaf)."""

    catalog: Path
    catalog_name: str
    environment_files: Mapping[str, Path]  # every environment file, valid or not
    environments: Mapping[str, Environment]  # the valid ones
    chart: ChartContract
    lock: ModelLockFacts | None
    enforce_lock: bool
    lock_display: str = LOCK_FILE


def plan_leaf(
    path: Path,
    relative: PurePosixPath,
    display: str,
    context: LeafContext,
    report: Report,
    *,
    raw: bytes | None = None,
) -> ServicePlan | None:
    """One leaf file, loaded (from raw when given), checked and planned; None if it cannot be."""
    if raw is None:
        document = load_document(path, display, report)
    else:
        document = parse_document(raw, path, display, report)
    if document is None:
        return None
    # Every environment file counts: one with errors has them reported on itself.
    check_leaf_path(document, relative, context.environment_files, report)
    # A leaf with shape problems is not planned: without the key its author misspelt, the later
    # stages would judge a default the author did not write (a derived host clashing with
    # another leaf's, a GPU budget over in the environment file), which would be false.
    leaf = validate_document(CatalogLeaf, document, report)
    if leaf is None:
        check_invalid_leaf_parts(document, report)
    environment = context.environments.get(relative.parts[0])
    if leaf is None or environment is None:
        return None
    return plan_service(
        document,
        leaf,
        environment,
        relative=relative,
        leaf_path=f"{context.catalog_name}/{relative}",
        chart=context.chart,
        lock=context.lock,
        report=report,
        enforce_lock=context.enforce_lock,
        lock_display=context.lock_display,
    )
