"""Authentication at the edge (Envoy Gateway SecurityPolicy) and the NetworkPolicy's egress.

The SecurityPolicy is validated against the real CRD (../shared/crds/envoy-gateway) by the
structural schema; its CEL rules are not evaluated here, so the one that matters (targetRefs
group and kind) is asserted below. What the routes match is in test_route_matching.py.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import render, render_scenario, scenario_file
from tests.support.kube import HelmError, select, validate_manifests

PRIVATE = [
    ipaddress.ip_network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
]


def _values(scenario: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(scenario_file(scenario).read_text())
    return values


def test_api_key_policy_targets_the_route_and_hides_the_key(helm: Path, shared_dir: Path) -> None:
    documents = render_scenario(helm, "admin-apikey")
    (policy,) = select(documents, "SecurityPolicy")
    (route,) = select(documents, "HTTPRoute")
    assert policy["metadata"]["namespace"] == route["metadata"]["namespace"]
    assert policy["spec"]["targetRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "HTTPRoute",
            "name": route["metadata"]["name"],
        }
    ]
    auth = policy["spec"]["apiKeyAuth"]
    assert auth["credentialRefs"] == [
        {"group": "", "kind": "Secret", "name": "ollama-admin-api-keys"}
    ]
    assert auth["extractFrom"] == [{"headers": ["x-api-key"]}]
    assert auth["forwardClientIDHeader"] == "x-client-id"
    assert auth["sanitize"] is True
    assert "jwt" not in policy["spec"]
    assert validate_manifests([policy], crd_dir=shared_dir / "crds") == []


def test_jwt_policy_uses_the_remote_jwks(helm: Path, shared_dir: Path) -> None:
    (policy,) = select(render_scenario(helm, "jwt"), "SecurityPolicy")
    (provider,) = policy["spec"]["jwt"]["providers"]
    assert provider["remoteJWKS"] == {"uri": "https://auth.example.com/.well-known/jwks.json"}
    assert provider["issuer"] == "https://auth.example.com"
    assert provider["audiences"] == ["ollama"]
    assert "apiKeyAuth" not in policy["spec"]
    assert validate_manifests([policy], crd_dir=shared_dir / "crds") == []


def test_an_invalid_policy_fails_the_crd_schema(helm: Path, shared_dir: Path) -> None:
    (policy,) = select(render_scenario(helm, "jwt"), "SecurityPolicy")
    del policy["spec"]["jwt"]["providers"][0]["name"]
    assert validate_manifests([policy], crd_dir=shared_dir / "crds")


def test_no_policy_without_authentication_and_no_authentication_without_a_route(
    helm: Path, tmp_path: Path
) -> None:
    assert select(render_scenario(helm, "hardened"), "SecurityPolicy") == []
    # The policy targets the HTTPRoute: without it the authentication did nothing, silently,
    # while the release notes said every request needed credentials.
    values = _values("jwt")
    values["httpRoute"]["enabled"] = False
    with pytest.raises(HelmError, match="/httpRoute/enabled"):
        render(helm, values, tmp_path)


def test_policy_needs_envoy_gateway(helm: Path, tmp_path: Path) -> None:
    values = _values("jwt")
    values["assumeApiVersions"] = ["gateway.networking.k8s.io/v1"]
    with pytest.raises(HelmError, match="authenticating proxy"):
        render(helm, values, tmp_path)


def test_default_egress_is_dns_and_the_public_internet_only(helm: Path) -> None:
    (policy,) = select(render_scenario(helm, "jwt"), "NetworkPolicy")
    dns, registry = policy["spec"]["egress"]
    assert {port["port"] for port in dns["ports"]} == {53}
    (peer,) = registry["to"]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
    excluded = [ipaddress.ip_network(cidr) for cidr in peer["ipBlock"]["except"]]
    assert set(excluded) == set(PRIVATE)
    assert registry["ports"] == [{"port": 443, "protocol": "TCP"}]
    # Cloud metadata and in-cluster addresses are unreachable.
    for address in ("169.254.169.254", "10.96.0.1", "192.168.1.1", "100.64.0.1"):
        assert any(ipaddress.ip_address(address) in network for network in excluded), address
    assert not any(ipaddress.ip_address("104.21.0.1") in network for network in excluded)


def test_declared_registry_cidrs_replace_the_internet(helm: Path) -> None:
    (policy,) = select(render_scenario(helm, "admin-apikey"), "NetworkPolicy")
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"][0] == {
        "namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}
        },
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy"}},
    }
    registry = policy["spec"]["egress"][1]
    assert registry["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert registry["ports"] == [{"port": 5000, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("mount_path", "volume"),
    [
        ("/opt/ollama-inference-load/models.tsv", "scripts volume (/opt/ollama-inference-load)"),
        ("/opt/ollama-inference-load/lib.sh", "scripts volume (/opt/ollama-inference-load)"),
        ("/models/manifests/registry.ollama.ai", "models volume (/models)"),
        ("/models//blobs/", "models volume (/models)"),
    ],
)
def test_an_extra_mount_inside_the_scripts_or_the_model_store_is_refused(
    helm: Path, tmp_path: Path, mount_path: str, volume: str
) -> None:
    """A file mounted over the scripts' model list would deploy models no pin or lock rule has
    seen (and over a script, run code of its own in the init container); one inside the model
    store puts files there the pull takes as downloaded."""
    values: dict[str, Any] = {
        "extraVolumes": [{"name": "mine", "configMap": {"name": "mine"}}],
        "extraVolumeMounts": [{"name": "mine", "mountPath": mount_path, "subPath": "x"}],
    }
    with pytest.raises(HelmError) as refused:
        render(helm, values, tmp_path)
    assert f"extraVolumeMounts[0] mounts at {mount_path}, inside the chart's {volume}" in (
        refused.value.stderr
    )
    values["extraVolumeMounts"][0]["mountPath"] = "/opt/ollama-inference-load-extra/x"
    assert render(helm, values, tmp_path)  # beside it, not inside: allowed


@pytest.mark.parametrize(
    ("values", "owner"),
    [
        ({"cache": {"mountPath": "/opt/ollama-inference-load/store"}}, "cache.mountPath"),
        ({"cache": {"mountPath": "/opt"}}, "cache.mountPath"),
        ({"cache": {"mountPath": "/"}}, "cache.mountPath"),
        ({"homeDir": "/opt/ollama-inference-load/home"}, "homeDir"),
    ],
)
def test_the_charts_own_volumes_are_never_nested_with_its_scripts(
    helm: Path, tmp_path: Path, values: dict[str, Any], owner: str
) -> None:
    with pytest.raises(HelmError) as refused:
        render(helm, values, tmp_path)
    assert "and its scripts volume (/opt/ollama-inference-load) would be mounted one inside" in (
        refused.value.stderr
    )
    assert f"set {owner} apart from /opt/ollama-inference-load" in refused.value.stderr
