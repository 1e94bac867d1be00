"""Emitters: ServicePlan -> files. The writer knows nothing about what they produce.

A service emitter returns {path relative to the service's folder: bytes}; an environment emitter
returns {path relative to the output root: bytes} and is called once per environment (also one
without leaves). Add an emitter by appending it to SERVICE_EMITTERS or ENVIRONMENT_EMITTERS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath

from catalog_gen.emit.argocd import emit_app_json
from catalog_gen.emit.backstage import emit_catalog_info
from catalog_gen.emit.values import emit_values
from catalog_gen.models import Environment
from catalog_gen.plan.parallel import chunked_map
from catalog_gen.plan.pipeline import CatalogPlan
from catalog_gen.plan.service_plan import ServicePlan

ServiceEmitter = Callable[[ServicePlan], Mapping[str, bytes]]
EnvironmentEmitter = Callable[[Environment, Sequence[ServicePlan]], Mapping[str, bytes]]

SERVICE_EMITTERS: list[ServiceEmitter] = [emit_values, emit_app_json, emit_catalog_info]
ENVIRONMENT_EMITTERS: list[EnvironmentEmitter] = []


class EmitterConflictError(Exception):
    """Two emitters produced the same path: a programming error, never a catalog problem."""


def render_tree(
    catalog: CatalogPlan,
    service_emitters: Sequence[ServiceEmitter] | None = None,
    environment_emitters: Sequence[EnvironmentEmitter] | None = None,
    *,
    jobs: int = 1,
) -> dict[PurePosixPath, bytes]:
    """Every generated file, keyed by its path under the output root. jobs: run the service
    emitters in this many processes (plan/parallel.py); the files are the same, in the same
    order."""
    files: dict[PurePosixPath, bytes] = {}

    def add(path: PurePosixPath, content: bytes) -> None:
        if path.is_absolute() or ".." in path.parts:
            raise EmitterConflictError(f"emitter path {path} leaves the output directory")
        if path in files:
            raise EmitterConflictError(f"two emitters write {path}")
        files[path] = content

    plans = sorted(catalog.plans, key=lambda item: item.relative_dir)
    chosen = SERVICE_EMITTERS if service_emitters is None else service_emitters

    def emit_chunk(chunk: Sequence[ServicePlan]) -> list[list[tuple[str, bytes]]]:
        return [
            [(name, content) for emitter in chosen for name, content in emitter(plan).items()]
            for plan in chunk
        ]

    by_environment: dict[str, list[ServicePlan]] = {name: [] for name in catalog.environments}
    emitted = (each for chunk in chunked_map(emit_chunk, plans, jobs) for each in chunk)
    for plan, plan_files in zip(plans, emitted, strict=True):
        by_environment.setdefault(plan.environment_name, []).append(plan)
        for name, content in plan_files:
            add(plan.relative_dir / name, content)
    emitters = ENVIRONMENT_EMITTERS if environment_emitters is None else environment_emitters
    for environment_name in sorted(by_environment):
        environment = catalog.environments.get(environment_name)
        if environment is None:
            continue
        for environment_emitter in emitters:
            for name, content in environment_emitter(
                environment, by_environment[environment_name]
            ).items():
                add(PurePosixPath(name), content)
    return files
