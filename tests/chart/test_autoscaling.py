"""Autoscaling (docs/autoscaling.md): KEDA owns the replica count; the KEDA HTTP add-on's
InterceptorRoute, the ScaledObject, the HTTPRoute and the ReferenceGrant agree with each other and
with the startup budget; the rules on the values. The custom resources are validated against the
real CRDs in ../shared/crds by test_manifests.py (ci/keda-*-values.yaml) and here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.conftest import CHART, NAMESPACE, render
from tests.support.kube import HelmError, select, validate_manifests

KEDA_APIS = (
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1beta1",
    "keda.sh/v1alpha1",
    "http.keda.sh/v1beta1",
)
ROUTE = {"enabled": True, "parentRefs": [{"name": "eg", "namespace": "gw"}]}


def keda_http(**autoscaling: Any) -> dict[str, Any]:
    return {
        "fullnameOverride": "chat",
        "assumeApiVersions": list(KEDA_APIS),
        "models": [{"name": "phi:latest"}],
        "httpRoute": {**ROUTE, "hostnames": ["chat.example.com"]},
        "autoscaling": {"enabled": True, "engine": "keda-http", **autoscaling},
    }


def keda_prometheus(**autoscaling: Any) -> dict[str, Any]:
    prometheus = {"serverAddress": "http://prometheus:9090", "query": "sum(up)"}
    return {
        "fullnameOverride": "rag",
        "assumeApiVersions": list(KEDA_APIS),
        "httpRoute": ROUTE,
        "autoscaling": {
            "enabled": True,
            "engine": "keda-prometheus",
            "prometheus": prometheus,
            **autoscaling,
        },
    }


def one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (document,) = select(documents, kind)
    return document


def test_keda_http_resources_agree(helm: Path, tmp_path: Path, shared_dir: Path) -> None:
    documents = render(
        helm, keda_http(scaleToZero={"enabled": True, "afterIdle": "1h30m"}), tmp_path
    )
    assert validate_manifests(documents, ("1.34",), shared_dir / "crds") == []
    deployment = one(documents, "Deployment")
    assert "replicas" not in deployment["spec"]  # KEDA's HPA owns it
    scaled = one(documents, "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "chat",
    }
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (1, 2)
    assert (scaled["idleReplicaCount"], scaled["cooldownPeriod"]) == (0, 5400)
    # Not to zero before the first pod had its cold start and one idle period (KEDA's default 0
    # scaled a ScaledObject that never saw a request to zero at once): 900 + 300 + 5400.
    assert scaled["initialCooldownPeriod"] == 6600
    (trigger,) = scaled["triggers"]
    assert trigger == {
        "type": "external-push",
        "metadata": {
            "scalerAddress": "keda-add-ons-http-external-scaler.keda:9090",
            "interceptorRoute": "chat",
        },
    }
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior == {"scaleDown": {"stabilizationWindowSeconds": 300}}

    interceptor_route = one(documents, "InterceptorRoute")
    assert interceptor_route["metadata"]["name"] == "chat"
    spec = interceptor_route["spec"]
    assert spec["target"] == {"service": "chat", "port": 11434}
    assert spec["scalingMetric"] == {"concurrency": {"targetValue": 1}}  # ollama.numParallel
    # The default budget 900 s + margin 300 s: what a new pod may take (progressDeadlineSeconds).
    assert deployment["spec"]["progressDeadlineSeconds"] == 1200
    assert spec["timeouts"] == {"readiness": "1200s", "request": "0s", "responseHeader": "0s"}
    (rule,) = spec["rules"]
    assert rule["hosts"] == ["chat.example.com"]
    (header,) = rule["headers"]

    route = one(documents, "HTTPRoute")
    for route_rule in route["spec"]["rules"]:
        assert route_rule["backendRefs"] == [
            {"name": "keda-add-ons-http-interceptor-proxy", "namespace": "keda", "port": 8080}
        ]
        (modifier,) = route_rule["filters"]
        assert modifier["requestHeaderModifier"]["set"] == [header]
        # 600s for the answer plus 1200s for a cold start from zero.
        assert route_rule["timeouts"] == {"request": "30m"}
    assert header["value"] == f"{NAMESPACE}/chat"

    grant = one(documents, "ReferenceGrant")
    assert grant["metadata"]["namespace"] == "keda"
    # Namespace and full name joined by a dot, which neither holds: x + y-chat and x-y + chat
    # were one `x-y-chat` with a dash (a review found two Applications sharing it).
    assert grant["metadata"]["name"] == f"{NAMESPACE}.chat"
    assert grant["spec"] == {
        "from": [
            {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": NAMESPACE}
        ],
        "to": [{"group": "", "kind": "Service", "name": "keda-add-ons-http-interceptor-proxy"}],
    }


def test_keda_http_without_scale_to_zero_keeps_route_timeouts(helm: Path, tmp_path: Path) -> None:
    values = keda_http(minReplicas=2, maxReplicas=5, target={"requestRate": 3})
    values["httpRoute"]["timeouts"] = {"request": "2h", "backendRequest": "1h2m3s4ms"}
    values["autoscaling"]["kedaHttp"] = {
        "interceptorNamespace": "addons",
        "scalerAddress": "scaler.addons:9091",
        "requestRate": {"window": "2m", "granularity": "5s"},
        "referenceGrant": {"create": False},
    }
    documents = render(helm, values, tmp_path)
    assert not select(documents, "ReferenceGrant")
    scaled = one(documents, "ScaledObject")["spec"]
    assert "idleReplicaCount" not in scaled
    assert "cooldownPeriod" not in scaled
    assert scaled["triggers"][0]["metadata"]["scalerAddress"] == "scaler.addons:9091"
    spec = one(documents, "InterceptorRoute")["spec"]
    assert spec["scalingMetric"] == {
        "requestRate": {"targetValue": 3, "window": "2m", "granularity": "5s"}
    }
    for rule in one(documents, "HTTPRoute")["spec"]["rules"]:
        assert rule["timeouts"] == {"request": "2h", "backendRequest": "1h2m3s4ms"}
        assert rule["backendRefs"][0]["namespace"] == "addons"
    policy = render(
        helm,
        {**values, "networkPolicy": {"enabled": True, "ingressFrom": [{"podSelector": {}}]}},
        tmp_path,
    )
    peers = one(policy, "NetworkPolicy")["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "addons"}}
    } in peers


def test_cold_start_grows_every_route_timeout_by_budget_and_margin(
    helm: Path, tmp_path: Path
) -> None:
    values = keda_http(scaleToZero={"enabled": True})
    values["httpRoute"]["timeouts"] = {"request": "90s", "backendRequest": "500ms"}
    values["startup"] = {"budgetSeconds": 3000, "progressMarginSeconds": 601}
    documents = render(helm, values, tmp_path)
    assert one(documents, "InterceptorRoute")["spec"]["timeouts"]["readiness"] == "3601s"
    for rule in one(documents, "HTTPRoute")["spec"]["rules"]:
        # 3601 s + 90 s = 1h1m31s; 3601 s + 0.5 s = 1h1s500ms.
        assert rule["timeouts"] == {"request": "1h1m31s", "backendRequest": "1h1s500ms"}
    assert one(documents, "ScaledObject")["spec"]["cooldownPeriod"] == 1800  # afterIdle 30m


def test_keda_prometheus_trigger(helm: Path, tmp_path: Path, shared_dir: Path) -> None:
    query = 'sum(x{ns="${namespace}",svc="${service}",route="${route}",port="${port}"})'
    values = keda_prometheus(
        target={"concurrency": 4},
        pollingInterval=5,
        prometheus={
            "serverAddress": "https://prom.example:9090",
            "query": query,
            "activationThreshold": 0.5,
            "authenticationRef": "prom-auth",
        },
    )
    values["cache"] = {"mode": "perReplica"}
    documents = render(helm, values, tmp_path)
    assert validate_manifests(documents, ("1.34",), shared_dir / "crds") == []
    assert "replicas" not in one(documents, "StatefulSet")["spec"]
    assert not select(documents, "InterceptorRoute")
    assert not select(documents, "ReferenceGrant")
    scaled = one(documents, "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["kind"] == "StatefulSet"
    assert scaled["pollingInterval"] == 5
    (trigger,) = scaled["triggers"]
    assert trigger == {
        "type": "prometheus",
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": "https://prom.example:9090",
            "query": f'sum(x{{ns="{NAMESPACE}",svc="rag",route="rag",port="11434"}})',
            "threshold": "4",
            "activationThreshold": "0.5",
        },
        "authenticationRef": {"name": "prom-auth"},
    }
    for rule in one(documents, "HTTPRoute")["spec"]["rules"]:
        assert rule["backendRefs"] == [{"name": "rag", "port": 11434}]
        assert "filters" not in rule


def test_prometheus_target_defaults_to_num_parallel(helm: Path, tmp_path: Path) -> None:
    values = {**keda_prometheus(), "ollama": {"numParallel": 6}}
    trigger = one(render(helm, values, tmp_path), "ScaledObject")["spec"]["triggers"][0]
    assert trigger["metadata"]["threshold"] == "6"


def test_without_autoscaling_nothing_of_keda_renders(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"replicaCount": 3, "assumeApiVersions": list(KEDA_APIS)}, tmp_path)
    assert one(documents, "Deployment")["spec"]["replicas"] == 3
    for kind in ("ScaledObject", "InterceptorRoute", "ReferenceGrant"):
        assert not select(documents, kind)


@pytest.mark.parametrize(("max_replicas", "budget"), [(1, False), (2, True)])
def test_disruption_budget_follows_max_replicas(
    helm: Path, tmp_path: Path, max_replicas: int, budget: bool
) -> None:
    documents = render(helm, keda_http(maxReplicas=max_replicas), tmp_path)
    assert bool(select(documents, "PodDisruptionBudget")) is budget


@pytest.mark.parametrize(
    ("api", "kind", "values"),
    [
        ("keda.sh/v1alpha1", "ScaledObject", keda_prometheus()),
        ("http.keda.sh/v1beta1", "InterceptorRoute", keda_http()),
        ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", keda_http()),
    ],
)
def test_autoscaling_needs_its_apis(
    helm: Path, tmp_path: Path, api: str, kind: str, values: dict[str, Any]
) -> None:
    values = {**values, "assumeApiVersions": [a for a in KEDA_APIS if a != api]}
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert f"needs {api} {kind}, which the cluster does not serve" in failure.value.stderr
    assert select(render(helm, values, tmp_path, api_versions=[f"{api}/{kind}"]), kind)


SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def _descriptions(errors: Iterable[jsonschema.ValidationError]) -> list[str]:
    found: list[str] = []
    for error in errors:
        if isinstance(error.schema, dict) and "description" in error.schema:
            found.append(str(error.schema["description"]))
        found += _descriptions(error.context or [])
    return found


def _merged(defaults: Any, override: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(override, dict):
        return {**defaults, **{k: _merged(defaults.get(k), v) for k, v in override.items()}}
    return override


# (values, the JSON path helm names, what the failing subschema's description tells the user or
# None): one mistake each.
SCHEMA_RULES: list[tuple[dict[str, Any], str, str | None]] = [
    (
        {**keda_http(), "httpRoute": {"enabled": False}},
        "/httpRoute/enabled",
        "set httpRoute.enabled=true",
    ),
    (
        {**keda_http(), "ingress": {"enabled": True, "hosts": [{"host": "a.example.com"}]}},
        "/ingress/enabled",
        "set ingress.enabled=false",
    ),
    (
        keda_prometheus(prometheus={"serverAddress": "http://p:9090", "query": ""}),
        "/autoscaling/prometheus/query",
        "needs autoscaling.prometheus.query",
    ),
    (
        keda_prometheus(prometheus={"serverAddress": "", "query": "up"}),
        "/autoscaling/prometheus/serverAddress",
        "needs autoscaling.prometheus.serverAddress",
    ),
    (
        {**keda_http(maxReplicas=2), "cache": {"mode": "sharedPVC"}},
        "/autoscaling/maxReplicas",
        "set autoscaling.maxReplicas to 1",
    ),
    (keda_http(target={"concurrency": 2, "requestRate": 2}), "/autoscaling/target", None),
    (keda_http(target={"concurrency": 0}), "/autoscaling/target/concurrency", None),
    (keda_http(minReplicas=0), "/autoscaling/minReplicas", None),
    (keda_http(scaleToZero={"afterIdle": "30"}), "/autoscaling/scaleToZero/afterIdle", None),
    (keda_http(scaleToZero={"afterIdle": "1d"}), "/autoscaling/scaleToZero/afterIdle", None),
    (keda_http(engine="keda-metrics"), "/autoscaling/engine", None),
    ({"models": [{"name": "phi", "keepAlive": "10 minutes"}]}, "/models/0/keepAlive", None),
]


@pytest.mark.parametrize(("values", "path", "description"), SCHEMA_RULES)
def test_schema_rules(
    helm: Path, tmp_path: Path, values: dict[str, Any], path: str, description: str | None
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert f"at '{path}'" in failure.value.stderr
    # catalog-gen validates with Python's jsonschema and prints the failing subschema's description.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(_merged(defaults, values)))
    assert errors
    if description is not None:
        assert any(description in text for text in _descriptions(errors))


def test_single_attach_cache_may_still_scale_to_zero(helm: Path, tmp_path: Path) -> None:
    values = keda_http(maxReplicas=1, scaleToZero={"enabled": True})
    values["cache"] = {"mode": "sharedPVC"}
    assert one(render(helm, values, tmp_path), "ScaledObject")["spec"]["idleReplicaCount"] == 0


def test_max_replicas_below_min_replicas_is_refused(helm: Path, tmp_path: Path) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, keda_http(minReplicas=3, maxReplicas=2), tmp_path)
    assert "templates/validate.yaml" in failure.value.stderr
    assert (
        "autoscaling.maxReplicas is 2 but autoscaling.minReplicas is 3: raise "
        "autoscaling.maxReplicas to at least 3" in failure.value.stderr
    )
    # Not checked while autoscaling is off (replicaCount rules).
    render(helm, {"autoscaling": {"enabled": False, "minReplicas": 3, "maxReplicas": 2}}, tmp_path)


def test_cold_start_past_the_longest_gateway_duration_is_refused(
    helm: Path, tmp_path: Path
) -> None:
    values = keda_http(scaleToZero={"enabled": True})
    values["startup"] = {"budgetSeconds": 86_400, "progressMarginSeconds": 1_000_000_000}
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert "httpRoute.timeouts.request plus the cold start" in failure.value.stderr
    values["autoscaling"]["scaleToZero"] = {"enabled": False}
    assert one(render(helm, values, tmp_path), "ScaledObject")


@pytest.mark.parametrize(
    ("keep_alive", "column"),
    [
        (None, "-"),
        ("", "-"),
        ("10m", "10m"),
        (300, "300s"),
        ("-1", "-1s"),
        # helm reads a values file's numbers as float64, which toString writes as 2.592e+06
        (2_592_000, "2592000s"),
        (-1_000_000, "-1000000s"),
    ],
)
def test_model_keep_alive_is_the_last_models_tsv_column(
    helm: Path, tmp_path: Path, keep_alive: Any, column: str
) -> None:
    model: dict[str, Any] = {"name": "phi:latest"}
    if keep_alive is not None:
        model["keepAlive"] = keep_alive
    documents = render(helm, {"models": [model]}, tmp_path)
    (config,) = [d for d in select(documents, "ConfigMap") if "models.tsv" in d["data"]]
    header, row = config["data"]["models.tsv"].splitlines()
    assert header.split("\t")[-1].startswith("keep-alive")
    assert row.split("\t") == ["phi:latest", "-", "false", "generate", column]


@pytest.mark.parametrize("keep_alive", [1_000_000, -1_000_000, 2_592_000])
def test_a_keep_alive_of_a_million_seconds_or_more_stays_a_whole_number(
    helm: Path, tmp_path: Path, keep_alive: int
) -> None:
    """From a values file helm holds the number as float64: written `1e+06`, Ollama's
    OLLAMA_KEEP_ALIVE reads neither an integer nor a duration and falls back to 5 minutes."""
    documents = render(helm, {"ollama": {"keepAlive": keep_alive}}, tmp_path)
    (deployment,) = select(documents, "Deployment")
    env = {
        item["name"]: item.get("value")
        for container in deployment["spec"]["template"]["spec"]["containers"]
        for item in container.get("env", [])
    }
    assert env["OLLAMA_KEEP_ALIVE"] == str(keep_alive)
    assert env["OIL_LOAD_KEEPALIVE"] == f"{keep_alive}s"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (  # the add-on divides by whole seconds: under one crashes its scaler
            {"requestRate": {"granularity": "500ms"}},
            "'500ms' does not match pattern",
        ),
        ({"requestRate": {"granularity": "1.5s"}}, "'1.5s' does not match pattern"),
        (
            {"requestRate": {"window": "10s", "granularity": "20s"}},
            "autoscaling.kedaHttp.requestRate.window is 10s and granularity 20s: the window must "
            "hold at least one and at most 3600 granularities",
        ),
        (  # a counter per granularity of each route: 8760h at 1s is 31 million
            {"requestRate": {"window": "8760h"}},
            "autoscaling.kedaHttp.requestRate.window is 8760h and granularity 1s",
        ),
        (  # one past the bound: 3601 granularities
            {"requestRate": {"window": "3601s", "granularity": "1s"}},
            "autoscaling.kedaHttp.requestRate.window is 3601s and granularity 1s",
        ),
        (
            {"requestRate": {"window": "2h", "granularity": "1s"}},
            "autoscaling.kedaHttp.requestRate.window is 2h and granularity 1s",
        ),
    ],
)
def test_request_rate_buckets_the_add_on_can_count(
    helm: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    chart_values = keda_http(target={"requestRate": 2})
    chart_values["autoscaling"]["kedaHttp"] = values
    with pytest.raises(HelmError) as failure:
        render(helm, chart_values, tmp_path)
    assert message in failure.value.stderr
    chart_values["autoscaling"]["kedaHttp"] = {"requestRate": {"window": "1h", "granularity": "1s"}}
    assert render(helm, chart_values, tmp_path)


def test_keda_http_needs_its_clients_to_go_through_the_interceptor(
    helm: Path, tmp_path: Path
) -> None:
    for service_type in ("LoadBalancer", "NodePort"):
        values = {**keda_http(), "service": {"type": service_type}}
        with pytest.raises(HelmError) as failure:
            render(helm, values, tmp_path)
        assert (
            f"service.type is {service_type}, but with autoscaling.engine=keda-http requests "
            "must go through the interceptor"
        ) in failure.value.stderr
    render(helm, {"service": {"type": "LoadBalancer"}}, tmp_path)  # without autoscaling
