"""Emitters: ServicePlan -> files. The writer knows nothing about what they produce.

A service emitter returns {path relative to the service's folder: bytes}; an environment emitter
returns {path relative to the output root: bytes} and is called once per environment (also one
without leaves). Add an emitter by appending it to SERVICE_EMITTERS or ENVIRONMENT_EMITTERS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath

from catalog_gen.emit.argocd import emit_app_json
from catalog_gen.emit.backstage import emit_catalog_info
from catalog_gen.emit.values import emit_values
from catalog_gen.models import Environment
from catalog_gen.plan.across import LeafFacts
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
    files_of: Callable[[LeafFacts], Mapping[str, bytes]] | None = None,
) -> dict[PurePosixPath, bytes]:
    """Every generated file, keyed by its path under the output root. jobs: run the service
    emitters in this many processes (plan/parallel.py); the files are the same, in the same
    order. files_of: what the service emitters give for a service, when the caller knows it
    without its plan (the cache: catalog_gen/cache.py); service_emitters is then not used."""
    files: dict[PurePosixPath, bytes] = {}

    def add(path: PurePosixPath, content: bytes) -> None:
        if path.is_absolute() or ".." in path.parts:
            raise EmitterConflictError(f"emitter path {path} leaves the output directory")
        if path in files:
            raise EmitterConflictError(f"two emitters write {path}")
        files[path] = content

    # In the order of the folders' path parts (PurePosixPath's order).
    services = sorted(catalog.services, key=lambda item: item.relative_dir.split("/"))
    for service, service_files in zip(
        services, _service_files(catalog, services, service_emitters, jobs, files_of), strict=True
    ):
        for name, content in service_files:
            add(PurePosixPath(f"{service.relative_dir}/{name}"), content)
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
                add(PurePosixPath(name), content)
    return files


def _service_files(
    catalog: CatalogPlan,
    services: Sequence[LeafFacts],
    service_emitters: Sequence[ServiceEmitter] | None,
    jobs: int,
    files_of: Callable[[LeafFacts], Mapping[str, bytes]] | None,
) -> Iterator[Iterable[tuple[str, bytes]]]:
    """Each service's files, in the order of services."""
    if files_of is not None:
        return (files_of(service).items() for service in services)
    chosen = SERVICE_EMITTERS if service_emitters is None else service_emitters

    def emit_chunk(chunk: Sequence[ServicePlan]) -> list[list[tuple[str, bytes]]]:
        return [
            [(name, content) for emitter in chosen for name, content in emitter(plan).items()]
            for plan in chunk
        ]

    plans = [catalog.plan_of(service) for service in services]
    return (each for chunk in chunked_map(emit_chunk, plans, jobs) for each in chunk)
