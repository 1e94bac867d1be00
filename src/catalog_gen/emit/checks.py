"""The emit-stage checks of a planned catalog: what would make the generated files wrong (Argo CD:
environment settings, namespaces, names; errors) or leave a service out of them (Backstage: no
Component without an owner or a usable name; warnings, the service still deploys).

Every command that plans the catalog and reports its problems calls `check_planned` once after
`plan_catalog` (validate, render, check, backstage, diff, new, promote). The checks read the
services' LeafFacts and the environments, never a ServicePlan, so an incremental render loads no
plan for them; they run on every run, cached leaves included, since the cache keeps only each
leaf's own problems.
"""

from __future__ import annotations

from catalog_gen.emit import argocd, backstage
from catalog_gen.plan.pipeline import CatalogPlan
from catalog_gen.problems import Report


def check_planned(catalog: CatalogPlan, report: Report) -> None:
    """Add the Argo CD and Backstage problems of catalog to report, only those of the files the
    command reports on (CatalogPlan.kept: `validate FILE...` names a few)."""
    found = Report()
    argocd.check_catalog(catalog, found)
    backstage.check_catalog(catalog, found)
    kept = catalog.kept
    report.extend(problem for problem in found.problems if kept is None or problem.path in kept)
