"""Every ci/ scenario through the API server's own create validation (tools/apiserver-validate:
kube-apiserver 1.34's registry strategies, after defaulting; custom resources from their CRDs,
CEL rules included), which checks what the OpenAPI schemas of test_manifests.py cannot: name,
label and port formats, probe and security-context rules, selectors against templates, the CRDs'
x-kubernetes-validations. And the tool itself, against manifests a server refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.conftest import NAMESPACE, SCENARIOS, render_scenario_text
from tests.conftest import HELM_VERSIONS, helm_binary
from tests.support.kube import apiserver_errors


def test_every_scenario_passes_the_api_servers_validation_on_both_helms(shared_dir: Path) -> None:
    texts = {
        (version, scenario): render_scenario_text(helm_binary(version), scenario)
        for version in HELM_VERSIONS
        for scenario in SCENARIOS
    }
    errors = apiserver_errors(list(texts.values()), NAMESPACE, shared_dir / "crds")
    assert dict(zip(texts, errors, strict=True)) == {key: [] for key in texts}


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
        - name: c
          image: ollama/ollama:0.32.0
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "labels: {app: d}",
            "labels: {app: other}",
            "Deployment/d: spec.template.metadata.labels: Invalid value",
        ),
        (
            "image: ollama/ollama:0.32.0",
            "image: ollama/ollama:0.32.0\n          securityContext:\n"
            "            seccompProfile: {type: Localhost}",
            "Deployment/d: spec.template.spec.containers[0].securityContext.seccompProfile"
            ".localhostProfile: Required value",
        ),
        (
            "image: ollama/ollama:0.32.0",
            "image: ollama/ollama:0.32.0\n          ports: [{name: an-ollama-api-port, "
            "containerPort: 11434}]",
            "Deployment/d: spec.template.spec.containers[0].ports[0].name: Invalid value",
        ),
        ("name: c", "name: C", "Deployment/d: spec.template.spec.containers[0].name: Invalid"),
    ],
)
def test_the_validator_refuses_what_the_api_server_refuses(
    old: str, new: str, expected: str
) -> None:
    refused = DEPLOYMENT.replace(old, new)
    assert refused != DEPLOYMENT
    valid_errors, refused_errors = apiserver_errors([DEPLOYMENT, refused], NAMESPACE)
    assert valid_errors == []
    assert any(error.startswith(expected) for error in refused_errors), refused_errors


def test_custom_resources_are_left_to_their_crds_and_an_unknown_field_is_refused() -> None:
    route = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\n"
        "spec: {anything: goes}\n"
    )
    unknown = DEPLOYMENT.replace("spec:\n  selector", "spec:\n  replica: 2\n  selector")
    assert apiserver_errors([route, unknown], NAMESPACE) == [
        [],
        ['Deployment/d: strict decoding error: unknown field "spec.replica"'],
    ]


ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
    - backendRefs: [{name: svc, port: 80}]
      timeouts: {request: 20s, backendRequest: 10s}
"""


def test_custom_resources_are_created_from_their_crds_with_the_cel_rules(shared_dir: Path) -> None:
    crds = shared_dir / "crds"
    longer = ROUTE.replace("backendRequest: 10s", "backendRequest: 30s")
    unknown_field = ROUTE.replace("  parentRefs:", "  parentRef: x\n  parentRefs:")
    unknown_kind = "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\n"
    assert apiserver_errors([ROUTE, longer, unknown_field, unknown_kind], NAMESPACE, crds) == [
        [],
        [
            'HTTPRoute/r: spec.rules[0].timeouts: Invalid value: "object": backendRequest '
            "timeout cannot be longer than request timeout"
        ],
        [
            "HTTPRoute/r: spec.parentRef: unknown field (the API server refuses it under strict "
            "field validation, else drops it)"
        ],
        [f"Thing/t: unknown kind example.com/v1: no CRD under {crds}"],
    ]


def test_an_update_is_refused_where_the_api_server_refuses_it() -> None:
    """With previous, an object both renders hold is updated (the three-way patch on the object
    the previous manifest created, then the kind's update validation), an object only the new
    one holds is created, and a Helm hook is created anew (helm deletes it before its run)."""
    new_image = DEPLOYMENT.replace("ollama:0.32.0", "ollama:0.33.0")
    new_selector = DEPLOYMENT.replace("{app: d}", "{app: other}")
    hook = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\n"
        "spec:\n  containers: [{name: c, image: busybox, command: [a]}]\n"
    )
    changed_hook = hook.replace("command: [a]", "command: [b]")
    previous = f"{DEPLOYMENT}---\n{hook}"
    assert apiserver_errors(
        [
            f"{new_image}---\n{changed_hook}",
            new_selector,
            new_selector.replace("name: d", "name: e"),
        ],
        NAMESPACE,
        previous=[previous, previous, previous],
    ) == [
        [],
        [
            "Deployment/d: spec.selector: Invalid value: "
            '{"matchLabels":{"app":"other"}}: field is immutable'
        ],
        [],
    ]
    # Without previous, the same change is a create, which nothing refuses.
    assert apiserver_errors([new_selector], NAMESPACE) == [[]]


def test_a_custom_resource_update_runs_the_crds_transition_rules(shared_dir: Path) -> None:
    """A CEL rule on oldSelf (GatewayClass controllerName: `self == oldSelf`) judges an update."""
    gateway_class = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\n"
        "spec: {controllerName: example.com/gateway, description: first}\n"
    )
    described = gateway_class.replace("first", "second")
    moved = gateway_class.replace("example.com/gateway", "example.com/other")
    crds = shared_dir / "crds"
    assert apiserver_errors(
        [described, moved], NAMESPACE, crds, previous=[gateway_class, gateway_class]
    ) == [[], ['GatewayClass/c: spec.controllerName: Invalid value: "string": Value is immutable']]
