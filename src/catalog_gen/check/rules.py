"""Rules beyond the shape: a leaf against its path and its environment (the rules across leaves,
which read the plans, are plan/across.py).

models.py checks what JSON Schema can say about one file; these rules need more context. They
never raise: every finding becomes a Problem at the node it is about.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from pydantic import ValidationError

from catalog_gen.check.chart_contract import HELM_EXACT_INTEGER, LEAF_SOURCES, helm_cannot_hold
from catalog_gen.check.guardrails import value_at
from catalog_gen.check.modelfile_parameters import (
    PARAMETER_KINDS,
    REPEATABLE,
    parameter_refusal,
    parameter_text,
)
from catalog_gen.check.modelfile_text import dropped_refusal
from catalog_gen.check.shape import did_you_mean
from catalog_gen.fields import KEEP_ALIVE_DEFAULT, duration_range_problem
from catalog_gen.load.document import DataPath, Document
from catalog_gen.models import (
    MODEL_AND_MODELS,
    NO_MODEL,
    CatalogLeaf,
    DerivedModel,
    Environment,
    Resources,
    ResourceValues,
)
from catalog_gen.problems import Report
from catalog_gen.references import (
    DEFAULT_REGISTRY,
    InvalidReferenceError,
    ModelReference,
    name_key,
    parse_model_reference,
)
from catalog_gen.sizing import parse_quantity, quantity_text

SINGLE_ATTACH_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})
# resourcesPreset values: "auto" sizes from the model lock (plan/fit.py, docs/model-lock.md).
RESOURCE_PRESETS = ("auto",)


# --- path rules -----------------------------------------------------------------------------------


def check_leaf_path(
    document: Document,
    relative: PurePosixPath,
    environments: Mapping[str, object],
    report: Report,
) -> None:
    """environment/namespace/serviceName must match catalog/<env>/<namespace>/<service>.yaml."""
    data = document.data
    environment_dir, namespace_dir, file_name = relative.parts
    expected = {
        "environment": (environment_dir, "the leaf's environment directory"),
        "namespace": (namespace_dir, "the leaf's namespace directory"),
        "serviceName": (relative.stem, f"the file name {file_name!r} without .yaml"),
    }
    for key, (wanted, what) in expected.items():
        value = data.get(key)
        if isinstance(value, str) and value != wanted:
            document.add(
                report,
                (key,),
                f"{key} {value!r} does not match {what} ({wanted!r}); leaves live at "
                "<environment>/<namespace>/<serviceName>.yaml",
            )
    if environment_dir not in environments:
        known = ", ".join(sorted(environments)) or "none"
        document.add(
            report,
            ("environment",),
            f"unknown environment {environment_dir!r}: catalog-gen found no "
            f"environments/{environment_dir}.yaml in the catalog (known: {known})",
        )


def check_environment_path(document: Document, environment: Environment, report: Report) -> bool:
    """Whether the environment's name is its file's (an error where not)."""
    if environment.environment == document.path.stem:
        return True
    document.add(
        report,
        ("environment",),
        f"environment {environment.environment!r} does not match the file name "
        f"{document.path.name!r}",
    )
    return False


# --- one environment ------------------------------------------------------------------------------


def check_environment(document: Document, environment: Environment, report: Report) -> None:
    defaults = environment.defaults
    if defaults.resources is not None:
        check_requests_within_limits(
            document,
            ("defaults", "resources"),
            defaults.resources.requests,
            defaults.resources.limits,
            report,
        )
        _check_memory_units(document, ("defaults", "resources"), defaults.resources, report)
    type_names = [gpu_type.name for gpu_type in environment.gpu.types or ()]
    for index, name in enumerate(type_names):
        if name in type_names[:index]:
            document.add(
                report, ("gpu", "types", index, "name"), f"GPU type {name!r} is defined twice"
            )
    default_type = environment.gpu.default_type
    if default_type is not None and default_type not in type_names:
        document.add(
            report,
            ("gpu", "defaultType"),
            f"GPU type {default_type!r} is not one of gpu.types "
            f"({', '.join(type_names) or 'none'})",
            hint=did_you_mean(default_type, type_names),
        )
    _check_preset(document, ("defaults", "resourcesPreset"), defaults.resources_preset, report)
    if defaults.ollama is not None:
        keep_alive = defaults.ollama.keep_alive
        _check_keep_alive(document, ("defaults", "ollama", "keepAlive"), keep_alive, report)
    autoscaling = environment.autoscaling
    if (
        autoscaling is not None
        and autoscaling.engine == "keda-http"
        and (environment.routing != "gateway")
    ):
        document.add(
            report,
            ("autoscaling", "engine"),
            "autoscaling engine keda-http sends every request through the KEDA HTTP add-on's "
            "interceptor, which an HTTPRoute reaches and an Ingress cannot (the chart refuses "
            "it): use routing: gateway, or engine: keda-prometheus",
        )
    argocd = environment.argocd
    if argocd is not None and argocd.chart.chart is not None:
        if argocd.chart.repo_url is None:
            document.add(
                report,
                ("argocd", "chart"),
                "a chart from a Helm or OCI repository needs repoURL (the repository)",
            )
        if argocd.chart.version is None:
            document.add(
                report,
                ("argocd", "chart"),
                "a chart from a Helm or OCI repository needs version (pin the chart)",
            )


# --- one leaf -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeafModel:
    """A model the leaf pulls, resolved against the environment's model registry."""

    reference: ModelReference
    embedding: bool
    insecure: bool
    source: DataPath
    keep_alive: str | int | None = None  # models[].keepAlive; None: ollama.keepAlive applies


def resolve_models(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> list[LeafModel]:
    """The leaf's models, each parsed and normalized; invalid or repeated ones are reported."""
    registry = environment.model_registry
    default_registry = model_registry_host(environment)
    entries: list[tuple[str, bool, bool, DataPath, str | int | None]] = []
    if leaf.model is not None:
        entries.append((leaf.model, False, False, ("model",), None))
    for index, item in enumerate(leaf.models or ()):
        if isinstance(item, str):
            entries.append((item, False, False, ("models", index), None))
        else:
            where = ("models", index, "name")
            entries.append((item.name, item.embedding, item.insecure, where, item.keep_alive))
    resolved: list[LeafModel] = []
    seen: dict[str, str] = {}
    for text, embedding, insecure, source, keep_alive in entries:
        try:
            reference = parse_model_reference(text, default_registry=default_registry)
        except InvalidReferenceError as error:
            document.add(report, source, str(error))
            continue
        key = name_key(reference)
        if key in seen:
            document.add(
                report,
                source,
                f"model {text!r} is listed twice (also as {seen[key]!r}); remove the duplicate",
            )
            continue
        seen[key] = text
        mirror_insecure = (
            registry is not None and registry.insecure and reference.registry == default_registry
        )
        resolved.append(
            LeafModel(reference, embedding, insecure or mirror_insecure, source, keep_alive)
        )
    return resolved


@dataclass(frozen=True)
class LeafDerivedModel:
    name: ModelReference
    base: str
    spec: DerivedModel
    source: DataPath


def resolve_derived_models(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    models: Sequence[LeafModel],
    report: Report,
) -> list[LeafDerivedModel]:
    """Derived models whose FROM names one of models or an earlier derived model."""
    default_registry = model_registry_host(environment)
    pulled = {model.reference.canonical: model.reference.short for model in models}
    # A derived model lives only in the local store: its name normalizes against the public
    # default, and it may not shadow a pulled model's name (the chart refuses that too), nor an
    # earlier derived model's, compared as Ollama compares names (ignoring case).
    taken = {name_key(parse_model_reference(short)) for short in pulled.values()}
    derived: dict[str, str] = {}
    resolved: list[LeafDerivedModel] = []
    for index, spec in enumerate(leaf.derived_models or ()):
        where: DataPath = ("derivedModels", index)
        name: ModelReference | None
        try:
            name = parse_model_reference(spec.name)
        except InvalidReferenceError as error:
            document.add(report, (*where, "name"), str(error))
            name = None
        if name is not None and name_key(name) in taken:
            document.add(
                report,
                (*where, "name"),
                f"derivedModels: {name.short} is defined twice (models and derivedModels "
                "share one name space): rename one",
            )
            name = None
        base = _resolve_base(spec.from_, default_registry, pulled, derived)
        if base is None:
            names = [*pulled.values(), *derived.values()]
            _report_unknown_base(document, leaf, index, names, report)
        # A Modelfile refused here is not written: the chart's rules on it (its characters)
        # would only say again, at the whole derived model, what was said at the field.
        written = _check_modelfile_parts(document, where, spec, report)
        if name is not None:
            derived[name.canonical] = name.short
            taken.add(name_key(name))
            if base is not None and written:
                resolved.append(LeafDerivedModel(name, base, spec, where))
    return resolved


def _report_unknown_base(
    document: Document, leaf: CatalogLeaf, index: int, names: Sequence[str], report: Report
) -> None:
    """derivedModels[index].from names no model the service has (yet): say why, and what it may
    name."""
    specs = leaf.derived_models or ()
    spec = specs[index]
    choices = ", ".join(names) or "none"
    later = _derived_index(spec.from_, specs, start=index)
    if later == index:
        reason = "a derived model cannot be built FROM itself"
    elif later is not None:
        reason = (
            f"derived model {spec.from_!r} is defined later (derivedModels[{later}]) "
            "and models are built in order: move it before this one"
        )
    else:
        reason = (
            f"{spec.from_!r} is not a model of this service: FROM must name one of its "
            "models or an earlier derived model"
        )
    document.add(
        report,
        ("derivedModels", index, "from"),
        f"{reason} (models it may name: {choices})",
        hint=None
        if later is not None
        else did_you_mean(spec.from_, [name.removesuffix(":latest") for name in names]),
    )


def _derived_index(text: str, specs: Sequence[DerivedModel], *, start: int) -> int | None:
    """Index (from start on) of the derived model text names, if any."""
    try:
        wanted = parse_model_reference(text).canonical
    except InvalidReferenceError:
        return None
    for index in range(start, len(specs)):
        try:
            if parse_model_reference(specs[index].name).canonical == wanted:
                return index
        except InvalidReferenceError:
            continue
    return None


def model_registry_host(environment: Environment) -> str:
    registry = environment.model_registry
    return registry.host.lower() if registry is not None else DEFAULT_REGISTRY


def _resolve_base(
    text: str, default_registry: str, pulled: Mapping[str, str], derived: Mapping[str, str]
) -> str | None:
    try:
        local = parse_model_reference(text)
        remote = parse_model_reference(text, default_registry=default_registry)
    except InvalidReferenceError:
        return None
    if local.canonical in derived:
        return derived[local.canonical]
    return pulled.get(remote.canonical)


def _check_modelfile_parts(
    document: Document, where: DataPath, spec: DerivedModel, report: Report
) -> bool:
    """The fields a derived model's Modelfile is written from (plan/merge.py modelfile), each
    judged at its own node: False when one would not reach the model as the leaf says."""
    before = report.error_count
    texts: list[tuple[DataPath, str | None]] = [
        (("system",), spec.system),
        (("template",), spec.template),
        (("license",), spec.license),
    ]
    texts += [(("messages", i, "content"), m.content) for i, m in enumerate(spec.messages or ())]
    for path, text in texts:
        if text is None:
            continue
        # The chart's rule on the whole Modelfile (check/modelfile_text.py), at the field.
        refusal = dropped_refusal(str(path[-1]), text)
        if refusal is not None:
            document.add(report, (*where, *path), refusal)
        if '"""' in text:
            document.add(
                report,
                (*where, *path),
                f'{path[-1]} cannot contain """ (it closes the Modelfile\'s quoted block)',
            )
    for name, value in (spec.parameters or {}).items():
        _check_parameter(document, (*where, "parameters", name), name, value, report)
    return report.error_count == before


def _check_parameter(
    document: Document, where: DataPath, name: str, value: object, report: Report
) -> None:
    """A PARAMETER's name, how many values it takes, and each value's text and type, each value
    judged at its own node (stop[1])."""
    if name not in PARAMETER_KINDS:
        names = sorted(PARAMETER_KINDS)
        hint = did_you_mean(name, names)
        document.add(report, where, f"unknown Ollama parameter {name!r}", at_key=True, hint=hint)
        return
    if isinstance(value, list) and name not in REPEATABLE:
        document.add(
            report, where, f"parameter {name!r} takes one value, not a list (only stop repeats)"
        )
        return
    values = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, single in values:
        at = where if index is None else (*where, index)
        text = parameter_text(single)
        refusal = dropped_refusal(f"parameter {name!r}", text)
        if refusal is None and isinstance(single, str) and ("\n" in single or '"' in single):
            refusal = (
                f"parameter {name!r} must be a single line without '\"' "
                "(a Modelfile PARAMETER value is one quoted word)"
            )
        if refusal is None:
            refusal = parameter_refusal(name, text)
        if refusal is not None:
            document.add(report, at, refusal)


def check_leaf(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> None:
    """Rules of one leaf that need its environment but no merging."""
    if leaf.gpu is not None and leaf.gpu.type is not None:
        names = [gpu_type.name for gpu_type in environment.gpu.types or ()]
        if leaf.gpu.type not in names:
            document.add(
                report,
                ("gpu", "type"),
                f"GPU type {leaf.gpu.type!r} is not offered by environment "
                f"{environment.environment!r} (gpu.types: {', '.join(names) or 'none'})",
                hint=did_you_mean(leaf.gpu.type, names),
            )
    _check_preset(document, ("resourcesPreset",), leaf.resources_preset, report)
    if leaf.ollama is not None:
        _check_keep_alive(document, ("ollama", "keepAlive"), leaf.ollama.keep_alive, report)
    for index, item in enumerate(leaf.models or ()):
        if not isinstance(item, str):
            _check_keep_alive(document, ("models", index, "keepAlive"), item.keep_alive, report)
    _check_autoscaling(document, leaf, environment, report)
    if leaf.gateway is not None and environment.routing != "gateway":
        document.add(
            report,
            ("gateway",),
            f"environment {environment.environment!r} routes through an Ingress "
            "(routing: ingress), so gateway overrides do not apply: remove the gateway block",
            at_key=True,
        )
    if leaf.container is not None and leaf.container.resources is not None:
        _check_memory_units(document, ("container", "resources"), leaf.container.resources, report)
    if (
        leaf.cache is not None
        and isinstance(leaf.cache.size, str)
        and leaf.cache.size.endswith("m")
    ):
        document.add(
            report,
            ("cache", "size"),
            f"{leaf.cache.size!r} is {leaf.cache.size[:-1]} thousandths of a byte",
            hint=f"did you mean '{leaf.cache.size[:-1]}Mi'?",
        )


def _check_autoscaling(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> None:
    """A leaf that autoscales needs its environment's autoscaler; its replicas are KEDA's."""
    if leaf.autoscaling is None:
        return
    if environment.autoscaling is None:
        document.add(
            report,
            ("autoscaling",),
            f"environment {environment.environment!r} has no autoscaler: set autoscaling.engine "
            f"(keda-http or keda-prometheus) in environments/{environment.environment}.yaml, "
            "or remove the autoscaling block",
            at_key=True,
        )
    if leaf.container is not None and leaf.container.replicas is not None:
        document.add(
            report,
            ("container", "replicas"),
            "container.replicas does not apply to a service that autoscales (KEDA owns the "
            "replica count): remove it and set autoscaling.minReplicas and maxReplicas",
        )


def _check_keep_alive(
    document: Document, where: DataPath, keep_alive: str | int | None, report: Report
) -> None:
    problem = None if keep_alive is None else duration_range_problem(keep_alive)
    if problem is not None:
        document.add(report, where, problem)


# chartValues Ollama reads as Go durations that no leaf field sets (the leaf's ollama.keepAlive
# and models[].keepAlive are checked as fields): what Ollama does with one Go cannot hold.
_CHART_VALUE_DURATIONS = {
    ("ollama", "keepAlive"): KEEP_ALIVE_DEFAULT,
    ("ollama", "loadTimeout"): "end a model load that stalls after 5m; use 0s to wait forever",
}


def check_chart_value_durations(document: Document, chart_values: object, report: Report) -> None:
    """A duration past Go's range in chartValues, refused at its place (Ollama would silently
    take its default; the chart's schema can bound only the integer form)."""
    for path, instead in _CHART_VALUE_DURATIONS.items():
        value = value_at(chart_values, path)
        if isinstance(value, str | int) and not isinstance(value, bool):
            problem = duration_range_problem(value, instead)
            if problem is not None:
                document.add(report, ("chartValues", *path), problem)


def check_helm_numbers(document: Document, where: DataPath, value: object, report: Report) -> bool:
    """Report every number in value that Helm cannot hold: NaN and infinity (values become JSON,
    which has neither; `.nan` fails the whole render in Argo CD, and no chart value means them)
    and integers beyond +-2^53 (HELM_EXACT_INTEGER). Whether value holds no NaN or infinity: the
    later checks compare numbers, which NaN defeats; a large integer does not stop them."""
    if isinstance(value, float) and not math.isfinite(value):
        document.add(
            report,
            where,
            f"{value!r} is not a number Helm can write (values become JSON, which has no NaN or "
            "infinity): use a finite number",
        )
        return False
    # A float that large is a whole number too (1.0e+19): JSON Schema's integer, and the chart's
    # `int`, take it as one.
    if helm_cannot_hold(value):
        document.add(report, where, _integer_problem(value))
    finite = True
    if isinstance(value, Mapping):
        for key, item in value.items():
            finite = check_helm_numbers(document, (*where, key), item, report) and finite
    elif isinstance(value, list):
        for index, item in enumerate(value):
            finite = check_helm_numbers(document, (*where, index), item, report) and finite
    return finite


def _integer_problem(value: float) -> str:
    """Why Helm cannot hold an integer beyond +-2^53."""
    bound = HELM_EXACT_INTEGER
    return (
        f"{value!r} is an integer Helm cannot hold: Helm reads values as 64-bit floats, exact "
        f"only between -{bound} and {bound} (2^53); a larger integer is rounded, and from 2^63 "
        "on the chart turns it into -9223372036854775808, which the API server refuses: use "
        f"an integer between -{bound} and {bound}"
    )


# Chart values only the leaf's own fields may set (which fields: chart_contract.LEAF_SOURCES).
# Their rules read those fields, not the effective values: references and duplicates, the model
# lock and requireLock (resolve_models, lock/model.py), derived models' FROM, names and
# Modelfiles (resolve_derived_models). From chartValues they would deploy models no rule has
# seen. The other chart values a leaf field sets are judged on the effective values (resources,
# gpu, cache, ollama, hosts, replicas, startup, autoscaling), so chartValues may set those.
LEAF_ONLY_VALUES = ("models", "derivedModels")


def check_leaf_only_values(document: Document, chart_values: object, report: Report) -> set[str]:
    """The keys of chartValues that only leaf fields may set (LEAF_ONLY_VALUES), each an error at
    its key naming the field to use instead."""
    if not isinstance(chart_values, Mapping):
        return set()
    refused = {key for key in LEAF_ONLY_VALUES if key in chart_values}
    sources = dict(LEAF_SOURCES)
    for key in sorted(refused):
        fields = " or ".join(sorted(".".join(path) for path in sources[(key,)]))
        document.add(
            report,
            ("chartValues", key),
            f"chartValues cannot set {key}: the leaf's {fields} set it, where the model rules "
            "(references, the model lock and requireLock, derived models) apply; set "
            f"{fields} instead and remove this key",
            at_key=True,
        )
    return refused


def _check_preset(document: Document, where: DataPath, preset: str | None, report: Report) -> None:
    if preset is not None and preset not in RESOURCE_PRESETS:
        document.add(
            report,
            where,
            f"unknown resources preset {preset!r}: the only preset is 'auto' (memory, GPUs and "
            "cache size from the model lock); or remove the key and set container.resources",
            hint=did_you_mean(preset, RESOURCE_PRESETS),
        )


def _check_memory_units(
    document: Document, where: DataPath, resources: object, report: Report
) -> None:
    for side in ("requests", "limits"):
        values = getattr(resources, side, None)
        memory = values.memory if isinstance(values, ResourceValues) else None
        if isinstance(memory, str) and memory.endswith("m"):
            document.add(
                report,
                (*where, side, "memory"),
                f"memory {memory!r} is {memory[:-1]} thousandths of a byte",
                hint=f"did you mean '{memory[:-1]}Mi'?",
            )


def check_requests_within_limits(
    document: Document,
    where: DataPath,
    requests: ResourceValues | None,
    limits: ResourceValues | None,
    report: Report,
) -> None:
    for resource in ("cpu", "memory"):
        request = getattr(requests, resource, None) if requests is not None else None
        limit = getattr(limits, resource, None) if limits is not None else None
        if request is None or limit is None:
            continue
        if parse_quantity(request) > parse_quantity(limit):
            document.add(
                report,
                (*where, "requests", resource),
                f"requests.{resource} {quantity_text(request)} is more than "
                f"limits.{resource} {quantity_text(limit)}; Kubernetes rejects such a pod",
            )


def check_invalid_leaf_parts(document: Document, report: Report) -> None:
    """Rules that still apply to a leaf whose shape is wrong elsewhere, so that one run reports
    them together with the shape errors instead of one fix at a time: `model` with `models`,
    chartValues keys only leaf fields may set, and requests above limits when
    `container.resources` is well-formed on its own."""
    data = document.data
    if not isinstance(data, Mapping):
        return
    if "model" in data and "models" in data:
        document.add(report, ("models",), MODEL_AND_MODELS, at_key=True)
    if "model" not in data and "models" not in data:
        document.add(report, (), NO_MODEL)
    check_leaf_only_values(document, data.get("chartValues"), report)
    container = data.get("container")
    if not isinstance(container, Mapping) or "resources" not in container:
        return
    try:
        resources = Resources.model_validate(container["resources"])
    except ValidationError:
        return  # its own shape errors are reported already
    where = ("container", "resources")
    check_requests_within_limits(document, where, resources.requests, resources.limits, report)
    _check_memory_units(document, where, resources, report)


# --- across leaves --------------------------------------------------------------------------------
