"""Service, HTTPRoute, Gateway, Certificate, Ingress, NetworkPolicy, labels, names, NOTES."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, RELEASE, SCENARIOS, render, render_scenario, scenario_file
from tests.support.kube import Document, HelmError, select

STANDARD_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/component",
    "helm.sh/chart",
}


def test_http_route_attaches_to_the_chart_gateway_with_hostnames_and_timeouts(helm: Path) -> None:
    documents = render_scenario(helm, "httproute-gateway-tls")
    (route,) = select(documents, "HTTPRoute")
    (gateway,) = select(documents, "Gateway")
    (service,) = select(documents, "Service")
    assert route["spec"]["parentRefs"] == [
        {"name": gateway["metadata"]["name"], "sectionName": "https"},
        {"name": gateway["metadata"]["name"], "sectionName": "http"},
    ]
    assert route["spec"]["hostnames"] == ["chat.example.com"]
    # Inference, then read-only endpoints (test_route_matching proves what they match).
    inference, read_only = route["spec"]["rules"]
    for rule in (inference, read_only):
        assert rule["backendRefs"] == [{"name": service["metadata"]["name"], "port": 11434}]
        assert rule["timeouts"] == {"request": "900s", "backendRequest": "600s"}
        assert all(set(match) == {"path", "method"} for match in rule["matches"])
    assert {"path": {"type": "Exact", "value": "/api/chat"}, "method": "POST"} in inference[
        "matches"
    ]
    assert {"path": {"type": "PathPrefix", "value": "/v1/models"}, "method": "GET"} in read_only[
        "matches"
    ]
    listeners = {item["name"]: item for item in gateway["spec"]["listeners"]}
    assert set(listeners) == {"http", "https"}
    assert listeners["https"]["hostname"] == "chat.example.com"
    assert listeners["https"]["port"] == 443
    secret = listeners["https"]["tls"]["certificateRefs"][0]["name"]
    (certificate,) = select(documents, "Certificate")
    assert certificate["spec"]["secretName"] == secret
    assert certificate["spec"]["dnsNames"] == ["chat.example.com"]
    assert certificate["spec"]["issuerRef"] == {
        "name": "letsencrypt",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }


def test_http_route_to_a_shared_gateway(helm: Path) -> None:
    documents = render_scenario(helm, "hardened")
    (route,) = select(documents, "HTTPRoute")
    assert route["spec"]["parentRefs"] == [
        {"name": "shared-gateway", "namespace": "gateway-system", "sectionName": "https"}
    ]
    assert route["spec"]["hostnames"] == ["llm.internal.example.com"]
    # A generation can take minutes; the gateway default (often 15s) would cut it off.
    assert [rule["timeouts"] for rule in route["spec"]["rules"]] == [{"request": "600s"}] * 2
    assert select(documents, "Gateway") == []
    assert select(documents, "Certificate") == []


def test_ingress_routes_hosts_to_the_service_port(helm: Path) -> None:
    documents = render_scenario(helm, "ingress")
    (ingress,) = select(documents, "Ingress")
    (service,) = select(documents, "Service")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "ollama.example.com"
    backend = {"service": {"name": service["metadata"]["name"], "port": {"name": "http"}}}
    paths = rule["http"]["paths"]
    assert all(item["backend"] == backend for item in paths)
    assert {"path": "/api/chat", "pathType": "Exact", "backend": backend} in paths
    assert {"path": "/v1/models", "pathType": "Prefix", "backend": backend} in paths
    assert not [item for item in paths if item["path"] in {"/", "/api/pull", "/api/delete"}]
    assert ingress["spec"]["tls"] == [
        {"secretName": "ollama-example-tls", "hosts": ["ollama.example.com"]}
    ]
    assert (
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]
        == "600"
    )
    assert select(documents, "HTTPRoute") == []


def test_service_selects_the_server_pods_only(helm: Path) -> None:
    documents = render(helm)
    (service,) = select(documents, "Service")
    (deployment,) = select(documents, "Deployment")
    (test_pod,) = select(documents, "Pod")
    selector = service["spec"]["selector"]
    assert service["spec"]["type"] == "ClusterIP"
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert not selector.items() <= test_pod["metadata"]["labels"].items()


def test_network_policy_allows_gateway_test_pod_dns_and_registry_only(helm: Path) -> None:
    documents = render_scenario(helm, "hardened")
    (policy,) = select(documents, "NetworkPolicy")
    (deployment,) = select(documents, "Deployment")
    (test_pod,) = select(documents, "Pod")
    assert policy["spec"]["podSelector"] == deployment["spec"]["selector"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    gateway_peer, test_peer = ingress["from"]
    assert gateway_peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}}
    }
    assert test_peer["podSelector"]["matchLabels"].items() <= test_pod["metadata"]["labels"].items()
    dns, registry = policy["spec"]["egress"]
    assert {port["port"] for port in dns["ports"]} == {53}
    assert {port["protocol"] for port in dns["ports"]} == {"UDP", "TCP"}
    assert registry["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert [port["port"] for port in registry["ports"]] == [443, 5000]


def test_network_policy_is_opt_in(helm: Path) -> None:
    assert select(render(helm), "NetworkPolicy") == []


def _pod_templates(document: Document) -> list[dict[str, str]]:
    # Not the StatefulSet's volumeClaimTemplates: they carry the selector labels only, which never
    # change on upgrade (tests/chart/test_upgrades.py).
    if document["kind"] in {"Deployment", "StatefulSet"}:
        return [document["spec"]["template"]["metadata"]["labels"]]
    return []


def test_every_resource_and_pod_carries_standard_and_backstage_labels(helm: Path) -> None:
    for scenario in SCENARIOS:
        documents = render_scenario(helm, scenario)
        backstage_id = {"gpu": "llama-gpu"}.get(scenario)
        for document in documents:
            assert document["metadata"]["labels"].keys() >= STANDARD_LABELS, scenario
            # A pod template lacks only the chart's version: a chart release alone rolls no pod
            # (test_upgrades.py).
            for labels in _pod_templates(document):
                assert labels.keys() & STANDARD_LABELS == STANDARD_LABELS - {"helm.sh/chart"}
            for labels in [document["metadata"]["labels"], *_pod_templates(document)]:
                assert labels.get("backstage.io/kubernetes-id") == backstage_id, (
                    scenario,
                    document["kind"],
                )
                assert labels["app.kubernetes.io/instance"] == RELEASE


def test_common_labels_reach_every_resource(helm: Path) -> None:
    for document in render_scenario(helm, "hardened"):
        for labels in [document["metadata"]["labels"], *_pod_templates(document)]:
            assert labels["catalog.ollama-inference-load.io/environment"] == "prod"


def test_names_fit_in_63_characters(helm: Path, tmp_path: Path) -> None:
    long_name = "a" * 63
    values = {
        "fullnameOverride": long_name,
        "cache": {"mode": "perReplica"},
        "httpRoute": {"enabled": True, "hostnames": ["a.example.com"]},
        "gateway": {
            "enabled": True,
            "className": "eg",
            "tls": {"certificate": {"enabled": True, "issuerRef": {"name": "ca"}}},
        },
    }
    documents = render(helm, values, tmp_path)
    names = {(document["kind"], document["metadata"]["name"]) for document in documents}
    assert all(len(name) <= 63 for _, name in names), names
    # The StatefulSet's pods carry "<name>-<10 char hash>" as a label value.
    (statefulset,) = select(documents, "StatefulSet")
    assert len(statefulset["metadata"]["name"]) <= 52
    assert len(statefulset["spec"]["serviceName"]) <= 63
    # Cut to leave room for the suffix, with a hash of the whole name (no collision after a cut).
    digest = hashlib.sha256(long_name.encode()).hexdigest()[:8]
    assert ("Service", f"{'a' * 45}-{digest}-headless") in names
    (certificate,) = select(documents, "Certificate")
    assert len(certificate["spec"]["secretName"]) <= 63


def test_resources_live_in_the_release_namespace(helm: Path) -> None:
    for document in render_scenario(helm, "httproute-gateway-tls"):
        assert document["metadata"]["namespace"] == "ollama"


def test_helm_test_pod_is_a_test_hook_through_the_service(helm: Path) -> None:
    documents = render_scenario(helm, "multi-model")
    (test_pod,) = select(documents, "Pod")
    (service,) = select(documents, "Service")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["restartPolicy"] == "Never"
    (item,) = test_pod["spec"]["containers"]
    variables = {entry["name"]: entry.get("value") for entry in item["env"]}
    assert variables["OLLAMA_HOST"] == f"http://{service['metadata']['name']}.ollama.svc:11434"
    assert variables["OIL_TEST_TIMEOUT_SECONDS"] == "300"


def test_notes_explain_access_and_pull(helm: Path, tmp_path: Path) -> None:
    # helm template does not print NOTES.txt: render a copy of the chart where it is a template.
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
        + "    {{- `` }}\n"
        + '{{- $notes := include "oil.notes" . }}\n    {{- $notes | nindent 4 }}\n'
    )
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "oil.notes" -}}\n' + notes + "\n{{- end }}\n"
    )
    route: dict[str, Any] = {
        "enabled": True,
        "parentRefs": [{"name": "gw"}],
        "hostnames": ["chat.example.com"],
    }
    values: dict[str, Any] = {"httpRoute": route, "models": [{"name": "phi"}]}
    (rendered,) = select(render(helm, values, tmp_path, chart=chart), "ConfigMap", "notes")
    text = rendered["data"]["notes"]
    assert "-c pull-models" in text
    # A shared gateway's listener may serve either scheme: the notes name it, never guess.
    assert "chat.example.com  (HTTPRoute release-ollama-inference-load on ollama/gw: " in text
    assert "http://chat.example.com" not in text
    assert "port-forward service/release-ollama-inference-load 11434:11434" in text
    # One model: its answer (test.timeoutSeconds 300) and show (cliTimeoutSeconds 4) plus 60 s:
    # helm's own 5m default would end a slow test first.
    assert "helm test release -n ollama --logs --timeout 364s" in text
    assert "phi" in text
    assert "NetworkPolicy admits only" not in text
    assert "no NetworkPolicy: every pod in the cluster can reach it" in text

    values["gateway"] = {
        "enabled": True,
        "className": "eg",
        "tls": {"enabled": False},
        "http": {"enabled": True},
    }
    values["networkPolicy"] = {"enabled": True, "ingressFrom": [{"namespaceSelector": {}}]}
    route["parentRefs"] = []
    (rendered,) = select(render(helm, values, tmp_path, chart=chart), "ConfigMap", "notes")
    text = rendered["data"]["notes"]
    assert "http://chat.example.com/  (HTTPRoute release-ollama-inference-load)" in text
    assert "NetworkPolicy admits only networkPolicy.ingressFrom" in text
    assert "the Ingress is not authenticated" not in text

    # The authentication covers the HTTPRoute only: an Ingress beside it is open (a review found
    # the notes saying "Every request ... needs credentials" next to it, nothing else).
    values["httpRoute"] = {
        **route,
        "parentRefs": [{"name": "gw"}],
        "authentication": {"type": "apiKey", "apiKey": {"secretName": "keys"}},
    }
    values["ingress"] = {"enabled": True, "hosts": [{"host": "open.example.com"}]}
    values["gateway"] = {"enabled": False}
    values["assumeApiVersions"] = ["gateway.envoyproxy.io/v1alpha1"]
    (rendered,) = select(render(helm, values, tmp_path, chart=chart), "ConfigMap", "notes")
    text = rendered["data"]["notes"]
    assert "Every request through the HTTPRoute needs credentials (apiKey)." in text
    assert "WARNING: the Ingress is not authenticated" in text

    # keda-http: the policy admits the add-on's namespace too, whose interceptor forwards any
    # request naming the route (review: the notes said "other pods get no answer").
    keda = yaml.safe_load(scenario_file("keda-http").read_text())
    keda["networkPolicy"] = {"enabled": True, "ingressFrom": [{"namespaceSelector": {}}]}
    (rendered,) = select(render(helm, keda, tmp_path, chart=chart), "ConfigMap", "notes")
    text = rendered["data"]["notes"]
    assert "NetworkPolicy admits only" not in text
    assert "the KEDA HTTP add-on's\n  namespace keda: its interceptor forwards any request" in text


def test_the_charts_own_gateway_refuses_hostnames_its_listener_does_not_match(
    helm: Path, tmp_path: Path
) -> None:
    """The chart's Gateway listens for one hostname (gateway.tls.hostname, else the first route
    hostname); Gateway API ignores route hostnames a listener does not match, so a second one
    would get no traffic and no certificate. A wildcard listener covering them all is fine."""
    values = yaml.safe_load(scenario_file("httproute-gateway-tls").read_text())
    values["httpRoute"]["hostnames"] = ["chat.example.com", "api.example.com"]
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert (
        "httpRoute.hostnames has api.example.com, but the chart's Gateway (gateway.enabled) "
        "listens for chat.example.com only"
    ) in failure.value.stderr
    values["gateway"]["tls"]["hostname"] = "*.example.com"
    gateway = select(render(helm, values, tmp_path), "Gateway")[0]
    assert {listener["hostname"] for listener in gateway["spec"]["listeners"]} == {"*.example.com"}
    values["httpRoute"]["hostnames"].append("example.com")  # a wildcard matches no apex
    with pytest.raises(HelmError):
        render(helm, values, tmp_path)


def _intersect(listener: str, route: str) -> bool:
    """The HTTPRoute CRD's hostnames description: equal, or a `*.` label on either side read as
    a suffix match (its examples: a listener's test.example.com takes a route's *.example.com; a
    listener's *.example.com takes *.example.com, test.example.com, foo.test.example.com, not
    example.com nor test.example.net)."""
    if listener == route:
        return True
    if listener.startswith("*.") and route.endswith(listener[1:]):
        return True
    return route.startswith("*.") and listener.endswith(route[1:])


@pytest.mark.parametrize(
    ("listener", "route"),
    [
        ("test.example.com", "*.example.com"),
        ("test.example.com", "test.example.com"),
        ("test.example.com", "other.example.com"),
        ("test.example.com", "*.test.example.com"),
        ("foo.test.example.com", "*.example.com"),
        ("*.example.com", "*.example.com"),
        ("*.example.com", "foo.test.example.com"),
        ("*.example.com", "*.test.example.com"),
        ("*.test.example.com", "*.example.com"),
        ("*.example.com", "example.com"),
        ("*.example.com", "test.example.net"),
        ("*.example.com", "*.example.net"),
    ],
)
def test_the_own_gateway_takes_exactly_the_route_hostnames_gateway_api_attaches(
    helm: Path, tmp_path: Path, listener: str, route: str
) -> None:
    # A route's *.example.com was refused for a listener's a.example.com, which Gateway API
    # attaches (a review found it).
    values = yaml.safe_load(scenario_file("httproute-gateway-tls").read_text())
    values["gateway"]["tls"]["hostname"] = listener
    values["httpRoute"]["hostnames"] = [route]
    if _intersect(listener, route):
        assert select(render(helm, values, tmp_path), "HTTPRoute")
    else:
        with pytest.raises(HelmError) as failure:
            render(helm, values, tmp_path)
        assert f"httpRoute.hostnames has {route}, but the chart's Gateway" in failure.value.stderr


@pytest.mark.parametrize(
    ("duration", "renew_before", "refused"),
    [
        ("2160h", "360h", None),
        ("1h", "", None),
        ("1.5h", "1h29m59.5s", None),
        ("59m59s", "", "cert-manager refuses a certificate shorter than 1h"),
        ("30m", "10m", "cert-manager refuses a certificate shorter than 1h"),
        ("", "4m59s", "cert-manager refuses one under 5m"),
        ("", "299999999us", "cert-manager refuses one under 5m"),
        ("", "2160h", "not less than the certificate's duration (2160h, cert-manager's default)"),
        ("2h", "2h", "not less than the certificate's duration (2h)"),
        ("2h", "120m0.5s", "not less than the certificate's duration (2h)"),
        ("", "2159h59m", None),
    ],
)
def test_a_certificate_cert_managers_webhook_refuses_is_refused_first(
    helm: Path, tmp_path: Path, duration: str, renew_before: str, refused: str | None
) -> None:
    # ValidateDuration: at least MinimumCertificateDuration (1h), a renewBefore of at least
    # MinimumRenewBefore (5m) and under the duration (its default 90 days); the webhook's
    # refusal failed Argo CD's sync (a review found it).
    values = yaml.safe_load(scenario_file("httproute-gateway-tls").read_text())
    values["gateway"]["tls"]["certificate"].update(duration=duration, renewBefore=renew_before)
    if refused is None:
        assert select(render(helm, values, tmp_path), "Certificate")
        return
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert refused in failure.value.stderr


def test_a_spread_constraints_own_label_selector_is_kept_as_written(
    helm: Path, tmp_path: Path
) -> None:
    """An entry without labelSelector gets the pods' selector; one with its own keeps it (a
    merge added the release's labels, narrowing a spread across a team's pods to this release:
    a review found it)."""
    spread = {"maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway"}
    values = {
        "models": [{"name": "phi"}],
        "topologySpreadConstraints": [
            {
                **spread,
                "topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"gpu-tenant": "team-a"}},
            },
            {**spread, "topologyKey": "topology.kubernetes.io/zone"},
            # An empty selector is one of its own too: every pod of the namespace.
            {**spread, "topologyKey": "kubernetes.io/arch", "labelSelector": {}},
        ],
    }
    (deployment,) = select(render(helm, values, tmp_path), "Deployment")
    own, default, empty = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert own["labelSelector"] == {"matchLabels": {"gpu-tenant": "team-a"}}
    assert default["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == RELEASE
    assert empty["labelSelector"] == {}
