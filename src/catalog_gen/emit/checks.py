"""The emit-stage checks of a planned catalog: what would make the generated files wrong (Argo CD:
environment settings, namespaces, names; errors) or leave a service out of them (Backstage: no
Component without an owner or a usable name; warnings, the service still deploys).

Every command that plans the catalog and reports its problems calls `check_planned` once after
`plan_catalog` (validate, render, check, backstage, diff, new, promote). The checks read the
services' LeafFacts and the environments, never a ServicePlan, so an incremental render loads no
plan for them; with the cache (validate, render, check) their problems are reused while every
service's facts and every environment file are the ones they last ran on (plan/pipeline.py
`run_rules`).
"""

from __future__ import annotations

from catalog_gen.emit import argocd, backstage
from catalog_gen.plan.pipeline import CatalogPlan, RulesMemory, run_rules
from catalog_gen.problems import Report


def check_planned(catalog: CatalogPlan, report: Report, memory: RulesMemory | None = None) -> None:
    """Add the Argo CD and Backstage problems of catalog to report, only those of the files the
    command reports on (CatalogPlan.kept: `validate FILE...` names a few). memory: the cache,
    which remembers what they found."""

    def checks(found: Report) -> None:
        argocd.check_catalog(catalog, found)
        backstage.check_catalog(catalog, found)

    found = Report()
    run_rules("emit checks", catalog.services, checks, found, memory)
    kept = catalog.kept
    report.extend(problem for problem in found.problems if kept is None or problem.path in kept)
