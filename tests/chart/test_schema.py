"""values.schema.json: good values pass, each wrong type or unknown key fails with a message
that names the key, on helm 3 and helm 4 alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from catalog_gen.fields import REGISTRY_HOST, RESOURCE_NAME
from tests.chart.conftest import (
    API_VERSIONS,
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    render,
    scenario_file,
)
from tests.conftest import helm_binary
from tests.support.kube import HelmError, helm_template, select
from tools.kube_validate import KUBE_VERSIONS
from tools.kube_validate import _schema_dir as schema_dir

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
FIXTURES = Path(__file__).parent / "fixtures"

# (values, text that must appear in helm's error): one mistake each.
BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"replicaCount": -1}, "/replicaCount"),
    ({"replicaCount": "2"}, "/replicaCount"),
    ({"replicaCount": 2147483648}, "/replicaCount"),
    ({"cache": {"mode": "shared"}}, "/cache/mode"),
    ({"cache": {"sizee": "1Gi"}}, "additional properties 'sizee' not allowed"),
    ({"cache": {"size": "lots"}}, "/cache/size"),
    ({"cache": {"accessModes": ["ReadWriteAll"]}}, "/cache/accessModes/0"),
    ({"cache": {"storageClass": "Fast_SSD"}}, "/cache/storageClass"),
    ({"gpu": {"count": "1"}}, "/gpu/count"),
    ({"gpu": {"count": 2147483648}}, "/gpu/count"),
    ({"gpu": {"resourceName": "gpu"}}, "/gpu/resourceName"),
    ({"models": [{"name": "phi", "digest": "sha256:abc"}]}, "/models/0/digest"),
    # One hex digit too many: a pattern anchored only at its end would accept it.
    ({"models": [{"name": "phi", "digest": "a" * 65}]}, "/models/0/digest"),
    ({"models": [{"name": "phi:"}]}, "/models/0/name"),
    ({"models": [{"name": "phi@sha256:" + "a" * 64}]}, "/models/0/name"),
    ({"models": [{"name": "phi", "pull": True}]}, "additional properties 'pull' not allowed"),
    ({"models": [{"digest": ""}]}, "/models/0"),
    ({"models": [{"name": "phi\tlatest"}]}, "/models/0/name"),
    ({"derivedModels": [{"name": "x"}]}, "/derivedModels/0"),
    ({"ollama": {"numParallel": 0}}, "/ollama/numParallel"),
    ({"ollama": {"keepAlive": "forever"}}, "/ollama/keepAlive"),
    # Ollama reads a unitless keep-alive as whole seconds and silently uses 5m for "1.5".
    ({"ollama": {"keepAlive": "1.5"}}, "/ollama/keepAlive"),
    ({"ollama": {"keepalive": "5m"}}, "additional properties 'keepalive' not allowed"),
    # Under a nanosecond Go's ParseDuration reads as 0 (it truncates each part): Ollama would
    # unload at once, what "not zero" refuses.
    ({"ollama": {"keepAlive": "0.9ns"}}, "/ollama/keepAlive"),
    ({"ollama": {"keepAlive": "0.0000000001s"}}, "/ollama/keepAlive"),
    ({"models": [{"name": "phi", "keepAlive": "0.0009us"}]}, "/models/0/keepAlive"),
    # A minute and an hour are no powers of ten of a nanosecond: below 1/60e9 and 1/3.6e12.
    ({"ollama": {"keepAlive": "0.000000000016m"}}, "/ollama/keepAlive"),
    ({"ollama": {"keepAlive": "0.00000000000027h"}}, "/ollama/keepAlive"),
    ({"image": {"digest": "abc"}}, "/image/digest"),
    ({"image": {"digest": "xsha256:" + "a" * 64}}, "/image/digest"),
    ({"image": {"tag": "1.0 beta"}}, "/image/tag"),
    ({"test": {"image": {"registry": "http://registry.example.com"}}}, "/test/image/registry"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"fullnameOverride": "Bad Name"}, "/fullnameOverride"),
    ({"global": {"imageRegistry": 5}}, "/global/imageRegistry"),
    # A bare word is a Docker Hub account to container runtimes (distribution/reference):
    # `mirror` would pull docker.io/mirror/ollama/ollama. Path parts and ports as its grammar has
    # them, or the runtime refuses the image name (InvalidImageName).
    ({"global": {"imageRegistry": "mirror"}}, "/global/imageRegistry"),
    ({"global": {"imageRegistry": "registry.example/.."}}, "/global/imageRegistry"),
    ({"global": {"imageRegistry": "registry.example/-x/_y"}}, "/global/imageRegistry"),
    ({"global": {"imageRegistry": "registry.example:99999"}}, "/global/imageRegistry"),
    ({"global": {"imageRegistry": "registry.example:0"}}, "/global/imageRegistry"),
    ({"global": {"imageRegistry": "a..b"}}, "/global/imageRegistry"),
    ({"image": {"registry": "mirror"}}, "/image/registry"),
    ({"image": {"repository": "ollama._x/ollama"}}, "/image/repository"),
    ({"test": {"image": {"repository": "a..b/c"}}}, "/test/image/repository"),
    # The chart's labels win a merge: these keys would be dropped silently.
    ({"commonLabels": {"app.kubernetes.io/part-of": "mine"}}, "/commonLabels"),
    ({"podLabels": {"app.kubernetes.io/component": "llm"}}, "/podLabels"),
    # The test pod's component label is what the server's NetworkPolicy admits it by.
    ({"test": {"podLabels": {"app.kubernetes.io/component": "x"}}}, "/test/podLabels"),
    # The test pod's hook annotations: a second helm.sh/hook would make it no test at all.
    ({"test": {"podAnnotations": {"helm.sh/hook": "post-install"}}}, "/test/podAnnotations"),
    ({"test": {"podAnnotations": {"checkov.io/skip1": "CKV_K8S_1=x"}}}, "/test/podAnnotations"),
    # Authentication is the HTTPRoute's SecurityPolicy: without the route it did nothing.
    (
        {"httpRoute": {"authentication": {"type": "apiKey", "apiKey": {"secretName": "k"}}}},
        "/httpRoute/enabled",
    ),
    # The chart's own Gateway with parentRefs elsewhere: a Gateway no route attaches to.
    (
        {
            "gateway": {"enabled": True, "className": "eg"},
            "httpRoute": {
                "enabled": True,
                "hostnames": ["a.example.com"],
                "parentRefs": [{"name": "other", "namespace": "gw"}],
            },
        },
        "/httpRoute/parentRefs",
    ),
    ({"commonLabels": {"env": 3}}, "/commonLabels/env"),
    ({"httpRoute": {"hostnames": ["Bad_Host"]}}, "/httpRoute/hostnames/0"),
    ({"httpRoute": {"timeouts": {"request": "10 minutes"}}}, "/httpRoute/timeouts/request"),
    ({"httpRoute": {"parentRefs": [{"namespace": "x"}]}}, "/httpRoute/parentRefs/0"),
    # Paths come from api/ollama-endpoints.yaml only: a values file cannot route more.
    (
        {"ingress": {"hosts": [{"host": "a.example.com", "paths": [{"path": "/"}]}]}},
        "additional properties 'paths' not allowed",
    ),
    ({"httpRoute": {"path": {"type": "PathPrefix", "value": "/"}}}, "'path' not allowed"),
    ({"exposure": {"administration": "yes"}}, "/exposure/administration"),
    ({"httpRoute": {"authentication": {"type": "basic"}}}, "/httpRoute/authentication/type"),
    (
        {"httpRoute": {"authentication": {"type": "apiKey"}}},
        "/httpRoute/authentication/apiKey/secretName",
    ),
    (
        {"httpRoute": {"authentication": {"type": "jwt"}}},
        "/httpRoute/authentication/jwt/jwksUri",
    ),
    (
        {
            "httpRoute": {
                "authentication": {"type": "jwt", "jwt": {"jwksUri": "http://a.example/jwks"}}
            }
        },
        "/httpRoute/authentication/jwt/jwksUri",
    ),
    (
        {"securityContext": {"runAsNonroot": True}},
        "additional properties 'runAsNonroot' not allowed",
    ),
    (
        {"podSecurityContext": {"seccompProfile": {"type": "Default"}}},
        "/podSecurityContext/seccompProfile/type",
    ),
    ({"startup": {"budgetSeconds": "600"}}, "/startup/budgetSeconds"),
    (
        {"networkPolicy": {"ingressFrom": [{"namespaceSelecter": {}}]}},
        "additional properties 'namespaceSelecter' not allowed",
    ),
    ({"resources": {"limits": {"memory": "8 GB"}}}, "/resources/limits/memory"),
    ({"tolerations": [{"key": "a", "effect": "NoScheduling"}]}, "/tolerations/0/effect"),
    ({"assumeApiVersions": ["gateway.networking.k8s.io/v1/HTTPRoute"]}, "/assumeApiVersions/0"),
    ({"service": {"port": 70000}}, "/service/port"),
    ({"updateStrategy": {"type": "OnDelete"}}, "/updateStrategy/type"),
    # A key's prefix is a DNS subdomain of at most 253 characters (apimachinery IsQualifiedName):
    # the API server refused every object the chart labels.
    ({"commonLabels": {"a" * 254 + "/k": "v"}}, "/commonLabels"),
    ({"podAnnotations": {"a" * 254 + "/k": "v"}}, "/podAnnotations"),
    ({"nodeSelector": {"a" * 254 + "/k": "v"}}, "invalid propertyName"),
    ({"tolerations": [{"key": "a" * 254 + "/k", "operator": "Exists"}]}, "/tolerations/0/key"),
    ({"gpu": {"resourceName": "a" * 254 + "/gpu"}}, "/gpu/resourceName"),
    ({"gpu": {"extraResources": {"a" * 254 + "/x": 1}}}, "invalid propertyName"),
]


def test_schema_is_valid_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def _patterns(node: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append((path, value))
            else:
                found += _patterns(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _patterns(value, f"{path}/{index}")
    return found


def _top_level_alternatives(pattern: str) -> list[str]:
    alternatives, depth, start, escaped = [], 0, 0, False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            alternatives.append(pattern[start:index])
            start = index + 1
    return [*alternatives, pattern[start:]]


def test_every_pattern_is_anchored_at_both_ends() -> None:
    # JSON Schema patterns search, they do not match: "^$|[0-9a-f]{64}$" accepts any text that
    # ends in 64 hex digits. Each top-level alternative needs its own ^ and $.
    unanchored = [
        f"{path}: {alternative!r}"
        for path, pattern in _patterns(SCHEMA, "#")
        for alternative in _top_level_alternatives(pattern)
        if not (alternative.startswith("^") and alternative.endswith("$"))
        # "^/" on paths is a prefix rule on purpose.
        and pattern != "^/"
    ]
    assert unanchored == []


def _refused_patterns(node: Any, path: str, inside_not: bool = False) -> list[str]:
    """The paths of schemas with a pattern and no string type, under a `not`."""
    found: list[str] = []
    if isinstance(node, dict):
        if inside_not and "pattern" in node and node.get("type") != "string":
            found.append(path)
        for key, value in node.items():
            found += _refused_patterns(value, f"{path}/{key}", inside_not or key == "not")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _refused_patterns(value, f"{path}/{index}", inside_not)
    return found


def test_a_pattern_under_not_is_typed_so_a_non_string_is_not_refused_by_it() -> None:
    # A pattern passes any non-string, so `not: {pattern}` refused extraEnv `name: 1` twice: its
    # type, and falsely as a name the chart sets itself (helm and catalog-gen alike).
    assert _refused_patterns(SCHEMA, "#") == []
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    values = _coalesce(defaults, {"extraEnv": [{"name": 1, "value": "x"}]})
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(values))
    assert [error.validator for error in errors] == ["type"], [e.message for e in errors]


def _open_objects(node: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        kinds = node.get("type")
        an_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds)
        open_object = an_object and node.get("additionalProperties") is not False
        if open_object and ("properties" in node or "additionalProperties" not in node):
            found.append(path)
        for key, value in node.items():
            found += _open_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _open_objects(value, f"{path}/{index}")
    return found


def test_every_object_is_closed_except_kubernetes_pass_throughs() -> None:
    # Open on purpose: `global` is shared with parent charts; the others are Kubernetes types
    # passed through verbatim, which the API server validates (tests/chart/test_apiserver.py
    # runs its own validation on every scenario; the schema closes what it refused there).
    sources = VOLUME["properties"].keys() - {"name"}
    assert sorted(_open_objects(SCHEMA, "#")) == sorted(
        [*(f"{VOLUME_PATH}/properties/{source}" for source in sources), "#/properties/global"]
    )


VOLUME_PATH = "#/properties/extraVolumes/items"
VOLUME = SCHEMA["properties"]["extraVolumes"]["items"]


def test_an_extra_volume_names_the_volume_sources_of_every_supported_kubernetes() -> None:
    """The sources an `extraVolumes` item may hold (one at most, the API server's rule) are the
    Volume's of the Kubernetes versions the chart supports, from their own schemas
    (kubernetes-validate): a typo, or a second source, is refused by helm and catalog-gen
    before the API server refuses it at apply."""
    known: set[str] = set()
    for version in KUBE_VERSIONS:
        volume = json.loads((schema_dir(version) / "volume-v1.json").read_text(encoding="utf-8"))
        known |= volume["properties"].keys()
    assert VOLUME["properties"].keys() == known
    assert "minProperties" not in VOLUME  # a name alone: an emptyDir (the API server's default)
    assert VOLUME["maxProperties"] == 2  # a name and a source
    assert VOLUME["additionalProperties"] is False


def _coalesce(defaults: Any, override: Any) -> Any:
    """Helm's merge of a values file over the defaults: maps merge, everything else replaces."""
    if isinstance(defaults, dict) and isinstance(override, dict):
        merged = dict(defaults)
        for key, value in override.items():
            merged[key] = _coalesce(defaults.get(key), value)
        return merged
    return override


@pytest.mark.parametrize(
    "values_file", [FIXTURES / "generator-values.yaml", *map(scenario_file, SCENARIOS)]
)
def test_values_validate_with_python_jsonschema_too(values_file: Path) -> None:
    # The generator validates its output against this schema with Python's jsonschema: the
    # patterns must mean the same there as in helm's Go validator.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    values = _coalesce(defaults, yaml.safe_load(values_file.read_text()))
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert [error.message for error in validator.iter_errors(defaults)] == []
    assert [error.message for error in validator.iter_errors(values)] == []


@pytest.mark.parametrize(
    ("values", "expected"), BAD_VALUES[:12], ids=[e for _, e in BAD_VALUES[:12]]
)
def test_python_jsonschema_rejects_bad_values_too(values: dict[str, Any], expected: str) -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert list(validator.iter_errors(_coalesce(defaults, values)))


def test_generator_values_from_the_interface_render(helm: Path) -> None:
    documents = render(helm, extra_args=["--values", str(FIXTURES / "generator-values.yaml")])
    (statefulset,) = select(documents, "StatefulSet")
    assert statefulset["metadata"]["name"] == "chat-prod"
    assert select(documents, "HTTPRoute")
    assert select(documents, "Ingress")


def test_global_accepts_keys_of_parent_charts(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"global": {"storageClass": "x", "imageRegistry": ""}}, tmp_path)
    assert select(documents, "Deployment")


@pytest.mark.parametrize(("values", "expected"), BAD_VALUES, ids=[e for _, e in BAD_VALUES])
def test_bad_values_fail_naming_the_key(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert "values don't meet the specifications of the schema" in failure.value.stderr
    assert expected in failure.value.stderr


def test_a_key_prefix_of_253_characters_renders(helm: Path, tmp_path: Path) -> None:
    key = "a" * 253 + "/k"
    values = {"commonLabels": {key: "v"}, "nodeSelector": {key: "v"}, "podAnnotations": {key: "v"}}
    (deployment,) = select(render(helm, values, tmp_path), "Deployment")
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {key: "v"}


# helm's toYaml swallows its marshal error and writes nothing (helm pkg/engine/funcs.go): a DEL,
# C1 control or U+FFFE/U+FFFF anywhere in a block, which the YAML it goes through cannot hold,
# dropped the pod's whole securityContext or environment with no error.
UNYAML = ["\x7f", "\x85", "\x9f", "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", UNYAML, ids=[f"U+{ord(c):04X}" for c in UNYAML])
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"podAnnotations": {"note": "a{}b"}}, "/podAnnotations/note"),
        ({"podAnnotations": {"a{}b": "1"}}, "/podAnnotations"),
        ({"extraEnv": [{"name": "BANNER", "value": "x{}y"}]}, "/extraEnv/0/value"),
        (
            {
                "podSecurityContext": {
                    "sysctls": [{"name": "net.ipv4.ping_group_range", "value": "0{}1"}]
                }
            },
            "/podSecurityContext/sysctls/0/value",
        ),
    ],
    ids=["annotation", "annotation-key", "env", "sysctl"],
)
def test_a_character_yaml_cannot_hold_is_refused_anywhere(
    helm: Path, tmp_path: Path, char: str, values: dict[str, Any], expected: str
) -> None:
    filled = json.loads(json.dumps(values).replace("{}", json.dumps(char)[1:-1]))
    with pytest.raises(HelmError) as failure:
        render(helm, filled, tmp_path)
    assert expected in failure.value.stderr
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(_coalesce(defaults, filled)))
    assert errors


def test_text_yaml_holds_is_not_refused(helm: Path, tmp_path: Path) -> None:
    text = "tab\tline\nNBSP\u00a0 \u00e9 \u4e2d \U0001f600 \ufffd \ufeff"
    documents = render(helm, {"podAnnotations": {"note": text}}, tmp_path)
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["template"]["metadata"]["annotations"]["note"] == text


def test_scenario_files_exist_for_every_scenario() -> None:
    for scenario in SCENARIOS:
        assert scenario_file(scenario).is_file()


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"podSecurityContext": None}, "at '': missing property 'podSecurityContext'"),
        ({"securityContext": None}, "at '': missing property 'securityContext'"),
        ({"homeDir": None}, "at '': missing property 'homeDir'"),
        ({"replicaCount": None}, "at '': missing property 'replicaCount'"),
        (
            {"terminationGracePeriodSeconds": None},
            "missing property 'terminationGracePeriodSeconds'",
        ),
        (
            {"autoscaling": {"enabled": True, "engine": None}},
            "at '/autoscaling': missing property 'engine'",
        ),
        (
            {"autoscaling": {"minReplicas": None}},
            "at '/autoscaling': missing property 'minReplicas'",
        ),
        ({"autoscaling": {"pollingInterval": None}}, "missing property 'pollingInterval'"),
        (
            {"autoscaling": {"kedaHttp": {"interceptorPort": None}}},
            "at '/autoscaling/kedaHttp': missing property 'interceptorPort'",
        ),
        (
            {"autoscaling": {"kedaHttp": {"interceptorNamespace": None}}},
            "missing property 'interceptorNamespace'",
        ),
        ({"gateway": {"tls": {"port": None}}}, "at '/gateway/tls': missing property 'port'"),
        ({"gateway": {"http": {"port": None}}}, "at '/gateway/http': missing property 'port'"),
        ({"podDisruptionBudget": {"maxUnavailable": None}}, "missing property 'maxUnavailable'"),
        ({"test": {"timeoutSeconds": None}}, "at '/test': missing property 'timeoutSeconds'"),
    ],
)
def test_a_default_the_templates_need_cannot_be_deleted_with_null(
    helm: Path, tmp_path: Path, values: dict[str, Any], missing: str
) -> None:
    """helm deletes a key set to null before it checks the schema: without `required`, the
    templates then crashed on a nil pointer or rendered 0 (replicas: 0, pollingInterval: 0, a
    Gateway listener on port 0). Now the schema names the key, and catalog-gen, which judges the
    same schema, refuses the same null in chartValues."""
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert "values don't meet the specifications of the schema" in failure.value.stderr
    assert missing in failure.value.stderr


def test_every_integer_has_a_maximum_helm_renders_exactly() -> None:
    """helm holds a values file's numbers as float64: past 2**53 they lose digits, and past
    int64 they rendered as -9223372036854775808 or failed the API server's decoding. A
    quantity's integer form (bytes) is exempt: the API server reads any size it writes."""
    unbounded: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            kinds = kind if isinstance(kind, list) else [kind]
            if "integer" in kinds and "maximum" not in node and path != "/definitions/quantity":
                unbounded.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}/{index}")

    walk(SCHEMA, "")
    assert unbounded == []


@pytest.mark.parametrize("field", ["runAsUserName", "gmsaCredentialSpec", "gmsaCredentialSpecName"])
@pytest.mark.parametrize("where", ["podSecurityContext", "securityContext"])
def test_an_empty_windows_option_is_refused_by_the_schema(
    helm: Path, tmp_path: Path, where: str, field: str
) -> None:
    # The API server refuses it ("cannot be an empty string") after Argo CD has synced.
    with pytest.raises(HelmError) as failure:
        render(helm, {where: {"windowsOptions": {field: ""}}}, tmp_path)
    assert f"at '/{where}/windowsOptions/{field}': minLength" in failure.value.stderr


def test_the_gpu_resource_pattern_is_catalog_gens_environment_pattern() -> None:
    # The environment's gpu.resourceName becomes gpu.resourceName: a bare `gpu` passed the
    # environment file and was refused by the chart at every leaf.
    chart = SCHEMA["properties"]["gpu"]["properties"]["resourceName"]["pattern"]
    assert chart == RESOURCE_NAME


def test_the_image_registry_pattern_is_catalog_gens_environment_pattern() -> None:
    """One grammar of an image registry (distribution/reference's): the environment's
    imageRegistry (catalog_gen/fields.py) becomes global.imageRegistry, so the chart's pattern
    must be the same one, plus the empty default."""
    chart = f"^$|{REGISTRY_HOST}"
    assert SCHEMA["properties"]["global"]["properties"]["imageRegistry"]["pattern"] == chart
    assert SCHEMA["definitions"]["image"]["properties"]["registry"]["pattern"] == chart


def _deletable(node: Any, schema: Any, parts: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The values.yaml keys a null may delete (helm deletes a null over a default): those the
    schema does not require of their parent, at any depth of the defaults' mappings."""
    while isinstance(schema, dict) and "$ref" in schema:
        schema = SCHEMA["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    if not isinstance(node, dict) or not isinstance(schema, dict):
        return []
    required = set(schema.get("required", ()))
    found: list[tuple[str, ...]] = []
    for key, value in node.items():
        if key not in required:
            found.append((*parts, key))
        found += _deletable(value, schema.get("properties", {}).get(key, {}), (*parts, key))
    return found


DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
DELETABLE = _deletable(DEFAULTS, SCHEMA, ())


def _nulls(node: Any, where: str) -> list[str]:
    if node is None:
        return [where]
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _nulls(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [
            found for index, item in enumerate(node) for found in _nulls(item, f"{where}[{index}]")
        ]
    return []


# Where a null is swept: the defaults, and a scenario with the Gateway, its TLS Certificate and
# the HTTPRoute on (templates a key deleted there may reach only with those on).
SWEEP_BASES = ("", "httproute-gateway-tls")
# helm refused the values (the schema, or _validate.tpl's message list): what a deletion may do.
_REFUSED = ("values don't meet the specifications of the schema", "chart value(s) to change:")


@pytest.mark.parametrize(
    ("base", "parts"),
    [(base, parts) for base in SWEEP_BASES for parts in DELETABLE],
    ids=[f"{base or 'defaults'}:{'.'.join(parts)}" for base in SWEEP_BASES for parts in DELETABLE],
)
def test_a_default_a_null_may_delete_leaves_no_null_in_the_manifests(
    tmp_path: Path, base: str, parts: tuple[str, ...]
) -> None:
    """A null in the values deletes the chart's default (helm's coalesce); where the schema lets
    it, the templates must render without the key, or refuse the values, never crash or render a
    null. updateStrategy, gpu.tolerationKey, the pull and test containers' resources, the
    Gateway's className and the Certificate's issuerRef kind and group rendered a null (the API
    server reads `maxSurge: null` as 25%, refuses a Gateway without a class, and cert-manager
    looks for an Issuer where a ClusterIssuer was meant) past every rule; those are required now.
    One helm: the coalesce is the same in both (test_render.py holds their renders equal)."""
    values: Any = None
    for part in reversed(parts):
        values = {part: values}
    if not base:
        values.setdefault("models", [{"name": "phi"}])
        values.setdefault("gpu", {"count": 1})
    deleting = tmp_path / "null.json"
    deleting.write_text(json.dumps(values))
    documents = _rendered_unless_refused([scenario_file(base), deleting] if base else [deleting])
    assert [found for document in documents for found in _nulls(document, document["kind"])] == []


def _rendered_unless_refused(files: list[Path]) -> list[Any]:
    """helm 3.19's documents for these values files; none when helm refuses the values (the
    schema, or _validate.tpl's list): any other failure (a template's nil pointer) is raised."""
    try:
        return helm_template(
            helm_binary("3.19.0"),
            CHART,
            files,
            release=RELEASE,
            namespace=NAMESPACE,
            api_versions=API_VERSIONS,
        )
    except HelmError as error:
        if any(marker in str(error) for marker in _REFUSED):
            return []
        raise
