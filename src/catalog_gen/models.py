"""The shape of catalog leaves and environment files: pydantic v2 models, the schema's source.

`catalog-gen schema` writes schemas/catalog-leaf.schema.json and schemas/environment.schema.json
from these models; a test fails when the committed files are stale, and another checks that the
JSON schema and these models accept and reject the same fixtures. So every constraint here must
be one JSON Schema can express too (patterns, bounds, enums, required keys); meaning that needs
more than one field or more than one file (references resolve, requests <= limits, hosts unique)
lives in rules.py and plan.py.

YAML keys are camelCase (the proof of concept's leaf); Python attributes are snake_case.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, core_schema

from catalog_gen.loader import DataPath, Document
from catalog_gen.problems import JsonPathPart, Report
from catalog_gen.references import (
    MODEL_REFERENCE_PATTERN,
    InvalidReferenceError,
    parse_model_reference,
)

T = TypeVar("T")

if TYPE_CHECKING:
    # mypy sees "X | None" for keys that default to None.
    from typing import Optional as Opt
else:

    class Opt:
        """`Opt[X] = None`: optional key whose explicit value may not be null.

        Pydantic sees only X (so a wrong type gets one clear error, not one per union member)
        and the JSON schema has no null branch; mypy sees `X | None` for the default.
        """

        def __class_getitem__(cls, item: object) -> object:
            return item


WORKLOAD_TYPE = "OLLAMA_INFERENCE_LOAD"
DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_STARTUP_BUDGET_SECONDS = 900
DEFAULT_ARGOCD_DESTINATION = "https://kubernetes.default.svc"
DEFAULT_ARGOCD_NAMESPACE = "argocd"
NAME_TAG, MAPPING_TAG = "<model name>", "<model mapping>"

# --- constrained scalars --------------------------------------------------------------------------
# Each is a string (or number) checked by a Python function that gives a human message, paired
# with the equivalent JSON Schema so editors and check-jsonschema enforce the same thing.

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HOSTNAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
WILDCARD_HOSTNAME = (
    r"^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)
ALL_DIGITS_AND_DOTS = r"^[0-9.]+$"
BACKSTAGE_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
BACKSTAGE_REF = (
    r"^([A-Za-z][-A-Za-z0-9]*:)?([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
REGISTRY_HOST = (
    r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([-._a-z0-9/]*[a-z0-9])?)?$"
)
MODEL_HOST = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$"
RESOURCE_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
DURATION = r"^-?([0-9]+|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$"
URL = r"^(https?|ssh|git|oci)://[^\s]+$|^git@[^\s]+:[^\s]+$"
STORAGE_CLASS = r"^(-|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
# The reference pattern without Python's named groups, so editors (ECMA regex) accept it too.
MODEL_REFERENCE = re.sub(r"\(\?P<[a-z]+>", "(?:", MODEL_REFERENCE_PATTERN)


@dataclass(frozen=True)
class TextFormat:
    """Annotated[str, TextFormat(...)]: a pattern with a human message, and the same pattern
    (plus maxLength and json_extra) in the JSON schema."""

    pattern: str
    message: str
    max_length: int | None = None
    extra_check: Callable[[str], str | None] | None = None
    json_extra: Mapping[str, Any] | None = None

    def check(self, value: str) -> str:
        if self.max_length is not None and len(value) > self.max_length:
            raise PydanticCustomError(
                "text_too_long",
                f"must be at most {self.max_length} characters (got {len(value)})",
            )
        if self.extra_check is not None and (problem := self.extra_check(value)) is not None:
            raise PydanticCustomError("text_format", problem)
        if _compiled(self.pattern).fullmatch(value) is None:
            raise PydanticCustomError("text_format", self.message)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "string", "pattern": self.pattern}
        if self.max_length is not None:
            result["maxLength"] = self.max_length
        result.update(self.json_extra or {})
        return result


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _no_ip(value: str) -> str | None:
    if re.fullmatch(ALL_DIGITS_AND_DOTS, value):
        return "must be a DNS name, not an IP address"
    return None


def _no_wildcard(value: str) -> str | None:
    if "*" in value:
        return (
            "wildcard hosts are not allowed here: name the service's own host "
            "(wildcards belong in gateway.additionalHostnames)"
        )
    return _no_ip(value)


def _model_reference_problem(value: str) -> str | None:
    if re.fullmatch(MODEL_REFERENCE, value) is not None:
        return None
    try:
        parse_model_reference(value)
    except InvalidReferenceError as error:
        return str(error)
    return None  # pragma: no cover - the pattern and the parser agree


_DNS_LABEL_TEXT = (
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit"
)
DnsLabel = Annotated[str, TextFormat(DNS_LABEL, _DNS_LABEL_TEXT, max_length=63)]
ServiceName = Annotated[
    str,
    TextFormat(
        DNS_1035_LABEL,
        "must be a DNS-1035 label (it names a Kubernetes Service): lowercase letters, digits and "
        "'-', starting with a letter and ending with a letter or digit",
        max_length=63,
    ),
]
DnsSubdomain = Annotated[
    str,
    TextFormat(
        DNS_SUBDOMAIN,
        "must be a DNS-1123 subdomain: dot-separated lowercase labels of letters, digits and '-'",
        max_length=253,
    ),
]
Host = Annotated[
    str,
    TextFormat(
        HOSTNAME,
        "must be a DNS name: dot-separated lowercase labels of letters, digits and '-' "
        "(at most 63 characters each), e.g. ollama.example.com",
        max_length=253,
        extra_check=_no_wildcard,
        json_extra={"not": {"pattern": ALL_DIGITS_AND_DOTS}},
    ),
]
HostOrWildcard = Annotated[
    str,
    TextFormat(
        WILDCARD_HOSTNAME,
        "must be a DNS name, optionally starting with '*.' (e.g. *.example.com): dot-separated "
        "lowercase labels of letters, digits and '-'",
        max_length=253,
        extra_check=_no_ip,
        json_extra={"not": {"pattern": ALL_DIGITS_AND_DOTS}},
    ),
]
BackstageName = Annotated[
    str,
    TextFormat(
        BACKSTAGE_NAME,
        "must be a Backstage entity name: letters, digits, '-', '_' and '.', starting and ending "
        "with a letter or digit",
        max_length=63,
    ),
]
EntityRef = Annotated[
    str,
    TextFormat(
        BACKSTAGE_REF,
        "must be a Backstage entity reference [kind:][namespace/]name, e.g. group:ml-platform",
        max_length=253,
    ),
]
RegistryHost = Annotated[
    str,
    TextFormat(
        REGISTRY_HOST,
        "must be a registry host with an optional port and path, e.g. registry.example.com:5000",
        max_length=253,
    ),
]
ModelHost = Annotated[
    str,
    TextFormat(
        MODEL_HOST,
        "must be a registry host with an optional port, e.g. registry.internal.example:5000",
        max_length=253,
    ),
]
ResourceName = Annotated[
    str,
    TextFormat(
        RESOURCE_NAME,
        "must be a Kubernetes extended resource name, e.g. nvidia.com/gpu or amd.com/gpu",
        max_length=253,
    ),
]
ModelName = Annotated[
    str,
    TextFormat(
        MODEL_REFERENCE,
        "not a valid Ollama model name",
        max_length=512,
        extra_check=_model_reference_problem,
    ),
]
Url = Annotated[
    str, TextFormat(URL, "must be a URL such as https://github.com/org/repo.git", max_length=2048)
]
StorageClassName = Annotated[
    str,
    TextFormat(
        STORAGE_CLASS,
        "must be a StorageClass name, '' for the cluster default or '-' for none",
        max_length=253,
    ),
]
PresetName = Annotated[
    str, TextFormat(DNS_LABEL, f"must be 'auto' or a preset name; {_DNS_LABEL_TEXT}", max_length=63)
]
Description = Annotated[str, Field(max_length=2000)]


def _scalar_or_text(
    kind: str, pattern: str, message: str, *, allow_float: bool, allow_negative: bool = False
) -> Callable[[object], str | int | float]:
    regex = re.compile(pattern)

    def check(value: object) -> str | int | float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PydanticCustomError(kind, f"{message} (got {describe(value)})")
        if isinstance(value, float) and (not allow_float or not math.isfinite(value)):
            raise PydanticCustomError(kind, f"{message} (got {describe(value)})")
        if isinstance(value, int | float) and value < 0 and not allow_negative:
            raise PydanticCustomError(kind, f"{message}; it may not be negative (got {value})")
        if isinstance(value, str) and regex.fullmatch(value) is None:
            raise PydanticCustomError(kind, f"{message} (got {value!r})")
        return value

    return check


Quantity = Annotated[
    str | int | float,
    PlainValidator(
        _scalar_or_text(
            "quantity",
            QUANTITY,
            "must be a Kubernetes quantity such as 500m, 2, 1.5, 512Mi or 4Gi",
            allow_float=True,
        )
    ),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": QUANTITY},
                {"type": "number", "minimum": 0},
            ],
            "description": "Kubernetes quantity, e.g. 500m, 2, 512Mi, 4Gi",
        }
    ),
]
# Go's time.Duration is int64 nanoseconds. Ollama reads OLLAMA_KEEP_ALIVE with ParseDuration,
# then as seconds; a longer value fails both and Ollama silently unloads after 5m, which
# breaks the readiness that needs every model loaded.
GO_DURATION_MAX_NANOSECONDS = 2**63 - 1
DURATION_MAX_SECONDS = GO_DURATION_MAX_NANOSECONDS // 10**9
_DURATION_UNIT_NANOSECONDS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")


def duration_range_problem(value: str | int) -> str | None:
    """Why a duration Go cannot hold is refused; None when it fits. The JSON schema bounds the
    integer form; the text form is checked by rules.py (no JSON Schema keyword can sum units)."""
    text = str(value).lstrip("-")
    if text.isdigit():
        nanoseconds = int(text) * 10**9
    else:
        nanoseconds = sum(
            int(Decimal(number) * _DURATION_UNIT_NANOSECONDS[unit])
            for number, unit in _DURATION_PART.findall(text)
        )
    if nanoseconds <= GO_DURATION_MAX_NANOSECONDS:
        return None
    return (
        f"{value!r} is longer than Go's longest duration (about 292 years): Ollama would "
        "ignore it and unload models after 5m; use -1 to keep models loaded"
    )


def _integer_duration_in_range(value: str | int) -> str | int:
    problem = duration_range_problem(value) if isinstance(value, int) else None
    if problem is not None:
        raise PydanticCustomError("duration_range", problem)
    return value


Duration = Annotated[
    str | int,
    PlainValidator(
        _scalar_or_text(
            "duration",
            DURATION,
            "must be a duration such as 5m, 24h or -1 (negative keeps models loaded forever)",
            allow_float=False,
            allow_negative=True,
        )
    ),
    AfterValidator(_integer_duration_in_range),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION},
                {
                    "type": "integer",
                    "minimum": -DURATION_MAX_SECONDS,
                    "maximum": DURATION_MAX_SECONDS,
                },
            ],
            "description": "Go duration (5m, 24h, -1m) or seconds; negative keeps models loaded",
        }
    ),
]


def _parameter_value(value: object) -> object:
    def scalar(item: object) -> bool:
        return isinstance(item, str | int | bool) or (
            isinstance(item, float) and math.isfinite(item)
        )

    if scalar(value) or (
        isinstance(value, list)
        and value
        and all(scalar(item) and not isinstance(item, bool) for item in value)
    ):
        return value
    raise PydanticCustomError(
        "parameter_value",
        "must be a string, number or boolean, or a list of strings/numbers "
        f"(got {describe(value)})",
    )


_PARAMETER_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}
ParameterValue = Annotated[
    object,
    PlainValidator(_parameter_value),
    WithJsonSchema(
        {
            "anyOf": [
                _PARAMETER_SCALAR,
                {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}},
            ]
        }
    ),
]
# Kubernetes carries replicas and counts as int32; a larger number passes YAML and the chart's
# schema but fails at the API server, after Argo CD has synced.
INT32_MAX = 2**31 - 1
NonNegativeInt = Annotated[int, Field(ge=0, le=INT32_MAX)]


def _unique_items(items: list[T]) -> list[T]:
    for index, item in enumerate(items):
        if item in items[:index]:
            raise PydanticCustomError("unique_items", f"lists {item!r} twice")
    return items


PositiveInt = Annotated[int, Field(ge=1, le=INT32_MAX)]

CacheMode = Literal["emptyDir", "sharedPVC", "perReplica"]
AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]
Routing = Literal["gateway", "ingress"]


def describe(value: object) -> str:
    """How a YAML value reads in a message: its YAML kind and, for scalars, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__  # pragma: no cover


# --- base -----------------------------------------------------------------------------------------


class Strict(BaseModel):
    """Unknown keys, type coercion ('1' for 1) and explicit nulls are all errors."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=False,
        protected_namespaces=(),
        use_attribute_docstrings=True,
        regex_engine="python-re",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError(
                "null_value", "must not be null: remove the key to use the default"
            )
        return value


# --- shared blocks --------------------------------------------------------------------------------


class ResourceValues(Strict):
    cpu: Opt[Quantity] = None
    """CPU, e.g. 500m or 2."""
    memory: Opt[Quantity] = None
    """Memory, e.g. 512Mi or 4Gi."""


class Resources(Strict):
    requests: Opt[ResourceValues] = None
    """What the scheduler reserves for the Ollama container."""
    limits: Opt[ResourceValues] = None
    """The most the Ollama container may use (at least the requests)."""


class CacheSettings(Strict):
    """Where the model store lives (OLLAMA_MODELS)."""

    mode: Opt[CacheMode] = None
    """emptyDir (per pod, pulled again on every restart), sharedPVC (one volume for all pods) or
    perReplica (a StatefulSet with one volume per pod)."""
    size: Opt[Quantity] = None
    """emptyDir size limit or PVC request; must hold every model."""
    storage_class: Opt[StorageClassName] = None
    """StorageClass of created PVCs: '' for the cluster default, '-' for none."""
    access_modes: Opt[
        Annotated[
            list[AccessMode],
            Field(min_length=1, json_schema_extra={"uniqueItems": True}),
            AfterValidator(_unique_items),
        ]
    ] = None
    """Access modes of created PVCs, e.g. [ReadWriteOnce] or [ReadWriteMany]."""
    existing_claim: Opt[DnsSubdomain] = None
    """sharedPVC only: an existing PersistentVolumeClaim to use instead of creating one."""


class OllamaSettings(Strict):
    """Ollama server settings (environment variables of `ollama serve`)."""

    num_parallel: Opt[PositiveInt] = None
    """OLLAMA_NUM_PARALLEL: parallel requests per model (each multiplies the KV cache)."""
    context_length: Opt[NonNegativeInt] = None
    """OLLAMA_CONTEXT_LENGTH: default context window; 0 keeps Ollama's default."""
    keep_alive: Opt[Duration] = None
    """OLLAMA_KEEP_ALIVE: how long a model stays loaded; negative = forever (readiness needs it)."""
    max_loaded_models: Opt[NonNegativeInt] = None
    """OLLAMA_MAX_LOADED_MODELS: 0 keeps Ollama's default; at least the number of models."""


# --- leaf -----------------------------------------------------------------------------------------


class ModelEntry(Strict):
    """A model pulled by the init container."""

    name: ModelName
    """Ollama reference [registry/][namespace/]name[:tag], e.g. qwen2.5:0.5b."""
    embedding: bool = False
    """Load it through the embed path (embedding models cannot generate)."""
    insecure: bool = False
    """Pull over plain HTTP (a registry without TLS)."""


def _model_item_kind(value: object) -> str | None:
    if isinstance(value, str):
        return NAME_TAG
    if isinstance(value, dict):
        return MAPPING_TAG
    return None


ModelItem = Annotated[
    Annotated[ModelName, Tag(NAME_TAG)] | Annotated[ModelEntry, Tag(MAPPING_TAG)],
    Discriminator(
        _model_item_kind,
        custom_error_type="model_item",
        custom_error_message="must be a model name or a mapping {name, embedding, insecure}",
    ),
]


class DerivedModel(Strict):
    """A model built with `ollama create` from a Modelfile the generator writes."""

    name: ModelName
    """Name of the new model, e.g. phi-support:latest."""
    from_: ModelName = Field(alias="from")
    """The model it builds on: one of the service's models or an earlier derived model."""
    system: Opt[str] = None
    """SYSTEM prompt."""
    template: Opt[str] = None
    """TEMPLATE (Go template of the prompt)."""
    parameters: Opt[dict[str, ParameterValue]] = None
    """PARAMETER lines, e.g. {temperature: 0.2, num_ctx: 8192, stop: ["<|end|>"]}."""


class LeafGpu(Strict):
    count: NonNegativeInt
    """GPUs (units of the environment's GPU resource) per replica; 0 = CPU only."""
    type: Opt[DnsLabel] = None
    """One of the environment's gpu.types (for sizing); default: the environment's defaultType."""


class LeafIngress(Strict):
    """Expose the service over HTTP(S); the environment decides how (Gateway or Ingress)."""

    enabled: bool
    """Expose the service."""
    host: Opt[Host] = None
    """Host name; default <serviceName>.<environment baseDomain>."""


class ParentRefOverride(Strict):
    name: Opt[DnsSubdomain] = None
    """Gateway name."""
    namespace: Opt[DnsLabel] = None
    """Gateway namespace."""
    section_name: Opt[DnsSubdomain] = None
    """Listener name on the Gateway."""


class LeafGateway(Strict):
    """Overrides of the environment's Gateway attachment (routing: gateway only)."""

    parent_ref: Opt[ParentRefOverride] = None
    """Keys set here replace the environment's gateway.parentRef keys."""
    additional_hostnames: Opt[list[HostOrWildcard]] = None
    """More HTTPRoute hostnames besides ingress.host (wildcards allowed)."""


class Container(Strict):
    replicas: Opt[NonNegativeInt] = None
    """Ollama pods; 0 keeps the resources but runs nothing."""
    resources: Opt[Resources] = None
    """Requests and limits of the Ollama container (GPUs are set with gpu.count)."""


MODEL_AND_MODELS = "set either model (one model) or models (a list), not both"


class CatalogLeaf(Strict):
    """One Ollama inference service: catalog/<environment>/<namespace>/<serviceName>.yaml."""

    model_config = ConfigDict(
        title="Ollama inference catalog leaf",
        json_schema_extra={"oneOf": [{"required": ["model"]}, {"required": ["models"]}]},
    )

    workload_type: Literal["OLLAMA_INFERENCE_LOAD"]
    """Always OLLAMA_INFERENCE_LOAD."""
    service_name: ServiceName
    """Name of the service and of its Kubernetes resources; equals the file name."""
    service_catalog: BackstageName
    """Catalog (Backstage system) the service belongs to."""
    namespace: DnsLabel
    """Kubernetes namespace; equals the leaf's directory."""
    environment: DnsLabel
    """Environment; equals the leaf's top directory and names catalog/environments/<env>.yaml."""
    owner: Opt[EntityRef] = None
    """Backstage owner reference, e.g. group:ml-platform."""
    description: Opt[Description] = None
    """What the service is for (shown in Backstage)."""
    model: Opt[ModelName] = None
    """The one model of the service (shorthand for models: [name])."""
    models: Opt[Annotated[list[ModelItem], Field(min_length=1)]] = None
    """Models of the service, pulled in order (instead of model)."""
    derived_models: Opt[Annotated[list[DerivedModel], Field(min_length=1)]] = None
    """Models built from the service's models with a Modelfile."""
    gpu: Opt[LeafGpu] = None
    """GPUs per replica."""
    ingress: Opt[LeafIngress] = None
    """HTTP exposure."""
    gateway: Opt[LeafGateway] = None
    """Gateway attachment overrides."""
    container: Opt[Container] = None
    """Replicas and resources."""
    resources_preset: Opt[PresetName] = None
    """'auto': memory, GPUs and cache size from the model lock (what the leaf sets wins)."""
    cache: Opt[CacheSettings] = None
    """Model cache; keys override the environment's defaults.cache."""
    ollama: Opt[OllamaSettings] = None
    """Ollama server settings; keys override the environment's defaults.ollama."""
    chart_values: Opt[dict[str, Any]] = None
    """Escape hatch: chart values deep-merged last over the generated values (checked against
    the chart's values.schema.json)."""

    @model_validator(mode="after")
    def _one_model_source(self) -> CatalogLeaf:
        if self.model is not None and self.models is not None:
            raise PydanticCustomError("model_and_models", MODEL_AND_MODELS, {"key": "models"})
        if self.model is None and self.models is None:
            raise PydanticCustomError(
                "no_model", "missing required key 'model' (or 'models' for several models)"
            )
        return self


# --- environment ----------------------------------------------------------------------------------


class ParentRef(Strict):
    """The Gateway that HTTPRoutes attach to."""

    name: DnsSubdomain
    """Gateway name."""
    namespace: DnsLabel
    """Gateway namespace."""
    section_name: Opt[DnsSubdomain] = None
    """Listener name, e.g. https."""


class EnvironmentGateway(Strict):
    parent_ref: ParentRef
    """Gateway of the environment (routing: gateway)."""


class EnvironmentIngress(Strict):
    class_name: Opt[DnsSubdomain] = None
    """IngressClass; default: the cluster default."""
    tls_secret_name: Opt[DnsSubdomain] = None
    """TLS Secret (e.g. a wildcard certificate) for every host; none = plain HTTP."""


class ModelRegistry(Strict):
    """Air-gapped mirror of the Ollama registry: bare model names resolve against it."""

    host: ModelHost
    """Registry host[:port], e.g. registry.internal.example:5000."""
    insecure: bool = False
    """The mirror speaks plain HTTP."""


class GpuType(Strict):
    name: DnsLabel
    """Name leaves use in gpu.type, e.g. a100-80gb."""
    memory: Quantity
    """Memory of one GPU, e.g. 80Gi."""


class EnvironmentGpu(Strict):
    resource_name: ResourceName = DEFAULT_GPU_RESOURCE
    """Extended resource requested per GPU: nvidia.com/gpu, amd.com/gpu, a MIG profile..."""
    budget: Opt[NonNegativeInt] = None
    """Total GPUs (gpu.count x replicas over every service) the environment may request."""
    types: Opt[list[GpuType]] = None
    """GPU models available, for sizing."""
    default_type: Opt[DnsLabel] = None
    """GPU type of leaves that do not name one."""


class StartupDefaults(Strict):
    budget_seconds: Annotated[int, Field(ge=60, le=86400)] = DEFAULT_STARTUP_BUDGET_SECONDS
    """Seconds a pod may take to pull and load its models before it counts as failed."""


class EnvironmentDefaults(Strict):
    """Values every leaf of the environment starts from (a leaf's own keys win)."""

    replicas: Opt[NonNegativeInt] = None
    """Replicas of leaves without container.replicas (default 1)."""
    resources: Opt[Resources] = None
    """Container resources, merged key by key under the leaf's."""
    resources_preset: Opt[PresetName] = None
    """resourcesPreset of leaves without one ('auto')."""
    cache: Opt[CacheSettings] = None
    """Cache settings, merged key by key under the leaf's."""
    ollama: Opt[OllamaSettings] = None
    """Ollama settings, merged key by key under the leaf's."""
    startup: StartupDefaults = Field(default_factory=StartupDefaults)
    """Startup budget."""


class ChartSource(Strict):
    """Where Argo CD takes the chart from: a path in a git repository or a Helm/OCI chart."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["path"]}, {"required": ["chart"]}]}
    )

    repo_url: Opt[Url] = Field(default=None, alias="repoURL")
    """Git repository (with path; default argocd.repoURL) or Helm/OCI repository (with chart)."""
    path: Opt[str] = None
    """Chart directory in the git repository, e.g. charts/ollama-inference-load."""
    chart: Opt[str] = None
    """Chart name in a Helm or OCI repository."""
    version: Opt[str] = None
    """Chart version (Helm/OCI) or git revision (path; default argocd.targetRevision)."""

    @model_validator(mode="after")
    def _one_source(self) -> ChartSource:
        if (self.path is None) == (self.chart is None):
            raise PydanticCustomError(
                "chart_source",
                "set either path (chart in a git repository) or chart (Helm/OCI repository)",
            )
        return self


class SyncPolicy(Strict):
    automated: bool = True
    """Sync automatically when git changes."""
    prune: bool = False
    """Delete resources that left git (off in production: a bad commit should not delete)."""
    self_heal: bool = True
    """Undo changes made outside git."""


class ArgoCd(Strict):
    """How Argo CD deploys the environment's services."""

    repo_url: Url = Field(alias="repoURL")
    """Git repository holding generated/."""
    target_revision: str = "HEAD"
    """Branch, tag or commit Argo CD follows."""
    project: Opt[DnsSubdomain] = None
    """AppProject of the environment's Applications; default ollama-inference-load-<environment>."""
    namespace: DnsLabel = DEFAULT_ARGOCD_NAMESPACE
    """Namespace Argo CD runs in: the ApplicationSet, AppProject and bootstrap Application go
    there."""
    destination_server: Url = DEFAULT_ARGOCD_DESTINATION
    """Kubernetes API of the target cluster."""
    namespace_prefix: Opt[str] = None
    """Prefix added to every leaf namespace in the target cluster."""
    chart: ChartSource
    """The chart to deploy."""
    sync_policy: SyncPolicy = Field(default_factory=SyncPolicy)
    """Automated sync, prune and self-heal."""


class Environment(Strict):
    """Defaults and infrastructure of one environment: catalog/environments/<environment>.yaml."""

    model_config = ConfigDict(title="Ollama inference catalog environment")

    environment: DnsLabel
    """Name of the environment; equals the file name."""
    lifecycle: BackstageName = "experimental"
    """Backstage lifecycle of the environment's services, e.g. experimental or production."""
    owner: Opt[EntityRef] = None
    """Backstage owner of the services whose leaf names none, e.g. group:ml-platform."""
    routing: Routing = "gateway"
    """How exposed services are reached: gateway (HTTPRoute) or ingress (Ingress)."""
    base_domain: Opt[Host] = None
    """Leaves without ingress.host are exposed at <serviceName>.<baseDomain>."""
    gateway: Opt[EnvironmentGateway] = None
    """Gateway API settings (routing: gateway)."""
    ingress: Opt[EnvironmentIngress] = None
    """Ingress settings (routing: ingress)."""
    storage_class: Opt[StorageClassName] = None
    """StorageClass of model caches that do not name one."""
    image_registry: Opt[RegistryHost] = None
    """Registry mirror replacing the registry of every chart image."""
    model_registry: Opt[ModelRegistry] = None
    """Mirror of the Ollama registry for bare model names."""
    gpu: EnvironmentGpu = Field(default_factory=EnvironmentGpu)
    """GPU resource, budget and types."""
    defaults: EnvironmentDefaults = Field(default_factory=EnvironmentDefaults)
    """Defaults for every leaf."""
    require_lock: bool = False
    """Every model must be pinned in catalog/models.lock.yaml (production)."""
    download_bandwidth: Opt[Quantity] = None
    """Bytes per second a pod can pull models at, e.g. 50Mi (startup budgets)."""
    argocd: Opt[ArgoCd] = None
    """Argo CD settings."""


# --- validation: pydantic errors -> Problems ------------------------------------------------------

ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_document(model: type[ModelT], document: Document, report: Report) -> ModelT | None:
    """The document as a model, or None with every shape problem added to the report."""
    try:
        return model.model_validate(document.data)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            _report_error(model, document, report, detail)
        return None


def shape_errors(model: type[BaseModel], data: object) -> list[str]:
    """Messages only, for tests that compare this model with the JSON schema."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [f"{detail['loc']}: {detail['msg']}" for detail in error.errors()]
    return []


def _report_error(model: type[BaseModel], document: Document, report: Report, detail: Any) -> None:
    kind: str = detail["type"]
    parts = _data_path(document.data, detail["loc"])
    value = detail.get("input")
    context: dict[str, Any] = detail.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(parts[-1])
        known = allowed_keys(model, parts[:-1])
        document.add(
            report, parts, f"unknown key {key!r}", at_key=True, hint=_unknown_key_hint(key, known)
        )
        return
    if kind == "missing":
        key = str(parts[-1])
        document.add(report, parts[:-1], f"missing required key {key!r}")
        return
    if "key" in context:
        parts = (*parts, context["key"])
        document.add(report, parts, detail["msg"], at_key=True)
        return
    document.add(report, parts, _message(kind, value, context, detail["msg"]))


def _data_path(data: object, loc: Sequence[int | str]) -> DataPath:
    """pydantic's loc without its union labels: the path of the value in the document."""
    parts: list[JsonPathPart] = []
    current = data
    for part in loc:
        if part in (NAME_TAG, MAPPING_TAG):
            continue
        parts.append(part)
        if isinstance(current, dict) and isinstance(part, str):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
    return tuple(parts)


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _message(kind: str, value: object, context: Mapping[str, Any], fallback: str) -> str:
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]} (got {describe(value)})"
    if kind in ("literal_error", "enum"):
        return f"must be one of {context.get('expected', '')} (got {describe(value)})"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {context.get(key)} (got {describe(value)})"
    if kind == "too_short":
        return f"must have at least {context.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {context.get('max_length')} item(s)"
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters"
    return fallback


def allowed_keys(model: type[BaseModel], parts: Sequence[JsonPathPart]) -> list[str]:
    """The keys a mapping at parts may have (aliases), found by walking the model's fields."""
    current: Any = model
    for part in parts:
        current = _step(current, part)
        if current is None:
            return []
    model_class = _as_model(current)
    if model_class is None:
        return []
    return [field.alias or name for name, field in model_class.model_fields.items()]


def _step(annotation: Any, part: JsonPathPart) -> Any:
    for candidate in _members(annotation):
        model_class = _as_model(candidate)
        if model_class is not None and isinstance(part, str):
            for name, field in model_class.model_fields.items():
                if (field.alias or name) == part:
                    return field.annotation
        origin = typing.get_origin(candidate)
        arguments = typing.get_args(candidate)
        if origin is list and isinstance(part, int):
            return arguments[0]
        if origin is dict and isinstance(part, str):
            return arguments[1]
    return None


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members: list[Any] = []
        for argument in typing.get_args(annotation):
            members.extend(_members(argument))
        return members
    return [annotation]


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """A hint naming the closest choice (difflib, or the same word in other case), if any."""
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not matches:
        lowered = {choice.lower(): choice for choice in choices}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"did you mean {matches[0]!r}?" if matches else None


def _unknown_key_hint(key: str, known: Sequence[str]) -> str | None:
    hint = did_you_mean(key, known)
    if hint is None and known and len(known) <= 24:
        hint = "allowed keys: " + ", ".join(sorted(known))
    return hint


# --- JSON schema ----------------------------------------------------------------------------------

SCHEMA_BASE_URL = "https://ollama-inference-load.example/schemas/"
SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "catalog-leaf.schema.json": CatalogLeaf,
    "environment.schema.json": Environment,
}


def json_schema(model: type[BaseModel], file_name: str) -> dict[str, Any]:
    generated = model.model_json_schema(by_alias=True, mode="validation")
    cleaned = _clean(generated)
    assert isinstance(cleaned, dict)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URL + file_name,
        "$comment": (
            "Code generated by catalog-gen schema from src/catalog_gen/models.py. DO NOT EDIT."
        ),
        **cleaned,
    }


def schema_text(model: type[BaseModel], file_name: str) -> str:
    return (
        json.dumps(json_schema(model, file_name), indent=2, sort_keys=True, ensure_ascii=False)
        + "\n"
    )


def _clean(node: Any, *, in_properties: bool = False) -> Any:
    """Drop pydantic's per-field titles and `default: null` (null is never a valid value)."""
    if isinstance(node, dict):
        cleaned: dict[str, Any] = {}
        for key, value in node.items():
            if in_properties:
                cleaned[key] = _clean(value)
                continue
            if key == "title" and isinstance(value, str) and node.get("type") != "object":
                continue
            if key == "default" and value is None:
                continue
            cleaned[key] = _clean(value, in_properties=key in ("properties", "$defs"))
        return cleaned
    if isinstance(node, list):
        return [_clean(item) for item in node]
    return node
