"""From catalog files to one ServicePlan per service: load, validate, merge, check.

`plan_catalog` is the whole pipeline short of writing: every stage adds Problems to one Report
and the caller writes nothing unless the report is clean. A ServicePlan is what every emitter
reads (chart values, Argo CD, Backstage); emitters never look at the raw leaf.

Merge order, lowest first: chart defaults (values.yaml) < environment `defaults` < leaf <
leaf `chartValues`. Mappings merge key by key, lists and scalars are replaced whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import yaml

from catalog_gen import sizing
from catalog_gen.fields import Routing
from catalog_gen.loader import (
    CatalogFiles,
    DataPath,
    Document,
    discover,
    join_display,
    load_document,
)
from catalog_gen.lock import LockedModel, ModelLock, Origin, WantedModel, lock_problem
from catalog_gen.models import (
    CatalogLeaf,
    Environment,
    Resources,
    ResourceValues,
)
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
from catalog_gen.shape import did_you_mean, validate_document
from catalog_gen.sizing import human_bytes, parse_quantity, quantity_bytes

LABEL_PREFIX = "catalog.ollama-inference-load.io"
LOCK_FILE = "models.lock.yaml"
HELM_API_VERSIONS = ("gateway.networking.k8s.io/v1", "cert-manager.io/v1")

# Ollama loads at most this many models at once unless OLLAMA_MAX_LOADED_MODELS says otherwise
# (envconfig: 3 per GPU, 3 on CPU).
OLLAMA_DEFAULT_MAX_LOADED_MODELS = 3


# The model lock as render reads it: canonical reference -> pin (catalog_gen.lock.LockedModel).
ModelLockFacts = Mapping[str, LockedModel]

# Extended resources that hand out GPU memory, not devices, and the bytes of one unit: the
# request is an amount of memory (HAMi's nvidia.com/gpumem counts MiB).
MEMORY_SLICED_GPU_RESOURCES: Mapping[str, int] = {"nvidia.com/gpumem": sizing.MiB}
AUTO_PRESET = "auto"


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
class Exposure:
    enabled: bool
    routing: Routing
    hosts: tuple[str, ...]  # first the service's host, then additional hostnames
    host_sources: tuple[tuple[str, DataPath], ...]  # each host and the leaf node it came from
    parent_ref: Mapping[str, str] | None  # routing: gateway
    ingress_class: str  # routing: ingress, "" = cluster default
    tls_secret_name: str  # routing: ingress, "" = no TLS


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


@dataclass(frozen=True)
class CatalogPlan:
    plans: tuple[ServicePlan, ...]
    environments: Mapping[str, Environment]
    environment_documents: Mapping[str, Document]


# --- the chart contract ---------------------------------------------------------------------------


class ChartContractError(Exception):
    pass


# Top-level schema keywords under which each top-level value can be validated on its own.
_PER_KEY_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "type",
        "additionalProperties",
        "properties",
        "definitions",
        "$defs",
    }
)


@dataclass(frozen=True)
class ChartContract:
    """The chart's defaults and values.schema.json, loaded once and compiled once.

    Validation is what helm does (the defaults coalesced with the values, against the schema),
    made cheap for thousands of services: when the schema constrains top-level keys only one by
    one and the defaults are valid, a top-level value left at its default (the very same object,
    since coalesce shares untouched subtrees) needs no check, and a value already seen valid
    (models, resources... repeat across services) is not checked again.
    """

    directory: Path
    defaults: Mapping[str, Any]
    schema: Mapping[str, Any]
    validator: Any
    per_key: bool
    _seen_valid: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def load(cls, directory: Path) -> ChartContract:
        try:
            defaults = yaml.safe_load((directory / "values.yaml").read_text(encoding="utf-8"))
            schema = json.loads((directory / "values.schema.json").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, ValueError) as error:
            raise ChartContractError(
                f"cannot read the chart at {directory} (values.yaml and values.schema.json): "
                f"{error}"
            ) from error
        if not isinstance(defaults, dict) or not isinstance(schema, dict):
            raise ChartContractError(f"{directory}: values.yaml or values.schema.json is empty")
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ChartContractError(
                f"{directory}/values.schema.json is not a valid JSON schema: {error.message}"
            ) from error
        validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
        per_key = set(schema) <= _PER_KEY_KEYWORDS and validator.is_valid(defaults)
        return cls(directory, defaults, schema, validator, per_key)

    def effective(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What helm validates and renders: the defaults coalesced with values."""
        return coalesce(self.defaults, values)

    def errors(self, effective: Mapping[str, Any]) -> list[jsonschema.ValidationError]:
        instance: Mapping[str, Any] = effective
        if self.per_key:
            changed = {
                key: value
                for key, value in effective.items()
                if value is not self.defaults.get(key)
            }
            fingerprints = {
                key: json.dumps([key, value], sort_keys=True, default=repr)
                for key, value in changed.items()
            }
            instance = {
                key: value
                for key, value in changed.items()
                if fingerprints[key] not in self._seen_valid
            }
            if not instance:
                return []
            if self.validator.is_valid(instance):
                self._seen_valid.update(fingerprints[key] for key in instance)
                return []
        elif self.validator.is_valid(instance):
            return []
        return sorted(
            self.validator.iter_errors(instance),
            key=lambda error: [str(part) for part in error.absolute_path],
        )

    def property_names(self, parts: Sequence[str | int]) -> list[str]:
        node: Any = self.schema
        for part in parts:
            node = self._resolve(node)
            if isinstance(part, int):
                node = node.get("items", {})
            else:
                node = node.get("properties", {}).get(part, {})
        return sorted(self._resolve(node).get("properties", {}))

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target: Any = self.schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target.get(part, {})
            node = target
        return node if isinstance(node, dict) else {}


def coalesce(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of user values over chart defaults: maps merge, null deletes, else replace.

    Untouched subtrees are shared with base, not copied: callers must not mutate the result.
    """
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


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
) -> CatalogPlan:
    """Load and check the catalog; the plans of every leaf that passed (all if report.ok).

    only: validate these leaf files (their environment's other leaves still count for the
    cross-leaf rules, but only problems in these files and in environment files are kept).
    lock_loader: reads the model lock ({} when the file is absent: every model then deploys
    unpinned, with a warning); None plans without any lock (no digests, no sizing, no lock
    problems).
    enforce_lock: apply requireLock (off for `catalog-gen lock`, which creates the lock).
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

    plans: list[ServicePlan] = []
    for path in leaves:
        relative = PurePosixPath(path.relative_to(catalog).as_posix())
        display = join_display(display_root, relative)
        document = load_document(path, display, report)
        if document is None:
            continue
        # Every environment file counts: one with errors has them reported on itself.
        check_leaf_path(document, relative, files.environments, report)
        leaf = validate_document(CatalogLeaf, document, report)
        if leaf is None:
            check_invalid_leaf_parts(document, report)
        environment = environments.get(relative.parts[0])
        if leaf is None or environment is None:
            continue
        plan = plan_service(
            document,
            leaf,
            environment,
            relative=relative,
            leaf_path=f"{catalog_name}/{relative}",
            chart=chart,
            lock=lock,
            report=report,
            enforce_lock=enforce_lock,
            lock_display=lock_display,
        )
        if plan is not None:
            plans.append(plan)
    check_across_leaves(plans, environment_documents, report)
    if keep is not None:
        keep |= {document.display for document in environment_documents.values()}
        report.problems[:] = [problem for problem in report.problems if problem.path in keep]
    return CatalogPlan(tuple(plans), environments, environment_documents)


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
    exposure = _exposure(document, leaf, environment, report)
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
    groups = len(set(_weights_roots([model.name for model in planned_models], derived).values()))
    if groups > OLLAMA_DEFAULT_MAX_LOADED_MODELS and not effective.get("ollama", {}).get(
        "maxLoadedModels"
    ):
        # Ollama's own default (3 per GPU, 3 on CPU) would make the models evict each other and
        # readiness, which needs every model loaded, would never hold.
        values = overlay(values, {"ollama": {"maxLoadedModels": groups}})
        effective = chart.effective(values)
    schema_before = _error_count(report)
    _report_schema_errors(document, leaf, chart, effective, report)
    if _error_count(report) > schema_before:
        return None  # the effective values are not even well-typed: nothing more to check
    sizes = [
        pins[model.reference.canonical].sizing(model.name)
        for model in planned_models
        if model.reference.canonical in pins
    ]
    every_model_pinned = len(sizes) == len(planned_models)
    preset = leaf.resources_preset or defaults.resources_preset
    gpu_type = _gpu_type(environment, gpu.type, str(effective["gpu"]["resourceName"]))
    if preset == AUTO_PRESET and every_model_pinned:
        values = overlay(
            values,
            _auto_values(
                leaf,
                effective,
                sizes,
                derived=derived,
                gpu_type=gpu_type,
            ),
        )
    elif preset == AUTO_PRESET and lock is not None and not require_lock:
        unpinned = [model for model in planned_models if model.reference.canonical not in pins]
        where = _first_present(document, [("resourcesPreset",), unpinned[0].source])
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
    budget = _startup_budget(environment, sizes if every_model_pinned else [])
    if budget is not None and not _set_by(leaf.chart_values or {}, ("startup", "budgetSeconds")):
        values = overlay(values, {"startup": {"budgetSeconds": budget}})
    effective = chart.effective(values)
    _report_schema_errors(document, leaf, chart, effective, report)
    if _error_count(report) > schema_before:
        return None
    replicas = int(effective.get("replicaCount", 1))
    cache: Mapping[str, Any] = effective.get("cache", {})
    resources: Mapping[str, Any] = effective.get("resources", {})
    effective_gpu = effective.get("gpu", {})
    gpu = PlannedGpu(
        count=int(effective_gpu.get("count", gpu.count)),
        resource_name=str(effective_gpu.get("resourceName", gpu.resource_name)),
        type=gpu.type,
    )
    ollama: Mapping[str, Any] = effective.get("ollama", {})
    _check_effective(
        document,
        report,
        models=planned_models,
        derived=derived,
        replicas=replicas,
        cache=cache,
        resources=resources,
        ollama=ollama,
    )
    _check_fit(
        document,
        report,
        sizes=sizes,
        sources={model.name: model.source for model in planned_models},
        resources=resources,
        cache=cache,
        gpu_count=gpu.count,
        gpu_type=_gpu_type(environment, gpu.type, gpu.resource_name),
    )
    if _error_count(report) > before:
        return None
    return ServicePlan(
        environment_name=environment.environment,
        namespace=leaf.namespace,
        service_name=leaf.service_name,
        service_catalog=leaf.service_catalog,
        leaf_path=leaf_path,
        relative_dir=relative.with_suffix(""),
        owner=leaf.owner or environment.owner,
        description=leaf.description,
        models=tuple(planned_models),
        derived_models=tuple(
            PlannedDerivedModel(item.name.short, item.base, _modelfile(item), item.source)
            for item in derived
        ),
        replicas=replicas,
        resources=resources,
        gpu=gpu,
        cache=cache,
        exposure=replace(exposure, host_sources=_deployed_host_sources(exposure, effective)),
        ollama=ollama,
        resources_preset=preset,
        startup_budget_seconds=int(
            effective.get("startup", {}).get("budgetSeconds", defaults.startup.budget_seconds)
        ),
        environment=environment,
        leaf=leaf,
        document=document,
        chart_values=values,
    )


def _error_count(report: Report) -> int:
    return sum(1 for problem in report.problems if problem.severity is Severity.ERROR)


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
    whole_lock = ModelLock(dict(lock)) if lock is not None else None
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


# --- sizing from the lock (docs/model-lock.md) ----------------------------------------------------


def _gpu_type(
    environment: Environment, name: str | None, resource_name: str
) -> sizing.GpuType | None:
    """The environment's GPU type of that name, as sizing reads it; None when it declares none."""
    for gpu_type in environment.gpu.types or ():
        if gpu_type.name == name:
            return sizing.GpuType(
                name=gpu_type.name,
                memory_bytes=quantity_bytes(gpu_type.memory),
                resource_name=resource_name,
                memory_unit_bytes=MEMORY_SLICED_GPU_RESOURCES.get(resource_name),
            )
    return None


def _weights_roots(names: Iterable[str], derived: Sequence[LeafDerivedModel]) -> dict[str, str]:
    """Every model name -> the pulled model whose weights it loads (a derived model shares its
    FROM model's weights, directly or through another derived model): Ollama keeps one runner
    per weights file, so these form one load group."""
    roots = {name: name for name in names}
    for item in derived:
        roots[item.name.short] = roots.get(item.base, item.base)
    return roots


def _derived_contexts(names: Iterable[str], derived: Sequence[LeafDerivedModel]) -> dict[str, int]:
    """The largest num_ctx a derived model sets, by the pulled model whose runner it reloads."""
    roots = _weights_roots(names, derived)
    contexts: dict[str, int] = {}
    for item in derived:
        num_ctx = (item.spec.parameters or {}).get("num_ctx")
        if isinstance(num_ctx, int) and not isinstance(num_ctx, bool):
            base = roots[item.name.short]
            contexts[base] = max(contexts.get(base, 0), num_ctx)
    return contexts


def _auto_values(
    leaf: CatalogLeaf,
    effective: Mapping[str, Any],
    sizes: Sequence[sizing.ModelSize],
    *,
    derived: Sequence[LeafDerivedModel],
    gpu_type: sizing.GpuType | None,
) -> dict[str, Any]:
    """`resourcesPreset: auto`: memory, GPUs and cache size from the lock, for every key the leaf
    (container.resources, gpu, cache.size, chartValues) does not set itself."""
    ollama = effective.get("ollama", {})
    preset = sizing.resources_preset(
        sizes,
        context_length=int(ollama.get("contextLength") or 0),
        num_parallel=int(ollama.get("numParallel") or 1),
        max_loaded_models=int(ollama.get("maxLoadedModels") or 0),
        gpu=gpu_type,
        model_context=_derived_contexts([size.name for size in sizes], derived),
    )
    chart_values = leaf.chart_values or {}
    explicit_resources = leaf.container.resources if leaf.container else None

    def explicit(path: tuple[str, ...], in_leaf: object) -> bool:
        return in_leaf is not None or _set_by(chart_values, path)

    patch: dict[str, Any] = {}
    request_set = explicit(
        ("resources", "requests", "memory"),
        explicit_resources.requests.memory
        if explicit_resources and explicit_resources.requests
        else None,
    )
    limit_set = explicit(
        ("resources", "limits", "memory"),
        explicit_resources.limits.memory
        if explicit_resources and explicit_resources.limits
        else None,
    )
    resources = effective.get("resources", {})
    computed = preset.memory_limit
    memory: dict[str, Any] = {}
    if not request_set:
        limit = resources.get("limits", {}).get("memory") if limit_set else None
        # An explicit limit below the estimate wins (explicit always does): request up to it.
        too_high = limit is not None and quantity_bytes(limit) < quantity_bytes(computed)
        memory["requests"] = {"memory": quantity_text(limit) if limit and too_high else computed}
    if not limit_set:
        request = resources.get("requests", {}).get("memory") if request_set else None
        too_low = request is not None and quantity_bytes(request) > quantity_bytes(computed)
        memory["limits"] = {"memory": quantity_text(request) if request and too_low else computed}
    if memory:
        patch["resources"] = memory
    if preset.gpu is not None and not explicit(("gpu", "count"), leaf.gpu):
        patch["gpu"] = {"count": preset.gpu.count}
    if not explicit(("cache", "size"), leaf.cache.size if leaf.cache else None):
        patch["cache"] = {"size": preset.cache_size}
    return patch


def _startup_budget(environment: Environment, sizes: Sequence[sizing.ModelSize]) -> int | None:
    """Seconds from the download and load sizes and the environment's bandwidth; None (the
    environment's defaults.startup.budgetSeconds applies) without both."""
    if not sizes or environment.download_bandwidth is None:
        return None
    bandwidth = quantity_bytes(environment.download_bandwidth)
    if bandwidth <= 0:
        return None
    return sizing.startup_budget(sizes, bandwidth_bytes_per_second=bandwidth).seconds


def _exposure(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> Exposure:
    routing = environment.routing
    ingress_settings = environment.ingress
    disabled = Exposure(
        enabled=False,
        routing=routing,
        hosts=(),
        host_sources=(),
        parent_ref=None,
        ingress_class="",
        tls_secret_name="",
    )
    if leaf.ingress is None or not leaf.ingress.enabled:
        return disabled
    host = leaf.ingress.host
    sources: list[tuple[str, DataPath]] = []
    if host is not None:
        sources.append((host, ("ingress", "host")))
    elif environment.base_domain is None:
        document.add(
            report,
            ("ingress",),
            f"ingress.host is required: environment {environment.environment!r} has no "
            "baseDomain to derive <serviceName>.<baseDomain> from",
        )
        return disabled
    else:
        host = f"{leaf.service_name}.{environment.base_domain}"
        if len(host) > 253:
            document.add(
                report,
                ("ingress",),
                f"the derived host {host!r} is longer than 253 characters: set ingress.host",
            )
            return disabled
        sources.append((host, ("ingress",)))
    parent_ref: dict[str, str] | None = None
    if routing == "gateway":
        override = leaf.gateway.parent_ref if leaf.gateway and leaf.gateway.parent_ref else None
        base = environment.gateway.parent_ref if environment.gateway else None
        merged: dict[str, str] = {}
        for key, attribute in (
            ("name", "name"),
            ("namespace", "namespace"),
            ("sectionName", "section_name"),
        ):
            value = getattr(override, attribute, None) or getattr(base, attribute, None)
            if value:
                merged[key] = value
        if "name" not in merged or "namespace" not in merged:
            document.add(
                report,
                ("ingress", "enabled"),
                f"environment {environment.environment!r} routes through a Gateway but names "
                "none: add gateway.parentRef to its environment file, or set "
                "gateway.parentRef.name and .namespace in this leaf",
            )
            return disabled
        parent_ref = merged
        for index, extra in enumerate(
            leaf.gateway.additional_hostnames or () if leaf.gateway else ()
        ):
            sources.append((extra, ("gateway", "additionalHostnames", index)))
    hosts: list[str] = []
    for name, source in sources:
        if name in hosts:
            document.add(report, source, f"host {name!r} is listed twice for this service")
        else:
            hosts.append(name)
    return Exposure(
        enabled=True,
        routing=routing,
        hosts=tuple(hosts),
        host_sources=tuple(sources),
        parent_ref=parent_ref,
        ingress_class=(ingress_settings.class_name or "") if ingress_settings else "",
        tls_secret_name=(ingress_settings.tls_secret_name or "") if ingress_settings else "",
    )


def _deployed_host_sources(
    exposure: Exposure, effective: Mapping[str, Any]
) -> tuple[tuple[str, DataPath], ...]:
    """The hosts the chart will actually route, for the uniqueness rule across leaves: the
    leaf's own, unless chartValues replaced them, plus those chartValues added (an HTTPRoute
    hostname or an Ingress host set there would otherwise escape the rule)."""
    deployed: list[tuple[str, DataPath]] = []
    route = effective.get("httpRoute") or {}
    if route.get("enabled"):
        for index, host in enumerate(route.get("hostnames") or ()):
            deployed.append((host, ("chartValues", "httpRoute", "hostnames", index)))
    ingress = effective.get("ingress") or {}
    if ingress.get("enabled"):
        for index, rule in enumerate(ingress.get("hosts") or ()):
            if isinstance(rule, Mapping) and rule.get("host"):
                deployed.append((rule["host"], ("chartValues", "ingress", "hosts", index, "host")))
    from_leaf = dict(exposure.host_sources)
    sources: list[tuple[str, DataPath]] = []
    for host, source in deployed:
        if isinstance(host, str) and host not in (name for name, _ in sources):
            sources.append((host, from_leaf.get(host, source)))
    return tuple(sources)


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
    values.update(_exposure_values(exposure))
    return values


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


def _exposure_values(exposure: Exposure) -> dict[str, Any]:
    if not exposure.enabled:
        return {"httpRoute": {"enabled": False}, "ingress": {"enabled": False}}
    if exposure.routing == "gateway":
        return {
            "httpRoute": {
                "enabled": True,
                "parentRefs": [dict(exposure.parent_ref or {})],
                "hostnames": list(exposure.hosts),
            },
            "ingress": {"enabled": False},
        }
    ingress: dict[str, Any] = {
        "enabled": True,
        "hosts": [
            {"host": host, "paths": [{"path": "/", "pathType": "Prefix"}]}
            for host in exposure.hosts
        ],
    }
    if exposure.ingress_class:
        ingress["className"] = exposure.ingress_class
    if exposure.tls_secret_name:
        ingress["tls"] = [{"secretName": exposure.tls_secret_name, "hosts": list(exposure.hosts)}]
    return {"httpRoute": {"enabled": False}, "ingress": ingress}


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


# --- checks on what will actually deploy ----------------------------------------------------------


def _report_schema_errors(
    document: Document,
    leaf: CatalogLeaf,
    chart: ChartContract,
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """Schema errors of the chart's values.schema.json, placed in the leaf where possible."""
    from_leaf = leaf.chart_values or {}
    for error in chart.errors(effective):
        parts = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = chart.property_names(parts)
            for key in sorted(set(error.instance) - set(known)):
                _place(
                    document,
                    from_leaf,
                    (*parts, key),
                    report,
                    f"unknown chart value {_dotted((*parts, key))!r}",
                    hint=did_you_mean(key, known),
                    at_key=True,
                )
            continue
        _place(
            document,
            from_leaf,
            parts,
            report,
            f"chart value {_dotted(parts) or '(root)'}: {error.message}",
        )


def _place(
    document: Document,
    from_leaf: Mapping[str, Any],
    parts: Sequence[str | int],
    report: Report,
    message: str,
    *,
    hint: str | None = None,
    at_key: bool = False,
) -> None:
    if parts and _set_by(from_leaf, parts):
        document.add(report, ("chartValues", *parts), message, hint=hint, at_key=at_key)
    else:
        document.add(
            report,
            (),
            f"{message} (in the generated values: the catalog and the chart disagree)",
            hint=hint,
        )


def _set_by(chart_values: Mapping[str, Any], parts: Sequence[str | int]) -> bool:
    """Whether chartValues decided the value at parts (set it, or replaced a subtree holding it)."""
    current: Any = chart_values
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return False
            current = current[part]
        else:
            return True
    return True


def _dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _first_present(document: Document, candidates: Iterable[DataPath]) -> DataPath:
    for candidate in candidates:
        if document.has(candidate):
            return candidate
    return ()


def _check_effective(
    document: Document,
    report: Report,
    *,
    models: Sequence[PlannedModel],
    derived: Sequence[LeafDerivedModel],
    replicas: int,
    cache: Mapping[str, Any],
    resources: Mapping[str, Any],
    ollama: Mapping[str, Any],
) -> None:
    """The chart's guardrails, on the effective values, so `validate` fails before Argo CD does."""
    mode = cache.get("mode")
    modes = list(cache.get("accessModes") or [])
    cache_at = _first_present(
        document,
        [
            ("chartValues", "cache"),
            ("cache", "accessModes"),
            ("cache", "mode"),
            ("cache",),
            ("container", "replicas"),
        ],
    )
    if (
        mode == "sharedPVC"
        and modes
        and set(modes) <= {"ReadWriteOnce", "ReadWriteOncePod"}
        and replicas > 1
    ):
        document.add(
            report,
            cache_at,
            f"cache.mode=sharedPVC with accessModes {json.dumps(modes)} attaches to one node only, "
            "but "
            f"replicas is {replicas}: set cache.mode=perReplica (one volume per replica), or "
            "cache.accessModes=[ReadWriteMany] with a storage class that supports it, or "
            "replicas=1",
        )
    if cache.get("existingClaim") and mode != "sharedPVC":
        document.add(
            report,
            _first_present(document, [("cache", "existingClaim")]) or cache_at,
            f"cache.existingClaim is only used with cache.mode=sharedPVC (cache.mode is {mode}): "
            "set cache.mode=sharedPVC or remove cache.existingClaim",
        )
    if modes == ["ReadOnlyMany"]:
        document.add(
            report,
            cache_at,
            "cache.accessModes is [ReadOnlyMany], but the init container writes the models into "
            "the cache: add ReadWriteMany or ReadWriteOnce",
        )
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    for resource in ("cpu", "memory"):
        request, limit = requests.get(resource), limits.get(resource)
        if request is None or limit is None:
            continue
        if parse_quantity(request) > parse_quantity(limit):
            where = _first_present(
                document,
                [
                    ("chartValues", "resources", "requests", resource),
                    ("container", "resources", "requests", resource),
                    ("chartValues", "resources", "limits", resource),
                    ("container", "resources", "limits", resource),
                    ("container", "resources"),
                ],
            )
            document.add(
                report,
                where,
                f"requests.{resource} {quantity_text(request)} is more than limits.{resource} "
                f"{quantity_text(limit)}; Kubernetes rejects such a pod",
            )
    groups = len(set(_weights_roots([model.name for model in models], derived).values()))
    max_loaded = int(ollama.get("maxLoadedModels") or 0)
    if max_loaded and max_loaded < groups:
        shared = f", and {len(derived)} derived model(s) share their weights" if derived else ""
        document.add(
            report,
            _first_present(
                document,
                [("ollama", "maxLoadedModels"), ("chartValues", "ollama", "maxLoadedModels")],
            ),
            f"ollama.maxLoadedModels is {max_loaded} but the service loads {groups} models at "
            f"once ({len(models)} pulled model(s){shared}); the models would evict each other "
            f"and a pod is ready only when every model is loaded: raise it to {groups} or "
            "leave it 0 (catalog-gen then sets it to the number of models when Ollama's default "
            "of 3 is too low)",
        )


def _check_fit(
    document: Document,
    report: Report,
    *,
    sizes: Sequence[sizing.ModelSize],
    sources: Mapping[str, DataPath],
    resources: Mapping[str, Any],
    cache: Mapping[str, Any],
    gpu_count: int,
    gpu_type: sizing.GpuType | None,
) -> None:
    """What the lock knows for a fact (weights, download sizes) against the effective values:
    never the estimate, so these cannot fire on a model that would work."""
    if not sizes:
        return
    largest = max(sizes, key=lambda size: size.weights_bytes)
    limit = (resources.get("limits") or {}).get("memory")
    request = (resources.get("requests") or {}).get("memory")
    # A value the leaf does not set comes from the environment: point at the model instead.
    fix = "set container.resources.{} above it, or resourcesPreset: auto"
    if limit is not None and quantity_bytes(limit) < largest.weights_bytes:
        document.add(
            report,
            _first_present(document, [*_memory_sources("limits"), sources[largest.name]]),
            f"memory limit {quantity_text(limit)} is below the "
            f"{human_bytes(largest.weights_bytes)} the weights of {largest.name} need "
            "(model lock): the model cannot load",
            hint=fix.format("limits.memory"),
        )
    elif request is not None and quantity_bytes(request) < largest.weights_bytes:
        document.add(
            report,
            _first_present(document, [*_memory_sources("requests"), sources[largest.name]]),
            f"requests.memory {quantity_text(request)} is less than the "
            f"{human_bytes(largest.weights_bytes)} of weights of {largest.name} (model lock): "
            "the model cannot load",
            hint=fix.format("requests.memory"),
        )
    if gpu_count > 0 and gpu_type is not None:
        gpu_at: list[DataPath] = [("gpu", "count"), ("chartValues", "gpu", "count"), ("gpu",)]
        for size in sizes:
            for message in sizing.check_gpu_fit([size], gpu_type, gpu_count):
                document.add(
                    report, _first_present(document, [*gpu_at, sources[size.name]]), message
                )
    cache_size = cache.get("size")
    downloads = sum(item.download_bytes for item in sizes)
    if (
        cache_size is not None
        and not cache.get("existingClaim")
        and quantity_bytes(cache_size) < downloads
    ):
        document.add(
            report,
            _first_present(
                document,
                [
                    ("cache", "size"),
                    ("chartValues", "cache", "size"),
                    ("cache",),
                    ("chartValues", "cache"),
                    sources[largest.name],
                ],
            ),
            f"cache.size {quantity_text(cache_size)} is less than the {human_bytes(downloads)} the "
            "service's models download (model lock): the pull runs out of space",
        )


def _memory_sources(side: str) -> list[DataPath]:
    return [
        ("container", "resources", side, "memory"),
        ("chartValues", "resources", side, "memory"),
        ("chartValues", "resources", side),
        ("chartValues", "resources"),
    ]
