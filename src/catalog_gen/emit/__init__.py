"""Emitters: ServicePlan -> files. The writer knows nothing about what they produce.

A service emitter returns {path relative to the service's folder: bytes}; an environment emitter
returns {path relative to the output root: bytes} and is called once per environment (also one
without leaves). Add an emitter by appending it to SERVICE_EMITTERS or ENVIRONMENT_EMITTERS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from catalog_gen.emit.argocd import emit_app_json
from catalog_gen.emit.backstage import emit_catalog_info
from catalog_gen.emit.values import emit_values
from catalog_gen.models import Environment
from catalog_gen.plan.across import LeafFacts
from catalog_gen.plan.fresh import ServiceEmitter
from catalog_gen.plan.pipeline import CatalogPlan
from catalog_gen.plan.service_plan import ServicePlan

EnvironmentEmitter = Callable[[Environment, Sequence[ServicePlan]], Mapping[str, bytes]]

SERVICE_EMITTERS: list[ServiceEmitter] = [emit_values, emit_app_json, emit_catalog_info]
ENVIRONMENT_EMITTERS: list[EnvironmentEmitter] = []


class EmitterConflictError(Exception):
    """Two emitters produced the same path: a programming error, never a catalog problem."""


# A relative POSIX path of plain segments: none empty, `.` or `..` (nothing outside the folder).
_PLAIN_RELATIVE = re.compile(r"(?!\.\.?(?:/|$))[^/]+(?:/(?!\.\.?(?:/|$))[^/]+)*")


def plain_relative(name: str) -> bool:
    """Whether an emitted file's name stays inside its folder (and names one file one way)."""
    return _PLAIN_RELATIVE.fullmatch(name) is not None


def emit_service(
    plan: ServicePlan, service_emitters: Sequence[ServiceEmitter] | None = None
) -> dict[str, bytes]:
    """What the service emitters (SERVICE_EMITTERS by default) give together for one plan:
    {path under the service's folder: bytes}."""
    files: dict[str, bytes] = {}
    for emitter in SERVICE_EMITTERS if service_emitters is None else service_emitters:
        for name, content in emitter(plan).items():
            if name in files:
                raise EmitterConflictError(f"two emitters write {plan.relative_dir / name}")
            if not plain_relative(name):
                raise EmitterConflictError(
                    f"emitter path {plan.relative_dir / name} leaves the output directory"
                )
            files[name] = content
    return files


def render_tree(
    catalog: CatalogPlan,
    service_emitters: Sequence[ServiceEmitter] | None = None,
    environment_emitters: Sequence[EnvironmentEmitter] | None = None,
    *,
    files_of: Callable[[LeafFacts], Mapping[str, bytes]] | None = None,
) -> dict[str, bytes]:
    """Every generated file, keyed by its POSIX path under the output root (text: 30,000
    PurePosixPath objects cost a cold render a third of a second). A service's files come
    from files_of when given (the cache: catalog_gen/cache.py), else from what planning emitted
    (CatalogPlan.emitted, the default emitters), else from its plan and service_emitters."""
    files: dict[str, bytes] = {}

    def add(path: str, content: bytes) -> None:
        if not plain_relative(path):
            raise EmitterConflictError(f"emitter path {path} leaves the output directory")
        if path in files:
            raise EmitterConflictError(f"two emitters write {path}")
        files[path] = content

    # In the order of the folders' path parts (PurePosixPath's order).
    services = sorted(catalog.services, key=lambda item: item.relative_dir.split("/"))
    for service in services:
        for name, content in _service_files(catalog, service, service_emitters, files_of).items():
            add(f"{service.relative_dir}/{name}", content)
    emitters = ENVIRONMENT_EMITTERS if environment_emitters is None else environment_emitters
    by_environment: dict[str, list[LeafFacts]] = {name: [] for name in catalog.environments}
    for service in services:
        by_environment.setdefault(service.environment_name, []).append(service)
    for environment_name in sorted(by_environment) if emitters else ():
        environment = catalog.environments.get(environment_name)
        if environment is None:
            continue
        plans = [catalog.plan_of(service) for service in by_environment[environment_name]]
        for environment_emitter in emitters:
            for name, content in environment_emitter(environment, plans).items():
                add(name, content)
    return files


def _service_files(
    catalog: CatalogPlan,
    service: LeafFacts,
    service_emitters: Sequence[ServiceEmitter] | None,
    files_of: Callable[[LeafFacts], Mapping[str, bytes]] | None,
) -> Mapping[str, bytes]:
    if files_of is not None:
        return files_of(service)
    if service_emitters is None:
        emitted = catalog.emitted(service)
        if emitted is not None:
            return emitted
    return emit_service(catalog.plan_of(service), service_emitters)
