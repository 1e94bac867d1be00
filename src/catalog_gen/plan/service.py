"""One checked leaf planned into a ServicePlan, as an explicit sequence of steps.

`plan_service` runs, in order (each step adds its Problems to the one report):

1. resolve (`_resolve`): the leaf's rules, its models and derived models, their pins in the model
   lock, how the service is reached, its GPU;
2. merge (`plan/merge.py` CATALOG_LAYERS: environment defaults < leaf < environment settings <
   chartValues), then the effective values (chart defaults coalesced by the chart contract)
   against the chart's schema;
3. lock sizing (`apply_lock_sizing`): `resourcesPreset: auto` and the computed startup budget for
   the keys the leaf and its chartValues leave unset; the environment's spare GPUs for rollouts
   (`apply_rollout`, `updateStrategy.gpuSurge` of a GPU service); the schema again;
4. the checks on the effective values (`_check_effective`): administration, requests <= limits,
   an explicit updateStrategy within the environment's gpu.surge, the lock's facts against
   memory, GPUs and cache.

A leaf whose effective values break the chart's schema stops after the step that found it: its
plan (invalid) carries the values of its own fields (merge.OWN_LAYERS) for the cross-leaf rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, Protocol

from catalog_gen.check.chart_contract import (
    ChartContract,
    Known,
    place_chart_value,
    report_schema_errors,
    set_by,
)
from catalog_gen.check.guardrails import check_requests_within_limits, ip_block_refusals
from catalog_gen.check.names import resource_names
from catalog_gen.check.rules import (
    LeafDerivedModel,
    LeafModel,
    check_chart_value_durations,
    check_helm_numbers,
    check_leaf,
    check_leaf_only_values,
    resolve_derived_models,
    resolve_models,
)
from catalog_gen.load.document import DataPath, Document
from catalog_gen.lock.model import LockedModel, ModelLock, Origin, WantedModel, lock_problem
from catalog_gen.lock.registry import RegistryConfig
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.plan.autoscaling import check_scale_to_zero
from catalog_gen.plan.exposure import (
    Exposure,
    check_catch_all_route,
    check_wildcard_hosts,
    deployed_host_sources,
    resolve_exposure,
)
from catalog_gen.plan.fit import (
    AUTO_PRESET,
    auto_values,
    check_fit,
    computed_startup_budget,
    loaded_models_limit,
    sizing_gpu_type,
)
from catalog_gen.plan.merge import (
    CATALOG_LAYERS,
    OWN_LAYERS,
    MergeInputs,
    catalog_values,
    modelfile,
    overlay,
)
from catalog_gen.plan.rollout import (
    GPU_SURGE,
    check_rollout_fits,
    rollout_comment,
    rollout_values,
)
from catalog_gen.plan.security import (
    check_administration,
    check_environment_enforced,
    check_exposure_bypass,
    check_model_egress,
    check_route_authentication,
)
from catalog_gen.plan.service_plan import (
    ModelLockFacts,
    PlannedDerivedModel,
    PlannedGpu,
    PlannedModel,
    ServicePlan,
)
from catalog_gen.problems import Report, Severity, json_path
from catalog_gen.sizing import ModelSize

LOCK_FILE = "models.lock.yaml"


@dataclass(frozen=True)
class Service:
    """One service being planned: the checked leaf and what step 1 resolved for it."""

    document: Document
    leaf: CatalogLeaf
    environment: Environment
    relative: PurePosixPath
    leaf_path: str
    chart: ChartContract
    models: Sequence[PlannedModel]
    pins: Mapping[str, LockedModel]  # canonical reference -> pin, for the models that have one
    derived: Sequence[LeafDerivedModel]
    exposure: Exposure
    gpu: PlannedGpu
    lock: ModelLockFacts | None
    require_lock: bool
    lock_display: str

    @property
    def merge_inputs(self) -> MergeInputs:
        return MergeInputs(
            self.leaf, self.environment, self.models, self.derived, self.exposure, self.gpu.count
        )


def plan_service(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    *,
    relative: PurePosixPath,
    leaf_path: str,
    chart: ChartContract,
    lock: ModelLockFacts | None,
    report: Report,
    enforce_lock: bool = True,
    lock_display: str = LOCK_FILE,
) -> ServicePlan | None:
    """The steps of the module docstring; None when the leaf cannot be planned at all."""
    before = report.error_count
    leaf = _without_leaf_only_values(document, leaf, report)
    service = _resolve(
        document,
        leaf,
        environment,
        relative=relative,
        leaf_path=leaf_path,
        chart=chart,
        lock=lock,
        require_lock=enforce_lock and environment.require_lock,
        lock_display=lock_display,
        report=report,
    )
    if not check_helm_numbers(document, ("chartValues",), leaf.chart_values, report):
        return None  # NaN compares false with everything: no later check could hold
    check_chart_value_durations(document, leaf.chart_values, report)
    origins = value_origins(document, service.models, service.derived, service.exposure)
    schema_before = report.error_count
    values = catalog_values(service.merge_inputs, CATALOG_LAYERS)
    effective = _schema_checked(service, values, origins, report)
    if report.error_count > schema_before:
        return _own_plan(service)  # not even well-typed: nothing more to check
    sizes = _pinned_sizes(service)
    lock_sized = apply_lock_sizing(service, values, effective, sizes, report)
    # Unchanged by the lock (no pin, or nothing to size): its effective values are known.
    sized = apply_rollout(service, lock_sized, effective if lock_sized == values else None)
    if sized != values:  # equal values have the same effective values, already checked
        # The values' effective values, found valid: what the rollout and the lock left alone
        # is neither coalesced nor judged again.
        effective = _schema_checked(service, sized, origins, report, before=(values, effective))
        if report.error_count > schema_before:
            return _own_plan(service)
    values = sized
    _check_effective(service, effective, sizes, report)
    preset = leaf.resources_preset or environment.defaults.resources_preset
    valid = report.error_count == before
    return _service_plan(service, values, effective, valid=valid, preset=preset)


def _without_leaf_only_values(document: Document, leaf: CatalogLeaf, report: Report) -> CatalogLeaf:
    """The leaf without the chartValues keys only its own fields may set (each an error), so
    that the rest of it is judged in the same pass."""
    refused = check_leaf_only_values(document, leaf.chart_values, report)
    if not refused:
        return leaf
    kept = {key: value for key, value in (leaf.chart_values or {}).items() if key not in refused}
    return leaf.model_copy(update={"chart_values": kept})


def _resolve(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    *,
    relative: PurePosixPath,
    leaf_path: str,
    chart: ChartContract,
    lock: ModelLockFacts | None,
    require_lock: bool,
    lock_display: str,
    report: Report,
) -> Service:
    """Step 1: the leaf's rules, models, derived models, pins, exposure and GPU."""
    check_leaf(document, leaf, environment, report)
    models = resolve_models(document, leaf, environment, report)
    derived = resolve_derived_models(document, leaf, environment, models, report)
    planned_models, pins = _lock_models(
        document,
        models,
        environment=environment,
        lock=lock,
        lock_display=lock_display,
        require_lock=require_lock,
        report=report,
    )
    exposure = resolve_exposure(document, leaf, environment, report)
    gpu = PlannedGpu(
        count=leaf.gpu.count if leaf.gpu else 0,
        resource_name=environment.gpu.resource_name,
        type=(leaf.gpu.type if leaf.gpu and leaf.gpu.type else environment.gpu.default_type),
    )
    return Service(
        document,
        leaf,
        environment,
        relative,
        leaf_path,
        chart,
        planned_models,
        pins,
        derived,
        exposure,
        gpu,
        lock,
        require_lock,
        lock_display,
    )


def _schema_checked(
    service: Service,
    values: Mapping[str, Any],
    origins: Mapping[tuple[str | int, ...], DataPath],
    report: Report,
    before: Known | None = None,
) -> dict[str, Any]:
    """The effective values (chart defaults coalesced), their chart-schema errors reported.
    before: other values and their effective values, found valid."""
    effective = service.chart.effective(values, before)
    report_schema_errors(
        service.document,
        service.leaf,
        service.chart,
        effective,
        report,
        origins=origins,
        known_valid=None if before is None else before[1],
    )
    return effective


def _pinned_sizes(service: Service) -> list[ModelSize]:
    """The lock's sizes of the service's models that are pinned."""
    return [
        service.pins[model.reference.canonical].sizing(model.name)
        for model in service.models
        if model.reference.canonical in service.pins
    ]


def apply_lock_sizing(
    service: Service,
    values: Mapping[str, Any],
    effective: Mapping[str, Any],
    sizes: Sequence[ModelSize],
    report: Report,
) -> dict[str, Any]:
    """Step 3 (merge layer 3): `resourcesPreset: auto` and the computed startup budget, for the
    keys that neither the leaf nor its chartValues set."""
    leaf, environment = service.leaf, service.environment
    every_model_pinned = len(sizes) == len(service.models)
    preset = leaf.resources_preset or environment.defaults.resources_preset
    merged = dict(values)
    if preset == AUTO_PRESET and every_model_pinned:
        gpu_type = sizing_gpu_type(
            environment, service.gpu.type, str(effective["gpu"]["resourceName"])
        )
        patch = auto_values(leaf, effective, sizes, derived=service.derived, gpu_type=gpu_type)
        merged = overlay(merged, patch)
    elif preset == AUTO_PRESET and service.lock is not None and not service.require_lock:
        _warn_unsized(service, report)
    if every_model_pinned:
        merged = _loaded_models_limit(service, merged, effective, sizes, report)
    verify_blobs = (effective.get("lifecycle") or {}).get("verifyBlobs") is True
    budget = computed_startup_budget(
        environment, sizes if every_model_pinned else [], verify_blobs=verify_blobs
    )
    if budget is not None and not set_by(leaf.chart_values or {}, ("startup", "budgetSeconds")):
        merged = overlay(merged, {"startup": {"budgetSeconds": budget}})
    return merged


def apply_rollout(
    service: Service, values: Mapping[str, Any], effective: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Step 3b (merge layer 5, environment settings): the environment's spare GPUs for rollouts
    as `updateStrategy.gpuSurge` of a GPU service (on the GPUs after lock sizing), unless the
    leaf's chartValues set it. effective: values' effective values, when already known."""
    if set_by(service.leaf.chart_values or {}, GPU_SURGE):
        return dict(values)
    if effective is None:
        effective = service.chart.effective(values)
    return overlay(values, rollout_values(service.environment, effective))


def _loaded_models_limit(
    service: Service,
    values: dict[str, Any],
    effective: Mapping[str, Any],
    sizes: Sequence[ModelSize],
    report: Report,
) -> dict[str, Any]:
    """Merge layer 3 too: ollama.maxLoadedModels from VRAM fit (plan/fit.py), with a warning at
    the leaf's models that says why and what to do."""
    gpu = overlay(effective.get("gpu") or {}, values.get("gpu") or {})
    gpu_type = sizing_gpu_type(service.environment, service.gpu.type, str(gpu["resourceName"]))
    found = loaded_models_limit(service.leaf, int(gpu.get("count", 0)), sizes, gpu_type)
    if found is None:
        return values
    limit, reason = found
    document = service.document
    where = document.first_present([("models",), ("model",)])
    line, column = document.position(where)
    report.add(
        document.display,
        line,
        column,
        list(where),
        reason,
        severity=Severity.WARNING,
        hint="give the models used rarely a finite models[].keepAlive (on demand), or set "
        "ollama.maxLoadedModels yourself",
    )
    return overlay(values, {"ollama": {"maxLoadedModels": limit}})


def _warn_unsized(service: Service, report: Report) -> None:
    """resourcesPreset auto with models the lock does not pin: the environment's sizes apply."""
    document = service.document
    unpinned = [model for model in service.models if model.reference.canonical not in service.pins]
    where = document.first_present([("resourcesPreset",), unpinned[0].source])
    line, column = document.position(where)
    report.add(
        document.display,
        line,
        column,
        list(where),
        "resourcesPreset auto cannot size the service: "
        f"{', '.join(model.name for model in unpinned)} not pinned in {service.lock_display}; the "
        "environment's resources, GPUs and cache size apply",
        severity=Severity.WARNING,
        hint="run `catalog-gen lock`",
    )


def _check_effective(
    service: Service, effective: Mapping[str, Any], sizes: Sequence[ModelSize], report: Report
) -> None:
    """Step 4: administration, the models' egress, requests <= limits, the lock's facts
    against the values."""
    document, environment = service.document, service.environment
    check_administration(document, service.leaf, environment, effective, report)
    check_environment_enforced(
        document,
        service.leaf,
        environment,
        service.exposure,
        effective=effective,
        without_chart_values=lambda: service.chart.effective(
            catalog_values(service.merge_inputs, OWN_LAYERS)
        ),
        report=report,
    )
    check_route_authentication(document, service.leaf, environment, effective, report)
    check_exposure_bypass(document, environment, effective, report)
    check_model_egress(document, environment, service.models, effective, report)
    check_scale_to_zero(document, service.leaf, environment, effective, report)
    check_catch_all_route(document, effective, report)
    check_wildcard_hosts(document, service.exposure, effective, report)
    check_requests_within_limits(document, report, effective=effective)
    for parts, why in ip_block_refusals(effective):
        place_chart_value(document, service.leaf.chart_values or {}, parts, report, why)
    check_rollout_fits(document, service.leaf, environment, effective, report)
    check_fit(
        document,
        report,
        sizes=sizes,
        sources={model.name: model.source for model in service.models},
        resources=effective.get("resources", {}),
        cache=effective.get("cache", {}),
        gpu_count=int(effective.get("gpu", {}).get("count", service.gpu.count)),
        gpu_type=sizing_gpu_type(
            environment, service.gpu.type, str(effective["gpu"]["resourceName"])
        ),
    )


def _own_plan(service: Service) -> ServicePlan:
    """The invalid plan of a leaf whose values break the chart schema: its own fields' values
    (chartValues left out) still take part in the cross-leaf rules."""
    own = catalog_values(service.merge_inputs, OWN_LAYERS)
    return _service_plan(service, own, service.chart.effective(own), valid=False)


def _service_plan(
    service: Service,
    values: Mapping[str, Any],
    effective: Mapping[str, Any],
    *,
    valid: bool,
    preset: str | None = None,
) -> ServicePlan:
    """The plan of one service from its effective values (valid False: the leaf has errors)."""
    leaf, environment = service.leaf, service.environment
    gpu_values = effective.get("gpu") or {}
    return ServicePlan(
        environment_name=environment.environment,
        namespace=leaf.namespace,
        service_name=leaf.service_name,
        service_catalog=leaf.service_catalog,
        leaf_path=service.leaf_path,
        relative_dir=service.relative.with_suffix(""),
        owner=leaf.owner or environment.owner,
        description=leaf.description,
        models=tuple(service.models),
        derived_models=tuple(
            PlannedDerivedModel(item.name.short, item.base, modelfile(item), item.source)
            for item in service.derived
        ),
        replicas=int(effective.get("replicaCount", 1)),
        resources=effective.get("resources", {}),
        gpu=PlannedGpu(int(gpu_values["count"]), str(gpu_values["resourceName"]), service.gpu.type),
        cache=effective.get("cache", {}),
        exposure=replace(
            service.exposure, host_sources=deployed_host_sources(service.exposure, effective)
        ),
        ollama=effective.get("ollama", {}),
        resources_preset=preset or leaf.resources_preset or environment.defaults.resources_preset,
        startup_budget_seconds=int(effective["startup"]["budgetSeconds"]),
        environment=environment,
        leaf=leaf,
        document=service.document,
        chart_values=values,
        effective=effective,
        valid=valid,
        resource_names=resource_names(leaf.service_name, effective, leaf.chart_values or {}),
        value_comments=rollout_comment(environment, effective, leaf),
    )


def value_origins(
    document: Document,
    models: Sequence[PlannedModel],
    derived: Sequence[HasSource],
    exposure: Exposure,
) -> dict[tuple[str | int, ...], DataPath]:
    """The leaf node behind each value the generator writes from a leaf field of another name or
    shape (models, derived models, hosts, the Gateway a route attaches to), so a problem with it
    (the chart schema's bounds, a template rule) is reported where the leaf sets it."""
    origins: dict[tuple[str | int, ...], DataPath] = {
        ("models",): document.first_present([("models",), ("model",)]),
        ("derivedModels",): ("derivedModels",),
    }
    if document.has(("autoscaling",)) and not document.has(("ingress",)):
        # keda-http needs the HTTPRoute: a leaf that autoscales and is not exposed learns it here.
        origins[("httpRoute", "enabled")] = ("autoscaling",)
    if exposure.parent_ref is not None and document.has(("gateway", "parentRef")):
        origins[("httpRoute", "parentRefs")] = ("gateway", "parentRef")
    origins.update({("models", index): model.source for index, model in enumerate(models)})
    origins.update({("derivedModels", index): item.source for index, item in enumerate(derived)})
    if exposure.host_sources:
        hosts_at = document.first_present(
            [("gateway", "additionalHostnames"), *(source for _, source in exposure.host_sources)]
        )
        for key in ("httpRoute", "ingress"):
            origins[(key, "hostnames" if key == "httpRoute" else "hosts")] = hosts_at
        for index, (_, source) in enumerate(exposure.host_sources):
            origins[("httpRoute", "hostnames", index)] = source
            origins[("ingress", "hosts", index)] = source
    return origins


class HasSource(Protocol):
    """A value planned from one leaf node (a derived model)."""

    @property
    def source(self) -> DataPath: ...


def _lock_models(
    document: Document,
    models: Sequence[LeafModel],
    *,
    environment: Environment,
    lock: ModelLockFacts | None,
    lock_display: str,
    require_lock: bool,
    report: Report,
) -> tuple[list[PlannedModel], dict[str, LockedModel]]:
    """Each model with its digest from the lock, and the pins that apply (canonical -> pin).

    A model the lock lacks, or pins over another scheme than this environment pulls it with, is
    unpinned: an error where requireLock applies, else a warning (it deploys with digest "").
    Without a lock at all (lock None: `catalog-gen lock` itself, tests) nothing is reported.
    """
    planned: list[PlannedModel] = []
    pins: dict[str, LockedModel] = {}
    whole_lock = ModelLock(lock) if lock is not None else None  # no copy: O(1) per service
    for model in models:
        canonical = model.reference.canonical
        if whole_lock is not None:
            line, column = document.position(model.source)
            problem = lock_problem(
                whole_lock,
                WantedModel(
                    model.reference,
                    RegistryConfig(insecure=model.insecure),
                    Origin(document.display, line, column, json_path(model.source)),
                ),
                require_lock=require_lock,
                lock_display=lock_display,
                environment=environment.environment,
            )
            if problem is not None:
                report.extend([problem])
            elif lock is not None:
                pins[canonical] = lock[canonical]
        pin = pins.get(canonical)
        planned.append(
            PlannedModel(
                reference=model.reference,
                name=model.reference.short,
                digest=pin.digest if pin is not None else "",
                embedding=model.embedding,
                insecure=model.insecure,
                source=model.source,
                keep_alive=model.keep_alive,
            )
        )
    return planned, pins
