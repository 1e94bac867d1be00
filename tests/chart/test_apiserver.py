"""Every ci/ scenario through the API server's own create validation (tools/apiserver-validate:
kube-apiserver 1.34's registry strategies, after defaulting), which checks what the OpenAPI
schemas of test_manifests.py cannot: name, label and port formats, probe and security-context
rules, selectors against templates. And the tool itself, against manifests a server refuses."""

from __future__ import annotations

import pytest

from tests.chart.conftest import NAMESPACE, SCENARIOS, render_scenario_text
from tests.conftest import HELM_VERSIONS, helm_binary
from tests.support.kube import apiserver_errors


def test_every_scenario_passes_the_api_servers_validation_on_both_helms() -> None:
    texts = {
        (version, scenario): render_scenario_text(helm_binary(version), scenario)
        for version in HELM_VERSIONS
        for scenario in SCENARIOS
    }
    errors = apiserver_errors(list(texts.values()), NAMESPACE)
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
