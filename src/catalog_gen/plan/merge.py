"""The merge: the chart values one service gets, as an explicit sequence of layers.

Precedence, lowest first (docs/catalog-gen.md "Merge rules"); each layer is overlaid on the ones
before it (mappings key by key, lists and scalars replaced whole, a null written as null):

1. chart defaults: the chart's values.yaml, never written; helm coalesces them
   (ChartContract.effective), and so does every rule that reads the effective values;
2. environment defaults (`ENVIRONMENT_DEFAULTS`): `defaults.*`, with the environment's top-level
   `storageClass` below `defaults.cache.storageClass`;
3. lock sizing (`plan/service.py`, `apply_lock_sizing`): `resourcesPreset: auto` and the startup
   budget computed from the model lock; computed after layer 6 but only for keys that neither the
   leaf nor its chartValues set, so it ranks here;
4. leaf (`LEAF`): the leaf's own fields (identity, models, replicas, resources, cache, ollama,
   autoscaling) and the cost labels derived from its owner, service catalog and environment;
5. environment settings (`ENVIRONMENT_SETTINGS`): what the leaf cannot set outside chartValues:
   image registry, GPU resource name, routing (from the leaf and the environment together),
   security and the autoscaling engine;
6. the leaf's `chartValues`, last (`CHART_VALUES`).

`CATALOG_LAYERS` is the sequence of layers 2, 4, 5 and 6 that `catalog_values` applies in order;
`OWN_LAYERS` the same without chartValues (what a leaf whose chartValues break the chart schema
still contributes to the cross-leaf rules).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalog_gen.check.chart_contract import NOT_MAPPINGS, is_mapping
from catalog_gen.check.modelfile_parameters import parameter_text
from catalog_gen.check.rules import LeafDerivedModel
from catalog_gen.models import (
    AutoscalingSettings,
    CatalogLeaf,
    Environment,
    Resources,
    ResourceValues,
)
from catalog_gen.plan.exposure import Exposure, exposure_values
from catalog_gen.plan.security import security_values
from catalog_gen.plan.service_plan import PlannedModel
from catalog_gen.sizing import quantity_text

# The prefix of the labels catalog-gen puts on every resource (commonLabels), Argo CD
# Application and Backstage Component: one owner, read by emit/argocd.py and emit/backstage.py.
LABEL_PREFIX = "catalog.ollama-inference-load.io"
ENVIRONMENT_LABEL = f"{LABEL_PREFIX}/environment"


@dataclass(frozen=True)
class MergeInputs:
    """What the layers read: the checked leaf, its environment and what planning resolved."""

    leaf: CatalogLeaf
    environment: Environment
    models: Sequence[PlannedModel]  # digests from the lock
    derived: Sequence[LeafDerivedModel]
    exposure: Exposure
    gpu_count: int


def overlay(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """override over base: maps merge, anything else (null too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if type(value) in NOT_MAPPINGS:  # most values: no call at all
            merged[key] = value
        elif is_mapping(value) and is_mapping(current := merged.get(key)):
            merged[key] = overlay(current, value)
        else:
            merged[key] = value
    return merged


def environment_defaults(inputs: MergeInputs) -> dict[str, Any]:
    """Layer 2: the environment's `defaults` (and its top-level storageClass below them)."""
    environment = inputs.environment
    defaults = environment.defaults
    fallback = {"storageClass": environment.storage_class} if environment.storage_class else {}
    values: dict[str, Any] = {}
    if defaults.startup.budget_seconds is not None:  # else the chart's default, never copied
        values["startup"] = {"budgetSeconds": defaults.startup.budget_seconds}
    if defaults.replicas is not None and inputs.leaf.autoscaling is None:  # else KEDA's
        values["replicaCount"] = defaults.replicas
    return values | _settings(
        resources=_resources(defaults.resources),
        cache=_merge_settings(defaults.cache, fallback),
        ollama=_merge_settings(defaults.ollama, {}),
        autoscaling=_autoscaling_defaults(inputs.leaf, defaults.autoscaling),
    )


def _autoscaling_defaults(
    leaf: CatalogLeaf, defaults: AutoscalingSettings | None
) -> dict[str, Any]:
    """The environment's defaults.autoscaling, for a leaf that autoscales only (they never turn
    it on). A target is one key: the leaf's target replaces the default's, never merges with it."""
    if leaf.autoscaling is None or defaults is None:
        return {}
    values = _autoscaling_values(defaults)
    values.get("scaleToZero", {}).pop("enabled", None)  # only the leaf turns scale to zero on
    if not values.get("scaleToZero"):
        values.pop("scaleToZero", None)
    if leaf.autoscaling.target is not None:
        values.pop("target", None)
    return values


def _autoscaling_values(settings: AutoscalingSettings) -> dict[str, Any]:
    """The chart's autoscaling keys of a leaf's (or the defaults') autoscaling block."""
    values = settings.model_dump(by_alias=True, exclude_none=True)
    if settings.scale_to_zero is not None:
        values["scaleToZero"] = {"enabled": True, **values["scaleToZero"]}
    return values


def leaf_fields(inputs: MergeInputs) -> dict[str, Any]:
    """Layer 4: the leaf's own fields."""
    leaf = inputs.leaf
    values: dict[str, Any] = {
        "fullnameOverride": leaf.service_name,
        "backstage": {"kubernetesId": leaf.service_name},
        "commonLabels": {
            ENVIRONMENT_LABEL: inputs.environment.environment,
            f"{LABEL_PREFIX}/service-catalog": leaf.service_catalog,
        },
        "models": [_model_values(model) for model in inputs.models],
        "derivedModels": [
            {"name": item.name.short, "modelfile": modelfile(item)} for item in inputs.derived
        ],
        "gpu": {"count": inputs.gpu_count},
        "costLabels": cost_labels(leaf, inputs.environment),
    }
    container = leaf.container
    if container is not None and container.replicas is not None:
        values["replicaCount"] = container.replicas
    if leaf.autoscaling is not None:
        values["autoscaling"] = {"enabled": True, **_autoscaling_values(leaf.autoscaling)}
    return values | _settings(
        resources=_resources(container.resources if container else None),
        cache=_merge_settings(leaf.cache, {}),
        ollama=_merge_settings(leaf.ollama, {}),
    )


def _model_values(model: PlannedModel) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": model.name,
        "digest": model.digest,
        "insecure": model.insecure,
        "embedding": model.embedding,
    }
    if model.keep_alive is not None:
        values["keepAlive"] = str(model.keep_alive)
    return values


def cost_labels(leaf: CatalogLeaf, environment: Environment) -> dict[str, str]:
    """The chart's cost allocation pod labels (docs/cost.md): the owner's entity name as team
    (`group:default/ml-platform` -> `ml-platform`; none without an owner), the service catalog
    and the environment."""
    labels = {"service": leaf.service_catalog, "environment": environment.environment}
    owner = leaf.owner or environment.owner
    if owner:
        labels["team"] = owner.rpartition(":")[2].rpartition("/")[2]
    return labels


def environment_settings(inputs: MergeInputs) -> dict[str, Any]:
    """Layer 5: image registry, GPU resource name, blob hashing, routing and security."""
    environment = inputs.environment
    values: dict[str, Any] = {"gpu": {"resourceName": environment.gpu.resource_name}}
    if environment.image_registry is not None:
        values["global"] = {"imageRegistry": environment.image_registry}
    if environment.verify_model_blobs:
        values["lifecycle"] = {"verifyBlobs": True}
    values.update(exposure_values(inputs.exposure))
    engine = _autoscaling_engine(inputs.leaf, environment)
    if engine:
        values["autoscaling"] = engine
    return overlay(values, security_values(inputs.leaf, environment, inputs.exposure))


def _autoscaling_engine(leaf: CatalogLeaf, environment: Environment) -> dict[str, Any]:
    """The environment's autoscaler (engine and its settings) for a leaf that autoscales."""
    settings = environment.autoscaling
    if leaf.autoscaling is None or settings is None:
        return {}
    values: dict[str, Any] = {"engine": settings.engine}
    for key, engine in (("prometheus", settings.prometheus), ("kedaHttp", settings.keda_http)):
        if engine is not None:
            values[key] = engine.model_dump(by_alias=True, exclude_none=True)
    return values


def chart_values(inputs: MergeInputs) -> dict[str, Any]:
    """Layer 6: the leaf's chartValues, as written; an Ingress they give hosts keeps the
    environment's Ingress settings (_ingress_settings)."""
    values = dict(inputs.leaf.chart_values or {})
    ingress = values.get("ingress")
    if is_mapping(ingress):
        settings = _ingress_settings(inputs.environment, inputs.exposure, ingress)
        values["ingress"] = overlay(settings, ingress) if settings else ingress
    return values


def _ingress_settings(
    environment: Environment, exposure: Exposure, ingress: Mapping[str, Any]
) -> dict[str, Any]:
    """What the environment gives an Ingress whose hosts a leaf's chartValues set (routing
    `ingress`), under those chartValues: its tlsSecretName over every one of those hosts ("the
    TLS Secret of every host": a host left out was served with the controller's default
    certificate, and plain HTTP, review), and where the leaf itself is not exposed (no layer 5
    Ingress settings then) its className and annotations too. Nothing where chartValues set
    ingress.tls themselves, give no hosts, or leave the Ingress off."""
    settings = environment.ingress
    if environment.routing != "ingress" or settings is None:
        return {}
    hosts = ingress.get("hosts")
    if not isinstance(hosts, list) or ingress.get("enabled", exposure.enabled) is not True:
        return {}  # no hosts of chartValues', or no Ingress rendered
    found: dict[str, Any] = {}
    names = [
        item["host"] for item in hosts if is_mapping(item) and isinstance(item.get("host"), str)
    ]
    if settings.tls_secret_name and names and "tls" not in ingress:
        found["tls"] = [{"secretName": settings.tls_secret_name, "hosts": names}]
    if not exposure.enabled:
        if settings.class_name:
            found["className"] = settings.class_name
        if settings.annotations:
            found["annotations"] = dict(settings.annotations)
    return found


Layer = Callable[[MergeInputs], dict[str, Any]]

ENVIRONMENT_DEFAULTS: Layer = environment_defaults
LEAF: Layer = leaf_fields
ENVIRONMENT_SETTINGS: Layer = environment_settings
CHART_VALUES: Layer = chart_values

# The values the catalog decides, lowest first (layer 1 is helm's, layer 3 the lock's); each name
# begins its item in docs/catalog-gen.md "Merge rules" (a test holds them to it).
CATALOG_LAYERS: tuple[tuple[str, Layer], ...] = (
    ("environment defaults", ENVIRONMENT_DEFAULTS),
    ("the leaf's own fields", LEAF),
    ("environment settings", ENVIRONMENT_SETTINGS),
    ("the leaf's chartValues", CHART_VALUES),
)
OWN_LAYERS = CATALOG_LAYERS[:-1]


def catalog_values(inputs: MergeInputs, layers: Sequence[tuple[str, Layer]]) -> dict[str, Any]:
    """The layers overlaid in order (docs/interfaces.md section 1: what the catalog decides)."""
    values: dict[str, Any] = {}
    for _name, layer in layers:
        values = overlay(values, layer(inputs))
    return values


def _settings(**groups: dict[str, Any]) -> dict[str, Any]:
    """The groups that hold anything (an empty group is left out, not written as {})."""
    return {key: group for key, group in groups.items() if group}


def _merge_settings(settings: Any, fallback: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(fallback)
    if settings is not None:
        for key, value in settings.model_dump(by_alias=True, exclude_none=True).items():
            merged[key] = quantity_text(value) if key == "size" else value
    if "keepAlive" in merged:
        merged["keepAlive"] = str(merged["keepAlive"])
    return merged


def _resources(resources: Resources | None) -> dict[str, Any]:
    merged: dict[str, dict[str, str]] = {}
    for side in ("requests", "limits"):
        values: ResourceValues | None = getattr(resources, side, None) if resources else None
        for name in ("cpu", "memory"):
            quantity = getattr(values, name, None) if values else None
            if quantity is not None:
                merged.setdefault(side, {})[name] = quantity_text(quantity)
    return dict(merged)


def modelfile(item: LeafDerivedModel) -> str:
    """Modelfile text: FROM, ADAPTER, PARAMETERs sorted by name, SYSTEM, TEMPLATE, MESSAGEs in
    order, LICENSE. Text goes in triple quotes, which Ollama reads across lines (check/rules.py
    refuses text holding three double quotes)."""
    spec = item.spec
    lines = [f"FROM {item.base}"]
    if spec.adapter is not None:
        lines.append(f"ADAPTER {spec.adapter}")
    for name in sorted(spec.parameters or {}):
        value = (spec.parameters or {})[name]
        for single in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {name} {_parameter_text(single)}")
    if spec.system is not None:
        lines.append(f'SYSTEM """{spec.system}"""')
    if spec.template is not None:
        lines.append(f'TEMPLATE """{spec.template}"""')
    for message in spec.messages or ():
        lines.append(f'MESSAGE {message.role} """{message.content}"""')
    if spec.license is not None:
        lines.append(f'LICENSE """{spec.license}"""')
    return "\n".join(lines) + "\n"


def _parameter_text(value: object) -> str:
    text = parameter_text(value)
    return f'"{text}"' if isinstance(value, str) else text
