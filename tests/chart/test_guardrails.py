"""`fail` guardrails: combinations the schema cannot express stop the render with a message that
names the value to change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import render
from tests.support.kube import HelmError, select

GUARDRAILS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {"cache": {"mode": "sharedPVC"}, "replicaCount": 2},
        ["replicaCount is 2", "cache.mode=perReplica", "cache.accessModes=[ReadWriteMany]"],
    ),
    (
        {"cache": {"mode": "sharedPVC", "accessModes": ["ReadWriteOncePod"]}, "replicaCount": 3},
        ["replicaCount is 3", "cache.mode=perReplica"],
    ),
    (
        {"cache": {"mode": "sharedPVC"}, "updateStrategy": {"type": "RollingUpdate"}},
        ["updateStrategy.type=RollingUpdate", "deadlock", "updateStrategy.type=Recreate"],
    ),
    (
        {"cache": {"mode": "sharedPVC", "accessModes": ["ReadOnlyMany"]}},
        ["ReadOnlyMany", "init container writes"],
    ),
    (
        {"cache": {"mode": "emptyDir", "existingClaim": "models"}},
        ["cache.existingClaim is only used with cache.mode=sharedPVC"],
    ),
    (
        {"cache": {"mode": "perReplica"}, "updateStrategy": {"type": "Recreate"}},
        ["updateStrategy.type=Recreate", "StatefulSet"],
    ),
    ({"cache": {"mode": "perReplica", "accessModes": []}}, ["cache.accessModes is empty"]),
    ({"httpRoute": {"enabled": True}}, ["httpRoute.parentRefs"]),
    ({"gateway": {"enabled": True}}, ["gateway.className"]),
    (
        {"gateway": {"enabled": True, "className": "eg", "tls": {"enabled": False}}},
        ["gateway.tls.enabled=true or gateway.http.enabled=true"],
    ),
    (
        {
            "gateway": {
                "enabled": True,
                "className": "eg",
                "tls": {"certificate": {"enabled": True}},
            },
            "httpRoute": {"enabled": True, "hostnames": ["a.example.com"]},
        },
        ["gateway.tls.certificate.issuerRef.name"],
    ),
    ({"ingress": {"enabled": True}}, ["ingress.hosts"]),
    (
        {"models": [{"name": "phi"}], "derivedModels": [{"name": "phi", "modelfile": "FROM phi"}]},
        ["derivedModels: phi is defined twice"],
    ),
    ({"models": [{"name": "phi"}, {"name": "phi"}]}, ["a name appears twice"]),
    (
        {"probes": {"readiness": {"timeoutSeconds": 4}}},
        ["probes.readiness.timeoutSeconds is 4", "lifecycle.cliTimeoutSeconds=4", "at least 6"],
    ),
    (
        {"lifecycle": {"cliTimeoutSeconds": 9}},
        ["probes.startup.timeoutSeconds is 10", "at least 11"],
    ),
    (
        {
            "networkPolicy": {"enabled": True},
            "ingress": {
                "enabled": True,
                "hosts": [{"host": "a.b"}],
            },
        },
        ["the Ingress would get no traffic", "networkPolicy.ingressFrom"],
    ),
    (
        {
            "networkPolicy": {"enabled": True},
            "httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]},
        },
        ["the HTTPRoute would get no traffic", "networkPolicy.ingressFrom"],
    ),
    (
        {"extraEnv": [{"name": "OLLAMA_HOST", "value": "0.0.0.0:11434"}]},
        ["extraEnv sets OLLAMA_HOST", "set ollama.port instead"],
    ),
    (
        {"extraEnv": [{"name": "OIL_PULL_RETRIES", "value": "9"}]},
        ["extraEnv sets OIL_PULL_RETRIES", "lifecycle.*"],
    ),
    (
        {"models": [{"name": "a"}, {"name": "b"}], "ollama": {"maxLoadedModels": 1}},
        ["ollama.maxLoadedModels is 1 but 2 models", "raise ollama.maxLoadedModels to 2"],
    ),
]


@pytest.mark.parametrize(("values", "expected"), GUARDRAILS, ids=[e[0] for _, e in GUARDRAILS])
def test_guardrail_fails_with_a_message_naming_the_value(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    for text in expected:
        assert text in failure.value.stderr


def test_single_attach_shared_pvc_picks_recreate_by_itself(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"cache": {"mode": "sharedPVC"}}, tmp_path)
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_read_write_many_shared_pvc_scales_and_rolls(helm: Path, tmp_path: Path) -> None:
    values = {"cache": {"mode": "sharedPVC", "accessModes": ["ReadWriteMany"]}, "replicaCount": 3}
    documents = render(helm, values, tmp_path)
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (claim,) = select(documents, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_per_replica_cache_scales_with_read_write_once(helm: Path, tmp_path: Path) -> None:
    values = {"cache": {"mode": "perReplica", "accessModes": ["ReadWriteOnce"]}, "replicaCount": 4}
    (statefulset,) = select(render(helm, values, tmp_path), "StatefulSet")
    assert statefulset["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]}}, "HTTPRoute"),
        (
            {
                "gateway": {
                    "enabled": True,
                    "className": "eg",
                    "tls": {"enabled": False},
                    "http": {"enabled": True},
                }
            },
            "Gateway",
        ),
        (
            {
                "gateway": {
                    "enabled": True,
                    "className": "eg",
                    "tls": {
                        "hostname": "a.example.com",
                        "certificate": {"enabled": True, "issuerRef": {"name": "ca"}},
                    },
                },
            },
            "Certificate",
        ),
    ],
    ids=["HTTPRoute", "Gateway", "Certificate"],
)
def test_custom_resources_need_their_api_or_an_explicit_assumption(
    helm: Path, tmp_path: Path, values: dict[str, Any], kind: str
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path, api_versions=())
    assert "does not serve" in failure.value.stderr
    assert "--api-versions" in failure.value.stderr
    assert "assumeApiVersions" in failure.value.stderr
    group = "cert-manager.io/v1" if kind == "Certificate" else "gateway.networking.k8s.io/v1"
    # A Certificate belongs to the chart's Gateway, so it needs the Gateway API as well.
    needed = {f"{group}/{kind}"}
    if kind != "HTTPRoute":
        needed.add("gateway.networking.k8s.io/v1/Gateway")
    capability = render(helm, values, tmp_path, api_versions=sorted(needed))
    assert select(capability, kind)
    groups = sorted({api.rsplit("/", 1)[0] for api in needed})
    assumed = render(helm, {**values, "assumeApiVersions": groups}, tmp_path, api_versions=())
    assert select(assumed, kind)
