"""The shape of catalog leaves and environment files: pydantic v2 models, the schema's source.

`catalog-gen schema` writes schemas/catalog-leaf.schema.json and schemas/environment.schema.json
from these models; a test fails when the committed files are stale, and another checks that the
JSON schema and these models accept and reject the same fixtures. So every constraint here must
be one JSON Schema can express too (patterns, bounds, enums, required keys); meaning that needs
more than one field or more than one file (references resolve, requests <= limits, hosts unique)
lives in check/ and plan/. The constrained scalars are in fields.py, the mapping of pydantic
errors to Problems in check/shape.py, the schema files' writer in emit/schema.py.

YAML keys are camelCase (the proof of concept's leaf); Python attributes are snake_case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from catalog_gen.fields import (
    WHOLE_NUMBER,
    AccessMode,
    AdapterPath,
    BackstageName,
    CacheMode,
    Description,
    DnsLabel,
    DnsSubdomain,
    Duration,
    EntityRef,
    GitRevision,
    Host,
    HostOrWildcard,
    HttpsUrl,
    HttpUrl,
    Ipv4Cidr,
    ModelHost,
    ModelName,
    NonNegativeInt,
    ParameterValue,
    Port,
    PositiveInt,
    PresetName,
    Quantity,
    RegistryHost,
    ResourceName,
    Routing,
    ServiceName,
    StorageClassName,
    Url,
    unique_items,
)

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
DEFAULT_ARGOCD_DESTINATION = "https://kubernetes.default.svc"
DEFAULT_ARGOCD_NAMESPACE = "argocd"
NAME_TAG, MAPPING_TAG = "<model name>", "<model mapping>"


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
        # The docstring under each field is its description in the JSON schema; emit/schema.py
        # puts it there (pydantic's use_attribute_docstrings would read every class's source
        # whenever catalog-gen starts: a tenth of its start-up).
        regex_engine="python-re",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            field = cls.model_fields.get(info.field_name or "")
            if field is not None and field.is_required():  # no default to fall back to
                raise PydanticCustomError("null_value", "must not be null: give it a value")
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
            AfterValidator(unique_items),
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
    """OLLAMA_MAX_LOADED_MODELS: 0 keeps Ollama's default; else at least the number of load
    groups (a derived model shares its FROM model's), or where some models are on demand (a finite
    models[].keepAlive), the resident groups plus one."""


# --- leaf -----------------------------------------------------------------------------------------


class ModelEntry(Strict):
    """A model pulled by the init container."""

    name: ModelName
    """Ollama reference [registry/][namespace/]name[:tag], e.g. qwen2.5:0.5b."""
    embedding: bool = False
    """Load it through the embed path (embedding models cannot generate)."""
    insecure: bool = False
    """Pull over plain HTTP (a registry without TLS)."""
    keep_alive: Opt[Duration] = None
    """How long this model stays loaded after its last request (as ollama.keepAlive); a finite
    one makes it on demand once loaded (its memory is free between uses). Default:
    ollama.keepAlive."""


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
        custom_error_message=(
            "must be a model name or a mapping {name, embedding, insecure, keepAlive}"
        ),
    ),
]


class ModelfileMessage(Strict):
    """One MESSAGE of a Modelfile: an example conversation turn."""

    role: Literal["system", "user", "assistant"]
    """Who speaks: system, user or assistant."""
    content: str
    """What is said (may span lines)."""


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
    adapter: Opt[AdapterPath] = None
    """ADAPTER: a LoRA adapter (GGUF file or safetensors directory) already in the pod, as an
    absolute path, e.g. /models/adapters/support-lora.gguf; never a URL."""
    messages: Opt[Annotated[list[ModelfileMessage], Field(max_length=64)]] = None
    """MESSAGE lines: example conversation turns, in order."""
    license: Opt[str] = None
    """LICENSE text of the derived model."""


class LeafGpu(Strict):
    count: NonNegativeInt
    """GPUs (units of the environment's GPU resource) per replica; 0 = CPU only."""
    type: Opt[DnsLabel] = None
    """One of the environment's gpu.types (for sizing); default: the environment's defaultType."""


class LeafIngress(Strict):
    """Expose the service over HTTP(S); the environment decides how (Gateway or Ingress)."""

    # Fields in alphabetical order: the Backstage template is built from the schema as written,
    # whose properties are sorted (tests/gitops/test_repository.py).
    administration: bool = False
    """Also route Ollama's administration endpoints (pull, push, delete, create, copy, blobs,
    sign-in, web search and fetch); refused where the environment does not allowAdministration."""
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


class AutoscalingTarget(Strict):
    """The per-replica load KEDA scales on: one key."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["concurrency"]}, {"required": ["requestRate"]}]}
    )

    concurrency: Opt[PositiveInt] = None
    """Requests in flight per replica (default: ollama.numParallel)."""
    request_rate: Opt[PositiveInt] = None
    """Requests per second per replica."""

    @model_validator(mode="after")
    def _one_target(self) -> AutoscalingTarget:
        if (self.concurrency is None) == (self.request_rate is None):
            raise PydanticCustomError("autoscaling_target", "set either concurrency or requestRate")
        return self


class ScaleToZero(Strict):
    after_idle: Opt[Annotated[str, Field(min_length=1, max_length=32)]] = None
    """Idle time before the last replica goes, e.g. 30m, 1h30m or 90s (KEDA cooldownPeriod)."""


class AutoscalingSettings(Strict):
    """Request-driven autoscaling with KEDA (docs/autoscaling.md): in a leaf its presence turns
    autoscaling on; in an environment's defaults it only supplies the values leaves leave out."""

    min_replicas: Opt[PositiveInt] = None
    """Replicas while the service is in use (chart default 1)."""
    max_replicas: Opt[PositiveInt] = None
    """Most replicas, at least minReplicas; each takes gpu.count GPUs of the budget."""
    target: Opt[AutoscalingTarget] = None
    """{concurrency: N} or {requestRate: N} per replica."""
    scale_to_zero: Opt[ScaleToZero] = None
    """In a leaf: go to zero replicas when idle (where the environment allows it)."""


MODEL_AND_MODELS = "set either model (one model) or models (a list), not both"
NO_MODEL = "missing required key 'model' (or 'models' for several models)"


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
    autoscaling: Opt[AutoscalingSettings] = None
    """Scale with the requests (KEDA; the environment's autoscaling.engine): present = on; keys
    override the environment's defaults.autoscaling."""
    chart_values: Opt[dict[str, Any]] = None
    """Escape hatch: chart values deep-merged last over the generated values (checked against
    the chart's values.schema.json)."""

    @model_validator(mode="after")
    def _one_model_source(self) -> CatalogLeaf:
        if self.model is not None and self.models is not None:
            raise PydanticCustomError("model_and_models", MODEL_AND_MODELS, {"key": "models"})
        if self.model is None and self.models is None:
            raise PydanticCustomError("no_model", NO_MODEL)
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
    annotations: Opt[dict[str, str]] = None
    """Annotations of every service's Ingress, under those of a leaf's chartValues.ingress
    (judged by the chart's schema), e.g. nginx.ingress.kubernetes.io/proxy-read-timeout: "600":
    ingress-nginx's default 60 s cuts a long answer that is not streamed."""


class EnvironmentNetworkPolicy(Strict):
    """The NetworkPolicy of every service: ingress only from the gateway or ingress controller
    (and the helm test pod), egress only to DNS and the model registries."""

    enabled: Opt[bool] = None
    """Default: on wherever fromNamespaces resolves (routing gateway: the Gateway's namespace)."""
    from_namespaces: Opt[
        Annotated[
            list[DnsLabel],
            Field(min_length=1, json_schema_extra={"uniqueItems": True}),
            AfterValidator(unique_items),
        ]
    ] = None
    """Namespaces of the pods that forward requests to the services: the gateway's proxies
    (Envoy Gateway runs them in envoy-gateway-system by default) or the ingress controller.
    Default with routing gateway: gateway.parentRef.namespace (a leaf's override included)."""
    registry_cidrs: Opt[
        Annotated[
            list[Ipv4Cidr],
            Field(min_length=1, json_schema_extra={"uniqueItems": True}),
            AfterValidator(unique_items),
        ]
    ] = Field(default=None, alias="registryCIDRs")
    """The model registries (and any proxy) as CIDRs: the only egress besides DNS, so the pods
    cannot reach the internet. Default: the public IPv4 internet on registryPorts."""
    registry_ports: Opt[
        Annotated[
            list[Port],
            Field(min_length=1, json_schema_extra={"uniqueItems": True}),
            AfterValidator(unique_items),
        ]
    ] = None
    """TCP ports of the registries; default the modelRegistry host's port, else 443."""


class ApiKeyAuthentication(Strict):
    secret_name: DnsSubdomain
    """Opaque Secret in each service's namespace: keys are client IDs, values their API keys."""


class JwtAuthentication(Strict):
    jwks_uri: HttpsUrl
    """HTTPS URI of the JSON Web Key Set."""
    issuer: Opt[Annotated[str, Field(min_length=1, max_length=253)]] = None
    """Issuer (iss) a token must carry; default not checked."""
    audiences: Opt[
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=253)]],
            Field(min_length=1, max_length=8),
        ]
    ] = None
    """Audiences (aud), one of which a token must carry (at most 8: the SecurityPolicy CRD's
    limit); default not checked."""


class EnvironmentAuthentication(Strict):
    """Authentication at the gateway (routing: gateway with Envoy Gateway): an Envoy Gateway
    SecurityPolicy on every service's HTTPRoute."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["apiKey"]}, {"required": ["jwt"]}]}
    )

    api_key: Opt[ApiKeyAuthentication] = None
    """API keys from a Secret, read from the x-api-key header."""
    jwt: Opt[JwtAuthentication] = None
    """JSON Web Tokens (Authorization: Bearer) checked against a remote JWKS."""

    @model_validator(mode="after")
    def _one_method(self) -> EnvironmentAuthentication:
        if (self.api_key is None) == (self.jwt is None):
            raise PydanticCustomError("authentication", "set either apiKey or jwt")
        return self


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
    """Total GPUs the environment may request: each service's GPUs per pod (gpu.count, or more
    where its chartValues give the model-pull init container or gpu.extraResources GPU devices)
    x replicas, over every service, plus surge."""
    surge: NonNegativeInt = 0
    """GPUs the pool keeps spare for rollouts (units of resourceName): a rollout may start new
    pods on them before old ones stop. One allowance for the whole pool, counted once in the
    budget; each service's rollout may use all of it (rollouts that meet wait in turn)."""
    types: Opt[list[GpuType]] = None
    """GPU models available, for sizing."""
    default_type: Opt[DnsLabel] = None
    """GPU type of leaves that do not name one."""


class StartupDefaults(Strict):
    budget_seconds: Opt[Annotated[int, Field(ge=60, le=86400), WHOLE_NUMBER]] = None
    """Seconds a pod may take to pull and load its models; default: the chart's budget."""


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
    autoscaling: Opt[AutoscalingSettings] = None
    """minReplicas, maxReplicas, target and scaleToZero.afterIdle of the leaves that autoscale
    (a leaf's autoscaling block turns it on; these never do)."""


class PrometheusEngine(Strict):
    """keda-prometheus: the Prometheus server and the query of a service's load."""

    server_address: Opt[HttpUrl] = None
    """Prometheus server URL, e.g. http://prometheus-operated.monitoring:9090."""
    query: Opt[Annotated[str, Field(min_length=1, max_length=4096)]] = None
    """PromQL query template: ${namespace}, ${service}, ${route} and ${port} are replaced."""
    authentication_ref: Opt[DnsSubdomain] = None
    """TriggerAuthentication (in each service's namespace) for the Prometheus server."""
    activation_threshold: Opt[Annotated[int, Field(ge=0)] | Annotated[float, Field(ge=0)]] = None
    """Active (out of zero) while the query returns more than this."""


class KedaHttpEngine(Strict):
    """keda-http: where the KEDA HTTP add-on runs (defaults: the add-on chart's names)."""

    interceptor_service: Opt[DnsLabel] = None
    """The interceptor proxy Service, the HTTPRoutes' backend."""
    interceptor_namespace: Opt[DnsLabel] = None
    """Namespace of the add-on; the ReferenceGrants go there (the AppProject allows it)."""
    interceptor_port: Opt[Port] = None
    """Port of the interceptor proxy Service."""


class EnvironmentAutoscaling(Strict):
    """The autoscaler of the environment's services (docs/autoscaling.md)."""

    engine: Literal["keda-http", "keda-prometheus"]
    """keda-http (KEDA HTTP add-on; needs routing gateway) or keda-prometheus."""
    allow_scale_to_zero: bool = False
    """Leaves may scale to zero when idle (autoscaling.scaleToZero)."""
    prometheus: Opt[PrometheusEngine] = None
    """keda-prometheus settings."""
    keda_http: Opt[KedaHttpEngine] = None
    """keda-http settings."""


# Argo CD matches an AppProject's destinations and sourceRepos as globs (gobwas/glob): one of
# these in a cluster or repository URL (an IPv6 host's brackets) never matches itself, so the
# project would allow no Application of the environment.
_GLOB_CHARACTERS = frozenset("[]{}*?")


def _no_glob(value: str | None) -> str | None:
    if value is not None and _GLOB_CHARACTERS & set(value):
        raise PydanticCustomError(
            "argocd_glob",
            "must not hold [ ] { } * or ?: Argo CD matches the AppProject's destinations and "
            "sourceRepos as globs, so the URL would never match itself (use a DNS name for an "
            "IPv6 address)",
        )
    return value


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

    _repo_url_no_glob = field_validator("repo_url")(_no_glob)

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
    target_revision: GitRevision = "HEAD"
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

    _urls_no_glob = field_validator("repo_url", "destination_server")(_no_glob)


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
    verify_model_blobs: bool = False
    """Hash every blob of every model at each pod start (chart lifecycle.verifyBlobs): a blob
    replaced at its size on a persistent model store is pulled again, never served."""
    allow_administration: Opt[bool] = None
    """Leaves may route Ollama's administration endpoints (ingress.administration or chartValues
    exposure.administration). Default: false when lifecycle is production, else true."""
    network_policy: Opt[EnvironmentNetworkPolicy] = None
    """NetworkPolicy of every service."""
    authentication: Opt[EnvironmentAuthentication] = None
    """Authenticate every request at the gateway (routing: gateway, Envoy Gateway)."""
    autoscaling: Opt[EnvironmentAutoscaling] = None
    """Autoscaler of the services whose leaf has an autoscaling block."""
    download_bandwidth: Opt[Quantity] = None
    """Bytes per second a pod can pull models at, e.g. 50Mi (startup budgets)."""
    argocd: Opt[ArgoCd] = None
    """Argo CD settings."""
