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


def _errors(tmp_path: Path, files: dict[str, str]) -> list[str]:
    """validate's error lines (warnings left out)."""
    make_catalog(tmp_path, files)
    outcome = run_cli(tmp_path, "validate", "--catalog", "catalog")
    errors = [line for line in outcome.stdout.splitlines() if ": error: " in line]
    assert (outcome.code == 1) == bool(errors), outcome.stdout + outcome.stderr
    return errors


EXPOSED_ONLY = "model: phi:latest\ningress: {enabled: true}\n"
AUTHENTICATED = _environment(
    "dev",
    "authentication:\n  apiKey: {secretName: inference-api-keys}\nimageRegistry: mirror.example\n"
    "verifyModelBlobs: true\n",
)


@pytest.mark.parametrize(
    ("chart_values", "where", "decided_by"),
    [
        (
            "httpRoute: {authentication: {type: none}}",
            "$.chartValues.httpRoute.authentication: chartValues cannot change "
            "httpRoute.authentication",
            "(authentication in environments/dev.yaml)",
        ),
        (
            "networkPolicy: {enabled: false}",
            "$.chartValues.networkPolicy.enabled: chartValues cannot change networkPolicy.enabled",
            "(networkPolicy in environments/dev.yaml)",
        ),
        (
            "networkPolicy: {ingressFrom: [{namespaceSelector: {}}]}",
            "$.chartValues.networkPolicy.ingressFrom: chartValues cannot change "
            "networkPolicy.ingressFrom",
            "(networkPolicy in environments/dev.yaml)",
        ),
        (
            "networkPolicy: {registry: {peers: [{ipBlock: {cidr: 0.0.0.0/0}}]}}",
            "$.chartValues.networkPolicy.registry.peers: chartValues cannot change "
            "networkPolicy.registry.peers",
            "(networkPolicy in environments/dev.yaml)",
        ),
        (
            "global: {imageRegistry: docker.io}",
            "$.chartValues.global.imageRegistry: chartValues cannot change global.imageRegistry",
            "(imageRegistry in environments/dev.yaml)",
        ),
        (
            "lifecycle: {verifyBlobs: false}",
            "$.chartValues.lifecycle.verifyBlobs: chartValues cannot change lifecycle.verifyBlobs",
            "(verifyModelBlobs in environments/dev.yaml)",
        ),
        (
            "autoscaling: {engine: keda-prometheus}",
            "$.chartValues.autoscaling.engine: chartValues cannot change autoscaling.engine",
            "(autoscaling.engine in environments/dev.yaml)",
        ),
        (
            "autoscaling: {kedaHttp: {interceptorNamespace: kube-system}}",
            "$.chartValues.autoscaling.kedaHttp.interceptorNamespace: chartValues cannot change "
            "autoscaling.kedaHttp.interceptorNamespace",
            "(autoscaling.kedaHttp (else the add-on's defaults) in environments/dev.yaml)",
        ),
    ],
)
def test_chart_values_cannot_change_what_the_environment_decides(
    tmp_path: Path, chart_values: str, where: str, decided_by: str
) -> None:
    """The escape hatch reaches every chart value, but not the ones the environment decides for
    all its services: an authenticated gateway, a NetworkPolicy, an air-gapped registry, the KEDA
    HTTP add-on's namespace (the AppProject would allow it, the route would send traffic there)."""
    body = EXPOSED_ONLY + f"chartValues:\n  {chart_values}\n"
    errors = _errors(
        tmp_path, {"environments/dev.yaml": AUTHENTICATED, "dev/ml/svc.yaml": leaf(body)}
    )
    assert len(errors) == 1, errors
    assert where in errors[0]
    assert f"environment 'dev' decides it for every service {decided_by}" in errors[0]


def test_chart_values_may_repeat_what_the_environment_decides_and_open_registry_ports(
    tmp_path: Path,
) -> None:
    same = (
        "chartValues:\n  global: {imageRegistry: mirror.example}\n"
        "  lifecycle: {verifyBlobs: true}\n"
        "  httpRoute: {authentication: {type: apiKey, apiKey: {secretName: inference-api-keys}}}\n"
        "  networkPolicy: {enabled: true, registry: {ports: [443, 5000]}}\n"
    )
    files = {"environments/dev.yaml": AUTHENTICATED, "dev/ml/svc.yaml": leaf(EXPOSED_ONLY + same)}
    assert _errors(tmp_path, files) == []


@pytest.mark.parametrize(
    ("environment", "chart_values", "message"),
    [
        (
            _environment("dev", "", lifecycle="production"),
            "service: {type: LoadBalancer}",
            "$.chartValues.service.type: service.type LoadBalancer reaches every Ollama endpoint, "
            "administration included, from outside the cluster, past the gateway: environment "
            "'dev' refuses administration;",
        ),
        (
            AUTHENTICATED,
            "service: {type: NodePort}",
            "$.chartValues.service.type: service.type NodePort reaches every Ollama endpoint, "
            "administration included, from outside the cluster, past the gateway: environment "
            "'dev' authenticates every request at the gateway;",
        ),
        (
            AUTHENTICATED,
            "ingress: {enabled: true, className: nginx, hosts: [{host: b.dev.example.com}]}",
            "$.chartValues.ingress.enabled: an Ingress would reach the service without the "
            "gateway's authentication",
        ),
    ],
)
def test_chart_values_cannot_expose_the_server_past_the_gateway(
    tmp_path: Path, environment: str, chart_values: str, message: str
) -> None:
    body = EXPOSED_ONLY + f"chartValues:\n  {chart_values}\n"
    errors = _errors(
        tmp_path, {"environments/dev.yaml": environment, "dev/ml/svc.yaml": leaf(body)}
    )
    assert len(errors) == 1, errors
    assert message in errors[0]


def test_a_load_balancer_is_the_leafs_choice_where_nothing_is_refused(tmp_path: Path) -> None:
    body = EXPOSED_ONLY + "chartValues:\n  service: {type: LoadBalancer}\n"
    assert _errors(tmp_path, {"dev/ml/svc.yaml": leaf(body)}) == []


@pytest.mark.parametrize(
    ("chart_values", "own"),
    [
        ("httpRoute: {hostnames: ['*.dev.example.com']}", "svc.dev.example.com"),
        ("httpRoute: {hostnames: [svc.dev.example.com, '*.example.com']}", "svc.dev.example.com"),
        # A name chartValues adds is not the service's own: no wildcard goes under it.
        ("httpRoute: {hostnames: [example.com, '*.example.com']}", "svc.dev.example.com"),
    ],
)
def test_a_wildcard_host_is_refused_like_a_route_without_hostnames(
    tmp_path: Path, chart_values: str, own: str
) -> None:
    body = EXPOSED_ONLY + f"chartValues:\n  {chart_values}\n"
    errors = _errors(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    assert len(errors) == 1, errors
    assert "$.chartValues.httpRoute.hostnames[" in errors[0]
    assert (
        "is a wildcard over other services' names: it would take every host under it" in (errors[0])
    )
    assert errors[0].endswith(f"under one of this service's own hosts ({own})")


def test_a_wildcard_under_the_services_own_host_is_its_own(tmp_path: Path) -> None:
    own = "chartValues:\n  httpRoute: {hostnames: [svc.dev.example.com, '*.svc.dev.example.com']}\n"
    additional = "gateway: {additionalHostnames: ['*.svc.dev.example.com']}\n"
    assert _errors(tmp_path, {"dev/ml/svc.yaml": leaf(EXPOSED_ONLY + own)}) == []
    assert _errors(tmp_path, {"dev/ml/svc.yaml": leaf(EXPOSED_ONLY + additional)}) == []


def test_a_wildcard_over_other_services_is_refused_in_additional_hostnames_too(
    tmp_path: Path,
) -> None:
    body = EXPOSED_ONLY + "gateway: {additionalHostnames: ['*.dev.example.com']}\n"
    (error,) = _errors(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    assert "$.gateway.additionalHostnames[0]: host '*.dev.example.com' is a wildcard over" in error


def test_a_wildcard_ingress_host_is_refused_beside_the_charts_own_gateway(tmp_path: Path) -> None:
    """The chart's own Gateway serves this service alone, an Ingress host does not."""
    body = EXPOSED_ONLY + (
        "chartValues:\n"
        "  gateway: {enabled: true, className: eg, tls: {hostname: svc.dev.example.com}}\n"
        "  httpRoute: {parentRefs: []}\n"
        "  ingress: {enabled: true, className: nginx, hosts: [{host: '*.example.com'}]}\n"
    )
    errors = _errors(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    assert [error.split(": error: ")[1].split(":")[0] for error in errors] == [
        "$.chartValues.ingress.hosts[0].host"
    ]


def test_a_route_chart_values_turn_on_carries_the_environments_authentication(
    tmp_path: Path,
) -> None:
    """A leaf its ingress keys leave unexposed, its HTTPRoute turned on by chartValues: without
    the environment's authentication it is refused; with it (written out), accepted."""
    route = (
        "model: phi:latest\n"
        "chartValues:\n  httpRoute:\n    enabled: true\n    hostnames: [svc.dev.example.com]\n"
        "    parentRefs: [{name: gw, namespace: gateway-system}]\n"
    )
    files = {"environments/dev.yaml": AUTHENTICATED, "dev/ml/svc.yaml": leaf(route)}
    (error,) = _errors(tmp_path, files)
    assert "$.chartValues.httpRoute.enabled: the HTTPRoute would have no authentication: " in error
    authenticated = route + (
        "    authentication: {type: apiKey, apiKey: {secretName: inference-api-keys}}\n"
    )
    files["dev/ml/svc.yaml"] = leaf(authenticated)
    assert _errors(tmp_path, files) == []


def test_a_leaf_cannot_mount_its_own_model_list_over_the_charts(tmp_path: Path) -> None:
    """requireLock and the model rules read the leaf's models; a file mounted over the scripts'
    models.tsv would deploy others (the chart's rule, placed at the leaf's key)."""
    body = "model: phi:latest\nchartValues:\n" + (
        "  extraVolumes: [{name: mine, configMap: {name: my-models}}]\n"
        "  extraVolumeMounts:\n"
        "    - {name: mine, mountPath: /opt/ollama-inference-load/models.tsv, subPath: m}\n"
    )
    (error,) = _errors(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    assert "$.chartValues.extraVolumeMounts" in error
    assert "inside the chart's scripts volume" in error


def test_verify_model_blobs_reaches_every_services_values(tmp_path: Path) -> None:
    """verifyModelBlobs is the environment's: every service's values carry the chart's
    lifecycle.verifyBlobs; without it nothing is written (the chart's false applies)."""
    files = {
        "environments/dev.yaml": AUTHENTICATED,
        "dev/ml/svc.yaml": leaf(EXPOSED_ONLY),
        "edge/ml/other.yaml": leaf("model: phi:latest\n", name="other", environment="edge"),
    }
    make_catalog(tmp_path, files)
    assert run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated").code == 0
    verified = yaml.safe_load((tmp_path / "generated/dev/ml/svc/values.yaml").read_text())
    plain = yaml.safe_load((tmp_path / "generated/edge/ml/other/values.yaml").read_text())
    assert verified["lifecycle"] == {"verifyBlobs": True}
    assert "lifecycle" not in plain
