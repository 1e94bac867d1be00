"""What a service exposes: administration endpoints refused where the environment forbids them
(production by default), the NetworkPolicy and the gateway authentication the environment
decides. The chart side (what the routes match) is tests/chart/test_route_matching.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helpers import leaf, make_catalog, run_cli

EXPOSED = "model: phi:latest\ningress: {enabled: true, administration: true}\n"


def _render(tmp_path: Path, files: dict[str, str]) -> tuple[int, str, dict[str, Any]]:
    make_catalog(tmp_path, files)
    outcome = run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated")
    values: dict[str, Any] = {}
    written = tmp_path / "generated" / "dev" / "ml" / "svc" / "values.yaml"
    if written.is_file():
        values = yaml.safe_load(written.read_text())
    return outcome.code, outcome.stdout, values


def _environment(name: str, extra: str, lifecycle: str = "experimental") -> str:
    return (
        f"environment: {name}\nlifecycle: {lifecycle}\nrouting: gateway\n"
        f"baseDomain: {name}.example.com\n"
        "gateway:\n  parentRef: {name: gw, namespace: gateway-system}\n" + extra
    )


def test_administration_is_refused_in_production_at_the_leaf_key(tmp_path: Path) -> None:
    make_catalog(
        tmp_path,
        {
            "environments/prodlike.yaml": _environment("prodlike", "", lifecycle="production"),
            "prodlike/ml/svc.yaml": leaf(EXPOSED, environment="prodlike"),
        },
    )
    outcome = run_cli(tmp_path, "validate", "--catalog", "catalog")
    assert outcome.code == 1
    assert (
        "catalog/prodlike/ml/svc.yaml:7:42: error: $.ingress.administration: environment "
        "'prodlike' does not route Ollama's administration endpoints (lifecycle 'production'): "
        "operators reach them with kubectl port-forward (docs/security.md)\n"
    ) in outcome.stdout


def test_administration_through_chart_values_is_refused_there(tmp_path: Path) -> None:
    body = "model: phi:latest\nchartValues:\n  exposure: {administration: true}\n"
    make_catalog(
        tmp_path,
        {
            "environments/closed.yaml": _environment("closed", "allowAdministration: false\n"),
            "closed/ml/svc.yaml": leaf(body, environment="closed"),
        },
    )
    outcome = run_cli(tmp_path, "validate", "--catalog", "catalog")
    assert outcome.code == 1
    assert "$.chartValues.exposure.administration: environment 'closed'" in outcome.stdout
    assert "(allowAdministration: false)" in outcome.stdout


def test_administration_is_routed_where_allowed(tmp_path: Path) -> None:
    code, stdout, values = _render(tmp_path, {"dev/ml/svc.yaml": leaf(EXPOSED)})
    assert code == 0, stdout
    assert values["exposure"] == {"administration": True}
    make_catalog(
        tmp_path,
        {
            "environments/opened.yaml": _environment(
                "opened", "allowAdministration: true\n", lifecycle="production"
            ),
            "opened/ml/svc.yaml": leaf(EXPOSED, environment="opened"),
        },
    )
    assert run_cli(tmp_path, "validate", "--catalog", "catalog").code == 0


def test_no_administration_key_unless_asked(tmp_path: Path) -> None:
    body = "model: phi:latest\ningress: {enabled: true}\n"
    code, stdout, values = _render(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    assert code == 0, stdout
    assert "exposure" not in values


def test_network_policy_admits_the_gateway_namespace_of_the_leaf(tmp_path: Path) -> None:
    body = (
        "model: phi:latest\ningress: {enabled: true}\n"
        "gateway: {parentRef: {name: other, namespace: edge-gateways}}\n"
    )
    code, stdout, values = _render(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    assert code == 0, stdout
    assert values["networkPolicy"] == {
        "enabled": True,
        "ingressFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge-gateways"}}}
        ],
        "registry": {"ports": [443]},
    }


def test_network_policy_off_or_misconfigured(tmp_path: Path) -> None:
    off = _environment("dev", "networkPolicy: {enabled: false}\n")
    code, stdout, values = _render(
        tmp_path, {"environments/dev.yaml": off, "dev/ml/svc.yaml": leaf()}
    )
    assert code == 0, stdout
    assert "networkPolicy" not in values
    ingress = (
        "environment: dev\nrouting: ingress\nbaseDomain: dev.example.com\n"
        "networkPolicy: {enabled: true}\n"
    )
    code, stdout, _ = _render(tmp_path, {"environments/dev.yaml": ingress})
    assert code == 1
    assert "$.networkPolicy.enabled: networkPolicy.enabled needs the namespaces" in stdout


def test_registry_cidrs_and_the_mirror_port_limit_egress(tmp_path: Path) -> None:
    mirrored = _environment(
        "dev",
        "modelRegistry: {host: 'mirror.internal:5000'}\n"
        "networkPolicy: {registryCIDRs: [10.20.0.0/16, 10.30.0.0/24]}\n",
    )
    code, stdout, values = _render(
        tmp_path, {"environments/dev.yaml": mirrored, "dev/ml/svc.yaml": leaf()}
    )
    assert code == 0, stdout
    assert values["networkPolicy"]["registry"] == {
        "peers": [{"ipBlock": {"cidr": "10.20.0.0/16"}}, {"ipBlock": {"cidr": "10.30.0.0/24"}}],
        "ports": [5000],
    }
    undeclared = _environment("dev", "modelRegistry: {host: 'mirror.internal:5000'}\n")
    code, stdout, _ = _render(
        tmp_path, {"environments/dev.yaml": undeclared, "dev/ml/svc.yaml": leaf()}
    )
    assert code == 0
    assert "warning: $.modelRegistry.host: the NetworkPolicy lets pods reach only public" in stdout
    bad = _environment("dev", "networkPolicy: {registryCIDRs: [10.20.0.1/16]}\n")
    code, stdout, _ = _render(tmp_path, {"environments/dev.yaml": bad})
    assert code == 1
    assert "$.networkPolicy.registryCIDRs[0]: must be an IPv4 CIDR with no host bits" in stdout


def test_a_model_on_a_port_the_network_policy_does_not_allow_is_a_warning_at_it(
    tmp_path: Path,
) -> None:
    models = (
        "models:\n  - phi\n  - registry.example.com:5000/team/coder\n"
        "  - {name: plain.example.com/team/chat, insecure: true}\n"
    )
    files = {"environments/dev.yaml": _environment("dev", ""), "dev/ml/svc.yaml": leaf(models)}
    code, stdout, values = _render(tmp_path, files)
    assert code == 0, stdout  # a warning, as for the environment's modelRegistry
    assert values["networkPolicy"]["registry"] == {"ports": [443]}
    assert [line for line in stdout.splitlines() if "NetworkPolicy" in line] == [
        "catalog/dev/ml/svc.yaml:8:5: warning: $.models[1]: model "
        "registry.example.com:5000/team/coder:latest is pulled from registry.example.com:5000 on "
        "port 5000, which the NetworkPolicy does not let pods reach (its registry ports: 443), "
        "so it cannot be pulled: add 5000 to networkPolicy.registryPorts in "
        "environments/dev.yaml",
        "catalog/dev/ml/svc.yaml:9:12: warning: $.models[2].name: model "
        "plain.example.com/team/chat:latest is pulled from plain.example.com on port 80, which "
        "the NetworkPolicy does not let pods reach (its registry ports: 443), so it cannot be "
        "pulled: add 80 to networkPolicy.registryPorts in environments/dev.yaml",
    ]
    # Every port allowed (by the environment, or by the leaf's chartValues): no warning.
    ports = _environment("dev", "networkPolicy: {registryPorts: [443, 5000, 80]}\n")
    code, stdout, _ = _render(tmp_path, {**files, "environments/dev.yaml": ports})
    assert (code, [line for line in stdout.splitlines() if "NetworkPolicy" in line]) == (0, [])
    chart_ports = models + "chartValues: {networkPolicy: {registry: {ports: [443, 5000, 80]}}}\n"
    code, stdout, _ = _render(tmp_path, {**files, "dev/ml/svc.yaml": leaf(chart_ports)})
    assert (code, [line for line in stdout.splitlines() if "NetworkPolicy" in line]) == (0, [])


def test_authentication_reaches_the_route_of_exposed_services(tmp_path: Path) -> None:
    jwt = _environment(
        "dev",
        "authentication:\n  jwt: {jwksUri: 'https://id.example.com/jwks', audiences: [ollama]}\n",
    )
    exposed = "model: phi:latest\ningress: {enabled: true}\n"
    code, stdout, values = _render(
        tmp_path, {"environments/dev.yaml": jwt, "dev/ml/svc.yaml": leaf(exposed)}
    )
    assert code == 0, stdout
    assert values["httpRoute"]["authentication"] == {
        "type": "jwt",
        "jwt": {"jwksUri": "https://id.example.com/jwks", "audiences": ["ollama"]},
    }
    code, stdout, values = _render(
        tmp_path, {"environments/dev.yaml": jwt, "dev/ml/svc.yaml": leaf()}
    )
    assert code == 0, stdout
    assert "authentication" not in values.get("httpRoute", {})


def test_authentication_needs_gateway_routing_and_one_method(tmp_path: Path) -> None:
    ingress = (
        "environment: dev\nrouting: ingress\nbaseDomain: dev.example.com\n"
        "authentication: {apiKey: {secretName: keys}}\n"
    )
    code, stdout, _ = _render(tmp_path, {"environments/dev.yaml": ingress})
    assert code == 1
    assert "$.authentication: authentication needs routing: gateway" in stdout
    both = _environment(
        "dev",
        "authentication: {apiKey: {secretName: keys}, jwt: {jwksUri: 'https://a.example/j'}}\n",
    )
    code, stdout, _ = _render(tmp_path, {"environments/dev.yaml": both})
    assert code == 1
    assert "set either apiKey or jwt" in stdout


def test_at_most_eight_jwt_audiences_as_the_security_policy_crd_allows(tmp_path: Path) -> None:
    audiences = ", ".join(f"aud{index}" for index in range(9))
    jwt = _environment(
        "dev",
        "authentication:\n  jwt: {jwksUri: 'https://id.example.com/jwks', "
        f"audiences: [{audiences}]}}\n",
    )
    exposed = "model: phi:latest\ningress: {enabled: true}\n"
    code, stdout, _ = _render(
        tmp_path, {"environments/dev.yaml": jwt, "dev/ml/svc.yaml": leaf(exposed)}
    )
    assert code == 1, stdout
    assert "$.authentication.jwt.audiences" in stdout


@pytest.mark.parametrize(
    ("registry", "accepted"),
    [
        ("mirror", False),  # docker.io/mirror/ollama/ollama to a container runtime
        ("registry.example/..", False),
        ("registry.example:99999", False),
        ("mirror.internal:5000", True),
        ("localhost:5000", True),
        ("mirror:5000", True),
        ("registry.example.com/team/sub_path", True),
    ],
)
def test_an_image_registry_must_be_one_to_container_runtimes(
    tmp_path: Path, registry: str, accepted: bool
) -> None:
    """An environment's imageRegistry replaces every image's registry: a bare word would pull
    from a Docker Hub account of that name (distribution/reference reads a first part with no
    dot or port, localhost aside, so), an air-gapped cluster's mirror never asked."""
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    environment = catalog / "environments" / "dev.yaml"
    environment.write_text(environment.read_text() + f"imageRegistry: {registry}\n")
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert (outcome.code == 0) is accepted, outcome.stdout + outcome.stderr
    if not accepted:
        assert "$.imageRegistry: must be a registry host (a name with a dot or a port" in (
            outcome.stdout
        )


@pytest.mark.parametrize("host", ["mirror.example:99999", "mirror.example:0", "a..b"])
def test_a_model_registry_port_no_client_can_dial_is_refused_at_the_environment(
    tmp_path: Path, host: str
) -> None:
    """Refused by the chart at every leaf before (as networkPolicy.registry.ports[0], a value no
    leaf sets), now at the environment file's own line."""
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    environment = catalog / "environments" / "dev.yaml"
    environment.write_text(environment.read_text() + f"modelRegistry: {{host: '{host}'}}\n")
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    errors = [line for line in outcome.stdout.splitlines() if ": error: " in line]
    assert errors
    assert all(line.startswith("catalog/environments/dev.yaml:") for line in errors), errors
    assert any("$.modelRegistry.host: must be a registry host" in line for line in errors)
