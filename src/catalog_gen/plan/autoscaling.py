"""The generator's own autoscaling rules (docs/autoscaling.md, "The catalog side").

The chart owns the rules on its values (maxReplicas >= minReplicas, keda-http needs the
HTTPRoute, ...); what only the catalog knows lives here: scale to zero only where the
environment allows it, and how many replicas a service counts against the GPU budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog_gen.check.chart_contract import set_by
from catalog_gen.load.document import DataPath, Document
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.problems import Report


def autoscaled(effective: Mapping[str, Any]) -> bool:
    """Whether KEDA owns the replica count (the chart's autoscaling.enabled)."""
    return bool((effective.get("autoscaling") or {}).get("enabled"))


def scales_to_zero(effective: Mapping[str, Any]) -> bool:
    autoscaling = effective.get("autoscaling") or {}
    return autoscaled(effective) and bool((autoscaling.get("scaleToZero") or {}).get("enabled"))


def counted_replicas(effective: Mapping[str, Any]) -> int:
    """Replicas a service counts against the GPU budget: maxReplicas when it autoscales (KEDA
    may scale it that far), else its fixed replicaCount."""
    if autoscaled(effective):
        return int(effective["autoscaling"]["maxReplicas"])
    return int(effective.get("replicaCount", 1))


def check_scale_to_zero(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """Scale to zero (by the leaf or its chartValues) where the environment does not allow it."""
    settings = environment.autoscaling
    if not scales_to_zero(effective) or (settings is not None and settings.allow_scale_to_zero):
        return
    where: DataPath = ("autoscaling", "scaleToZero")
    if set_by(leaf.chart_values or {}, ("autoscaling", "scaleToZero", "enabled")):
        where = ("chartValues", "autoscaling", "scaleToZero", "enabled")
    document.add(
        report,
        where,
        f"environment {environment.environment!r} does not allow scale to zero "
        f"(environments/{environment.environment}.yaml: autoscaling.allowScaleToZero is "
        "false): the first request after an idle period would wait for a cold start; keep "
        "autoscaling.minReplicas running (remove scaleToZero) or allow it in the environment",
    )
