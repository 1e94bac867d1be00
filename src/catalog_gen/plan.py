"""From catalog files to one ServicePlan per service: load, validate, merge, check.

`plan_catalog` is the whole pipeline short of writing: every stage adds Problems to one Report
and the caller writes nothing unless the report is clean. A ServicePlan is what every emitter
reads (chart values, Argo CD, Backstage); emitters never look at the raw leaf.

Merge order, lowest first: chart defaults (values.yaml) < environment `defaults` < leaf <
leaf `chartValues`. Mappings merge key by key, lists and scalars are replaced whole.

The stages it runs live beside it: shape.py and rules.py check the files, exposure.py decides
how the service is reached, chart_contract.py holds the chart's defaults and schema, fit.py
sizes from the model lock and checks the lock's facts, guardrails.py the API server's rule on
requests and limits. The chart's rules on values are the chart's: its schema (chart_contract.py)
and its template rules (chart_templates.py, through helm, for every leaf at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from catalog_gen.chart_contract import (
    ChartContract,
    place_chart_value,
    report_schema_errors,
    set_by,
)
from catalog_gen.chart_templates import ChartTemplates, TemplateMessage
from catalog_gen.exposure import Exposure, deployed_host_sources, exposure_values, resolve_exposure
from catalog_gen.fit import (
    AUTO_PRESET,
    auto_values,
    check_fit,
    computed_startup_budget,
    sizing_gpu_type,
)
from catalog_gen.guardrails import check_requests_within_limits
from catalog_gen.loader import (
    CatalogFiles,
    DataPath,
    Document,
    discover,
    join_display,
    load_document,
    parse_document,
)
from catalog_gen.lock import LockedModel, ModelLock, Origin, WantedModel, lock_problem
from catalog_gen.models import (
    CatalogLeaf,
    Environment,
    Resources,
    ResourceValues,
)
from catalog_gen.names import ResourceName, resource_names
from catalog_gen.problems import Report, Severity, json_path
from catalog_gen.references import ModelReference
from catalog_gen.registry import RegistryConfig
from catalog_gen.rules import (
    LeafDerivedModel,
    LeafModel,
    check_across_leaves,
    check_environment,
    check_environment_path,
    check_finite_numbers,
    check_invalid_leaf_parts,
    check_leaf,
    check_leaf_path,
    quantity_text,
    resolve_derived_models,
    resolve_models,
)
from catalog_gen.security import check_administration, check_environment_security, security_values
from catalog_gen.shape import validate_document

LABEL_PREFIX = "catalog.ollama-inference-load.io"
LOCK_FILE = "models.lock.yaml"

# The model lock as render reads it: canonical reference -> pin (catalog_gen.lock.LockedModel).
ModelLockFacts = Mapping[str, LockedModel]


# --- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedModel:
    reference: ModelReference
    name: str  # what Ollama pulls and lists: the canonical form, short for the public registry
    digest: str  # 64 hex from the lock, "" when not pinned
    embedding: bool
    insecure: bool
    source: DataPath  # where the leaf names it


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


@dataclass(frozen=True)
class CatalogPlan:
    plans: tuple[ServicePlan, ...]
    environments: Mapping[str, Environment]
    environment_documents: Mapping[str, Document]


def overlay(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """chartValues over the computed values: maps merge, anything else (null too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


# --- the pipeline ---------------------------------------------------------------------------------

LockLoader = Callable[[Path, Report, str], ModelLockFacts | None]


def plan_catalog(
    catalog: Path,
    display_root: str,
    chart: ChartContract,
    report: Report,
    *,
    only: Sequence[Path] | None = None,
    lock_loader: LockLoader | None = None,
    enforce_lock: bool = True,
    cache: LeafPlanner | None = None,
) -> CatalogPlan:
    """Load and check the catalog; the plans of every leaf that passed (all if report.ok).

    only: validate these leaf files (their environment's other leaves still count for the
    cross-leaf rules, but only problems in these files and in environment files are kept).
    lock_loader: reads the model lock ({} when the file is absent: every model then deploys
    unpinned, with a warning); None plans without any lock (no digests, no sizing, no lock
    problems).
    enforce_lock: apply requireLock (off for `catalog-gen lock`, which creates the lock).
    cache: reuses what each leaf gave before when nothing it depends on changed
    (catalog_gen.cache); None plans every leaf.
    """
    catalog_name = catalog.resolve().name
    files = discover(catalog, display_root, report)
    environments: dict[str, Environment] = {}
    environment_documents: dict[str, Document] = {}
    for name, path in files.environments.items():
        display = join_display(display_root, path.relative_to(catalog))
        document = load_document(path, display, report)
        if document is None:
            continue
        environment = validate_document(Environment, document, report)
        if environment is None:
            continue
        check_environment_path(document, environment, report)
        check_environment(document, environment, report)
        check_environment_security(document, environment, report)
        environments[name] = environment
        environment_documents[name] = document

    lock: ModelLockFacts | None = None
    lock_display = join_display(display_root, PurePosixPath(LOCK_FILE))
    if lock_loader is not None:
        lock = lock_loader(catalog / LOCK_FILE, report, lock_display)

    leaves = files.leaves
    keep: set[str] | None = None
    if only is not None:
        leaves, keep = _select(catalog, display_root, files, only, report)

    context = LeafContext(
        catalog,
        catalog_name,
        files.environments,
        environments,
        chart,
        lock,
        enforce_lock,
        lock_display,
    )
    plans: list[ServicePlan] = []
    for path in leaves:
        relative = PurePosixPath(path.relative_to(catalog).as_posix())
        display = join_display(display_root, relative)
        if cache is None:
            plan = plan_leaf(path, relative, display, context, report)
        else:
            plan = cache.plan_leaf(path, relative, display, context, report)
        if plan is not None:
            plans.append(plan)
    plans = check_chart_templates(plans, chart, report, cache)
    # Leaves with errors of their own take part too, with what of them is valid.
    check_across_leaves(plans, environment_documents, report)
    if keep is not None:
        keep |= {document.display for document in environment_documents.values()}
        report.problems[:] = [problem for problem in report.problems if problem.path in keep]
    valid = tuple(plan for plan in plans if plan.valid)
    return CatalogPlan(valid, environments, environment_documents)


def check_chart_templates(
    plans: Sequence[ServicePlan],
    chart: ChartContract,
    report: Report,
    known: LeafPlanner | None = None,
) -> list[ServicePlan]:
    """The chart's template rules (_validate.tpl, through helm) on every valid plan's effective
    values, in one batch; each message placed at the leaf line that set the value. known: a
    LeafPlanner that remembers the answers for the plans it gave (helm then judges only the
    others)."""
    if chart.templates is None:
        return list(plans)
    checked = [plan for plan in plans if plan.valid]
    answers = _template_answers(chart.templates, checked, known)
    failed: set[int] = set()
    for plan, messages in zip(checked, answers, strict=True):
        from_leaf = plan.leaf.chart_values or {}
        for item in messages:
            parts = tuple(item.value.split("."))
            place_chart_value(plan.document, from_leaf, parts, report, item.message)
            failed.add(id(plan))
    return [replace(plan, valid=False) if id(plan) in failed else plan for plan in plans]


def _template_answers(
    templates: ChartTemplates, plans: Sequence[ServicePlan], known: LeafPlanner | None
) -> list[tuple[TemplateMessage, ...]]:
    """Each plan's template messages: remembered ones from known, the others from helm."""
    answers = [None if known is None else known.template_messages(plan) for plan in plans]
    asked = [index for index, answer in enumerate(answers) if answer is None]
    fresh = templates.messages([plans[index].effective for index in asked])
    found: list[tuple[TemplateMessage, ...]] = []
    given = iter(fresh)
    for plan, answer in zip(plans, answers, strict=True):
        if answer is not None:
            found.append(answer)
            continue
        asked_now = next(given)
        if known is not None:
            known.remember_template_messages(plan, asked_now)
        found.append(asked_now)
    return found


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


class LeafPlanner(Protocol):
    """plan_leaf with memory (catalog_gen.cache.LeafCache): the same plan and problems."""

    def plan_leaf(
        self,
        path: Path,
        relative: PurePosixPath,
        display: str,
        context: LeafContext,
        report: Report,
    ) -> ServicePlan | None: ...

    def template_messages(self, plan: ServicePlan) -> tuple[TemplateMessage, ...] | None:
        """The chart's template messages for a plan it gave, when it remembers them."""

    def remember_template_messages(
        self, plan: ServicePlan, messages: tuple[TemplateMessage, ...]
    ) -> None:
        """What helm answered for a plan it gave."""


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


def _select(
    catalog: Path,
    display_root: str,
    files: CatalogFiles,
    only: Sequence[Path],
    report: Report,
) -> tuple[list[Path], set[str]]:
    """The leaves `validate FILE...` needs: the FILEs and the other leaves of their environments
    (for the cross-leaf rules), and the displays whose problems are kept. A FILE may also be an
    environment file: its leaves are checked with it, since its cross-leaf rules need them."""
    by_real_path = {path.resolve(): path for path in files.leaves}
    environment_files = {path.resolve(): name for name, path in files.environments.items()}
    environments: set[str] = set()
    keep: set[str] = set()
    for path in only:
        real = path.resolve()
        if real in environment_files:
            environments.add(environment_files[real])
            continue
        if real not in by_real_path:
            report.add(
                str(path),
                1,
                1,
                "$",
                f"not a leaf of the catalog {display_root}: leaves live at "
                f"{display_root}/<environment>/<namespace>/<serviceName>.yaml",
            )
            keep.add(str(path))
            continue
        # The leaf's place in the catalog, not its target's (it may be a symbolic link).
        relative = by_real_path[real].relative_to(catalog)
        environments.add(relative.parts[0])
        keep.add(join_display(display_root, PurePosixPath(relative.as_posix())))
    keep.add(join_display(display_root, PurePosixPath(LOCK_FILE)))
    selected = [path for path in files.leaves if path.relative_to(catalog).parts[0] in environments]
    return selected, keep


# --- one service ----------------------------------------------------------------------------------


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
    before = _error_count(report)
    check_leaf(document, leaf, environment, report)
    models = resolve_models(document, leaf, environment, report)
    derived = resolve_derived_models(document, leaf, environment, models, report)
    require_lock = enforce_lock and environment.require_lock
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
    defaults = environment.defaults
    gpu = PlannedGpu(
        count=leaf.gpu.count if leaf.gpu else 0,
        resource_name=environment.gpu.resource_name,
        type=(leaf.gpu.type if leaf.gpu and leaf.gpu.type else environment.gpu.default_type),
    )
    if not check_finite_numbers(document, ("chartValues",), leaf.chart_values, report):
        return None  # NaN compares false with everything: no later check could hold
    values = _chart_values(
        leaf, environment, models=planned_models, derived=derived, exposure=exposure, gpu=gpu
    )
    if leaf.chart_values:
        values = overlay(values, leaf.chart_values)
    effective = chart.effective(values)
    schema_before = _error_count(report)
    origins = _value_origins(document, planned_models, derived, exposure)
    report_schema_errors(document, leaf, chart, effective, report, origins=origins)
    if _error_count(report) > schema_before:
        # The effective values are not even well-typed: nothing more to check. The catalog's own
        # values (without chartValues) still take part in the cross-leaf rules.
        own = _chart_values(
            leaf, environment, models=planned_models, derived=derived, exposure=exposure, gpu=gpu
        )
        return _service_plan(
            document,
            leaf,
            environment,
            relative=relative,
            leaf_path=leaf_path,
            models=planned_models,
            derived=derived,
            exposure=exposure,
            values=own,
            effective=chart.effective(own),
            valid=False,
        )
    sizes = [
        pins[model.reference.canonical].sizing(model.name)
        for model in planned_models
        if model.reference.canonical in pins
    ]
    every_model_pinned = len(sizes) == len(planned_models)
    preset = leaf.resources_preset or defaults.resources_preset
    gpu_type = sizing_gpu_type(environment, gpu.type, str(effective["gpu"]["resourceName"]))
    if preset == AUTO_PRESET and every_model_pinned:
        values = overlay(
            values,
            auto_values(
                leaf,
                effective,
                sizes,
                derived=derived,
                gpu_type=gpu_type,
            ),
        )
    elif preset == AUTO_PRESET and lock is not None and not require_lock:
        unpinned = [model for model in planned_models if model.reference.canonical not in pins]
        where = document.first_present([("resourcesPreset",), unpinned[0].source])
        line, column = document.position(where)
        report.add(
            document.display,
            line,
            column,
            list(where),
            "resourcesPreset auto cannot size the service: "
            f"{', '.join(model.name for model in unpinned)} not pinned in {lock_display}; the "
            "environment's resources, GPUs and cache size apply",
            severity=Severity.WARNING,
            hint="run `catalog-gen lock`",
        )
    budget = computed_startup_budget(environment, sizes if every_model_pinned else [])
    if budget is not None and not set_by(leaf.chart_values or {}, ("startup", "budgetSeconds")):
        values = overlay(values, {"startup": {"budgetSeconds": budget}})
    effective = chart.effective(values)
    report_schema_errors(document, leaf, chart, effective, report, origins=origins)
    if _error_count(report) > schema_before:
        own = _chart_values(
            leaf, environment, models=planned_models, derived=derived, exposure=exposure, gpu=gpu
        )
        return _service_plan(
            document,
            leaf,
            environment,
            relative=relative,
            leaf_path=leaf_path,
            models=planned_models,
            derived=derived,
            exposure=exposure,
            values=own,
            effective=chart.effective(own),
            valid=False,
        )
    check_administration(document, leaf, environment, effective, report)
    check_requests_within_limits(document, report, resources=effective.get("resources", {}))
    gpu_count = int(effective.get("gpu", {}).get("count", gpu.count))
    check_fit(
        document,
        report,
        sizes=sizes,
        sources={model.name: model.source for model in planned_models},
        resources=effective.get("resources", {}),
        cache=effective.get("cache", {}),
        gpu_count=gpu_count,
        gpu_type=sizing_gpu_type(environment, gpu.type, str(effective["gpu"]["resourceName"])),
    )
    return _service_plan(
        document,
        leaf,
        environment,
        relative=relative,
        leaf_path=leaf_path,
        models=planned_models,
        derived=derived,
        exposure=exposure,
        values=values,
        effective=effective,
        valid=_error_count(report) == before,
        preset=preset,
    )


def _service_plan(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    *,
    relative: PurePosixPath,
    leaf_path: str,
    models: Sequence[PlannedModel],
    derived: Sequence[LeafDerivedModel],
    exposure: Exposure,
    values: Mapping[str, Any],
    effective: Mapping[str, Any],
    valid: bool,
    preset: str | None = None,
) -> ServicePlan:
    """The plan of one service from its effective values (valid False: the leaf has errors)."""
    gpu_values = effective.get("gpu") or {}
    gpu_type = leaf.gpu.type if leaf.gpu and leaf.gpu.type else environment.gpu.default_type
    return ServicePlan(
        environment_name=environment.environment,
        namespace=leaf.namespace,
        service_name=leaf.service_name,
        service_catalog=leaf.service_catalog,
        leaf_path=leaf_path,
        relative_dir=relative.with_suffix(""),
        owner=leaf.owner or environment.owner,
        description=leaf.description,
        models=tuple(models),
        derived_models=tuple(
            PlannedDerivedModel(item.name.short, item.base, _modelfile(item), item.source)
            for item in derived
        ),
        replicas=int(effective.get("replicaCount", 1)),
        resources=effective.get("resources", {}),
        gpu=PlannedGpu(int(gpu_values["count"]), str(gpu_values["resourceName"]), gpu_type),
        cache=effective.get("cache", {}),
        exposure=replace(exposure, host_sources=deployed_host_sources(exposure, effective)),
        ollama=effective.get("ollama", {}),
        resources_preset=preset or leaf.resources_preset or environment.defaults.resources_preset,
        startup_budget_seconds=int(effective["startup"]["budgetSeconds"]),
        environment=environment,
        leaf=leaf,
        document=document,
        chart_values=values,
        effective=effective,
        valid=valid,
        resource_names=resource_names(leaf.service_name, effective, leaf.chart_values or {}),
    )


def _value_origins(
    document: Document,
    models: Sequence[PlannedModel],
    derived: Sequence[LeafDerivedModel],
    exposure: Exposure,
) -> dict[tuple[str | int, ...], DataPath]:
    """The leaf node behind each list value the generator writes (models, derived models,
    hosts), so the chart schema's bounds on them are reported where the leaf sets them."""
    origins: dict[tuple[str | int, ...], DataPath] = {
        ("models",): document.first_present([("models",), ("model",)]),
        ("derivedModels",): ("derivedModels",),
    }
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


def _error_count(report: Report) -> int:
    return report.error_count


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
            )
        )
    return planned, pins


def _chart_values(
    leaf: CatalogLeaf,
    environment: Environment,
    *,
    models: Sequence[PlannedModel],
    derived: Sequence[LeafDerivedModel],
    exposure: Exposure,
    gpu: PlannedGpu,
) -> dict[str, Any]:
    """The values the catalog decides (docs/interfaces.md section 1); chart defaults do the rest."""
    defaults = environment.defaults
    values: dict[str, Any] = {
        "fullnameOverride": leaf.service_name,
        "backstage": {"kubernetesId": leaf.service_name},
        "commonLabels": {
            f"{LABEL_PREFIX}/environment": environment.environment,
            f"{LABEL_PREFIX}/service-catalog": leaf.service_catalog,
        },
        "models": [
            {
                "name": model.name,
                "digest": model.digest,
                "insecure": model.insecure,
                "embedding": model.embedding,
            }
            for model in models
        ],
        "derivedModels": [
            {"name": item.name.short, "modelfile": _modelfile(item)} for item in derived
        ],
        "gpu": {"count": gpu.count, "resourceName": gpu.resource_name},
        "startup": {"budgetSeconds": defaults.startup.budget_seconds},
    }
    if environment.image_registry is not None:
        values["global"] = {"imageRegistry": environment.image_registry}
    replicas = leaf.container.replicas if leaf.container else None
    if replicas is None:
        replicas = defaults.replicas
    if replicas is not None:
        values["replicaCount"] = replicas
    resources = _merge_resources(
        defaults.resources, leaf.container.resources if leaf.container else None
    )
    if resources:
        values["resources"] = resources
    cache = _merge_settings(
        defaults.cache,
        leaf.cache,
        {"storageClass": environment.storage_class} if environment.storage_class else {},
    )
    if cache:
        values["cache"] = cache
    ollama = _merge_settings(defaults.ollama, leaf.ollama, {})
    if "keepAlive" in ollama:
        ollama["keepAlive"] = str(ollama["keepAlive"])
    if ollama:
        values["ollama"] = ollama
    values.update(exposure_values(exposure))
    return overlay(values, security_values(leaf, environment, exposure))


def _merge_settings(lower: Any, upper: Any, fallback: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(fallback)
    for settings in (lower, upper):
        if settings is None:
            continue
        for key, value in settings.model_dump(by_alias=True, exclude_none=True).items():
            merged[key] = quantity_text(value) if key == "size" else value
    return merged


def _merge_resources(lower: Resources | None, upper: Resources | None) -> dict[str, Any]:
    merged: dict[str, dict[str, str]] = {}
    for resources in (lower, upper):
        for side in ("requests", "limits"):
            values: ResourceValues | None = getattr(resources, side, None) if resources else None
            for name in ("cpu", "memory"):
                quantity = getattr(values, name, None) if values else None
                if quantity is not None:
                    merged.setdefault(side, {})[name] = quantity_text(quantity)
    return dict(merged)


def _modelfile(item: LeafDerivedModel) -> str:
    """Modelfile text: FROM, PARAMETERs sorted by name, SYSTEM, TEMPLATE."""
    spec = item.spec
    lines = [f"FROM {item.base}"]
    for name in sorted(spec.parameters or {}):
        value = (spec.parameters or {})[name]
        for single in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {name} {_parameter_text(single)}")
    if spec.system is not None:
        lines.append(f'SYSTEM """{spec.system}"""')
    if spec.template is not None:
        lines.append(f'TEMPLATE """{spec.template}"""')
    return "\n".join(lines) + "\n"


def _parameter_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return quantity_text(value) if isinstance(value, int | float) else str(value)
