"""What planning gives for one service: the ServicePlan every emitter reads, and its parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from catalog_gen.check.names import ResourceName
from catalog_gen.load.document import DataPath, Document
from catalog_gen.lock.model import LockedModel
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.plan.exposure import Exposure
from catalog_gen.references import ModelReference

# The model lock as render reads it: canonical reference -> pin (lock/lockfile.py LockedModel).
ModelLockFacts = Mapping[str, LockedModel]


@dataclass(frozen=True)
class PlannedModel:
    reference: ModelReference
    name: str  # what Ollama pulls and lists: the canonical form, short for the public registry
    digest: str  # 64 hex from the lock, "" when not pinned
    embedding: bool
    insecure: bool
    source: DataPath  # where the leaf names it
    keep_alive: str | int | None = None  # models[].keepAlive (None: ollama.keepAlive)


@dataclass(frozen=True)
class PlannedDerivedModel:
    name: str
    base: str
    modelfile: str
    source: DataPath


@dataclass(frozen=True)
class PlannedGpu:
    count: int
    resource_name: str
    type: str | None


@dataclass(frozen=True)
class ServicePlan:
    """Everything emitters need about one service, merged and validated.

    replicas, gpu, cache and resources are the effective values the chart will use (after chart
    defaults and chartValues), so rules and emitters see what actually deploys.
    """

    environment_name: str
    namespace: str
    service_name: str
    service_catalog: str
    leaf_path: str  # e.g. catalog/dev/ml-workloads/ollama-phi.yaml (catalog dir name + relative)
    relative_dir: PurePosixPath  # <env>/<namespace>/<service>, the service's folder in generated/
    owner: str | None  # the leaf's owner, else the environment's; None: no Component
    description: str | None
    models: tuple[PlannedModel, ...]
    derived_models: tuple[PlannedDerivedModel, ...]
    replicas: int
    resources: Mapping[str, Any]
    gpu: PlannedGpu
    cache: Mapping[str, Any]
    exposure: Exposure
    ollama: Mapping[str, Any]
    resources_preset: str | None
    startup_budget_seconds: int
    environment: Environment
    leaf: CatalogLeaf
    document: Document = field(repr=False)
    chart_values: Mapping[str, Any] = field(repr=False)  # the values.yaml content
    effective: Mapping[str, Any] = field(repr=False, default_factory=dict)  # what helm renders
    # False: the leaf has errors; the plan only takes part in the cross-leaf rules.
    valid: bool = True
    # (kind, name) of every resource the chart renders (names.py), for the collision rule
    resource_names: tuple[ResourceName, ...] = ()
    # top-level key of chart_values -> why the generator chose it: a comment above it in
    # values.yaml (e.g. updateStrategy: the environment's spare GPUs for rollouts)
    value_comments: Mapping[str, str] = field(default_factory=dict)
