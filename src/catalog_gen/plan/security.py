"""What a service exposes, and to whom (docs/security.md).

The chart owns what its values mean (which endpoints `exposure.administration` routes, how the
NetworkPolicy and the SecurityPolicy look); this module decides those values from the
environment's settings and enforces the environment's own rules: leaves may route Ollama's
administration endpoints only where the environment allows it (not in production by default),
and a leaf's chartValues (the escape hatch to every other chart value) cannot change what the
environment decides for all its services: its authentication, its NetworkPolicy (but for more
registry ports), its image registry, its autoscaler and the KEDA HTTP add-on's namespace and
Service; nor expose the server past the gateway where administration is refused or requests are
authenticated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from catalog_gen.check.chart_contract import place_chart_value, set_by
from catalog_gen.check.guardrails import value_at
from catalog_gen.load.document import Document
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.plan.exposure import Exposure
from catalog_gen.plan.service_plan import PlannedModel
from catalog_gen.problems import Report, Severity

PRODUCTION = "production"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
DEFAULT_REGISTRY_PORT = 443
INSECURE_REGISTRY_PORT = 80


def administration_allowed(environment: Environment) -> bool:
    if environment.allow_administration is not None:
        return environment.allow_administration
    return environment.lifecycle != PRODUCTION


def proxy_namespaces(environment: Environment, exposure: Exposure | None = None) -> list[str]:
    """Namespaces allowed to reach the services: the environment's fromNamespaces, else (routing
    gateway) the Gateway's namespace, the leaf's override included."""
    settings = environment.network_policy
    if settings is not None and settings.from_namespaces:
        return list(settings.from_namespaces)
    if environment.routing != "gateway":
        return []
    if exposure is not None and exposure.parent_ref and exposure.parent_ref.get("namespace"):
        return [exposure.parent_ref["namespace"]]
    if environment.gateway is not None:
        return [environment.gateway.parent_ref.namespace]
    return []


def registry_ports(environment: Environment) -> list[int]:
    settings = environment.network_policy
    if settings is not None and settings.registry_ports:
        return list(settings.registry_ports)
    registry = environment.model_registry
    if registry is None:
        return [DEFAULT_REGISTRY_PORT]
    return [pull_port(registry.host, insecure=registry.insecure)]


def pull_port(host: str, *, insecure: bool) -> int:
    """The TCP port Ollama pulls from a registry host on: the host's own port, else 80 over
    plain HTTP (insecure), else 443."""
    _, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return int(port)
    return INSECURE_REGISTRY_PORT if insecure else DEFAULT_REGISTRY_PORT


def security_values(
    leaf: CatalogLeaf, environment: Environment, exposure: Exposure
) -> dict[str, Any]:
    """Chart values for exposure.administration, networkPolicy and httpRoute.authentication."""
    values: dict[str, Any] = {}
    if leaf.ingress is not None and leaf.ingress.administration:
        values["exposure"] = {"administration": True}
    policy = _network_policy_values(environment, exposure)
    if policy is not None:
        values["networkPolicy"] = policy
    authentication = _authentication_values(environment)
    if authentication is not None and exposure.enabled and exposure.routing == "gateway":
        values["httpRoute"] = {"authentication": authentication}
    return values


def _network_policy_values(environment: Environment, exposure: Exposure) -> dict[str, Any] | None:
    settings = environment.network_policy
    if settings is not None and settings.enabled is False:
        return None
    namespaces = proxy_namespaces(environment, exposure)
    if not namespaces:
        return None
    values: dict[str, Any] = {
        "enabled": True,
        "ingressFrom": [
            {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: namespace}}}
            for namespace in namespaces
        ],
    }
    registry: dict[str, Any] = {"ports": registry_ports(environment)}
    if settings is not None and settings.registry_cidrs:
        registry["peers"] = [{"ipBlock": {"cidr": cidr}} for cidr in settings.registry_cidrs]
    values["registry"] = registry
    return values


def _authentication_values(environment: Environment) -> dict[str, Any] | None:
    settings = environment.authentication
    if settings is None:
        return None
    if settings.api_key is not None:
        return {"type": "apiKey", "apiKey": {"secretName": settings.api_key.secret_name}}
    if settings.jwt is None:
        return None
    jwt: dict[str, Any] = {"jwksUri": settings.jwt.jwks_uri}
    if settings.jwt.issuer is not None:
        jwt["issuer"] = settings.jwt.issuer
    if settings.jwt.audiences is not None:
        jwt["audiences"] = list(settings.jwt.audiences)
    return {"type": "jwt", "jwt": jwt}


def check_environment_security(
    document: Document, environment: Environment, report: Report
) -> None:
    """The environment's security settings against its routing."""
    if environment.authentication is not None and environment.routing != "gateway":
        document.add(
            report,
            ("authentication",),
            "authentication needs routing: gateway (an Envoy Gateway SecurityPolicy on each "
            "HTTPRoute); with an Ingress put an authenticating proxy in front instead "
            "(docs/security.md)",
        )
    settings = environment.network_policy
    if settings is not None and settings.enabled and not proxy_namespaces(environment):
        document.add(
            report,
            ("networkPolicy", "enabled"),
            "networkPolicy.enabled needs the namespaces the gateway's proxies or the ingress "
            "controller run in: set networkPolicy.fromNamespaces",
        )
    registry = environment.model_registry
    policy_on = settings is None or settings.enabled is not False
    declared = settings is not None and bool(settings.registry_cidrs)
    if registry is not None and policy_on and not declared and proxy_namespaces(environment):
        line, column = document.position(("modelRegistry", "host"))
        report.add(
            document.display,
            line,
            column,
            ["modelRegistry", "host"],
            f"the NetworkPolicy lets pods reach only public addresses, so a mirror "
            f"{registry.host!r} on a private address cannot be pulled from: declare it in "
            "networkPolicy.registryCIDRs (that also keeps the pods off the internet), with the "
            "storage it redirects blob downloads to (`catalog-gen lock` names it) and its port "
            "in registryPorts",
            severity=Severity.WARNING,
        )


def check_model_egress(
    document: Document,
    environment: Environment,
    models: Sequence[PlannedModel],
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """A warning at each model the service's NetworkPolicy (on the effective values) cannot
    reach: pulled on a port its registry egress does not allow (the environment's modelRegistry
    gets its own warning, check_environment_security)."""
    policy = effective.get("networkPolicy") or {}
    if not policy.get("enabled"):
        return
    ports = list((policy.get("registry") or {}).get("ports") or ())
    allowed = ", ".join(str(port) for port in ports) or "none"
    for model in models:
        port = pull_port(model.reference.registry, insecure=model.insecure)
        if port in ports:
            continue
        line, column = document.position(model.source)
        report.add(
            document.display,
            line,
            column,
            list(model.source),
            f"model {model.name} is pulled from {model.reference.registry} on port {port}, "
            f"which the NetworkPolicy does not let pods reach (its registry ports: {allowed}), "
            f"so it cannot be pulled: add {port} to networkPolicy.registryPorts in "
            f"environments/{environment.environment}.yaml",
            severity=Severity.WARNING,
        )


def check_administration(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """Administration endpoints routed (by the leaf or its chartValues) where forbidden."""
    if not (effective.get("exposure") or {}).get("administration"):
        return
    if administration_allowed(environment):
        return
    chart_values = leaf.chart_values or {}
    where: tuple[str, ...] = ("ingress", "administration")
    if set_by(chart_values, ("exposure", "administration")):
        where = ("chartValues", "exposure", "administration")
    reason = (
        "allowAdministration: false"
        if environment.allow_administration is False
        else f"lifecycle {environment.lifecycle!r}"
    )
    document.add(
        report,
        where,
        f"environment {environment.environment!r} does not route Ollama's administration "
        f"endpoints ({reason}): operators reach them with kubectl port-forward "
        "(docs/security.md)",
    )


# A chart value's path, and the environment key that decides it.
Enforced = tuple[tuple[str, ...], str]


def enforced_values(environment: Environment, exposure: Exposure) -> list[Enforced]:
    """The chart values the environment decides for every service of it, each with the
    environment key that decides it: a leaf's chartValues may not change them
    (check_environment_enforced). Its NetworkPolicy's registry ports are not among them: a leaf
    may open another port to the same registry peers. Its authentication is judged on every
    route the service has (check_route_authentication)."""
    enforced: list[Enforced] = [
        (("autoscaling", "kedaHttp", key), "autoscaling.kedaHttp (else the add-on's defaults)")
        for key in (
            "interceptorNamespace",
            "interceptorService",
            "interceptorPort",
            "scalerAddress",
        )
    ]
    enforced.append((("autoscaling", "engine"), "autoscaling.engine"))
    if environment.image_registry is not None:
        enforced.append((("global", "imageRegistry"), "imageRegistry"))
    if environment.verify_model_blobs:
        enforced.append((("lifecycle", "verifyBlobs"), "verifyModelBlobs"))
    if _network_policy_values(environment, exposure) is not None:
        enforced += [
            (("networkPolicy", *path), "networkPolicy")
            for path in (("enabled",), ("ingressFrom",), ("dns",), ("registry", "peers"))
        ]
    return enforced


def check_environment_enforced(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    exposure: Exposure,
    *,
    effective: Mapping[str, Any],
    without_chart_values: Callable[[], Mapping[str, Any]],
    report: Report,
) -> None:
    """Each enforced value (enforced_values) the leaf's chartValues changed, an error at the
    chartValues key. without_chart_values: the effective values the leaf would have without its
    chartValues (asked only when chartValues touches an enforced value)."""
    chart_values = leaf.chart_values
    if not chart_values:  # most leaves
        return
    touched = [
        (path, source)
        for path, source in enforced_values(environment, exposure)
        if set_by(chart_values, path)
    ]
    if not touched:
        return
    before = without_chart_values()
    for path, source in touched:
        if value_at(effective, path) == value_at(before, path):
            continue  # written as the environment has it: harmless
        _refuse_change(document, chart_values, path, environment, source=source, report=report)


def _refuse_change(
    document: Document,
    chart_values: Mapping[str, Any],
    path: tuple[str, ...],
    environment: Environment,
    *,
    source: str,
    report: Report,
) -> None:
    """An error at the chartValues key that changed what the environment decides."""
    name = environment.environment
    place_chart_value(
        document,
        chart_values,
        path,
        report,
        f"chartValues cannot change {'.'.join(path)}: {_decided(name, source)}; change it "
        "there, or remove this key",
        at_key=True,
    )


def _decided(environment: str, source: str) -> str:
    return (
        f"environment {environment!r} decides it for every service ({source} in "
        f"environments/{environment}.yaml)"
    )


def check_route_authentication(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """Where the environment authenticates requests, the service's HTTPRoute carries that
    authentication, whoever turned the route on: the leaf's ingress keys, or its chartValues
    (httpRoute.enabled on a leaf its ingress keys leave unexposed would otherwise get none)."""
    expected = _authentication_values(environment)
    route = effective.get("httpRoute") or {}
    if expected is None or not route.get("enabled"):
        return
    if _holds(route.get("authentication"), expected):
        return
    chart_values = leaf.chart_values or {}
    path = ("httpRoute", "authentication")
    if set_by(chart_values, path):
        _refuse_change(
            document, chart_values, path, environment, source="authentication", report=report
        )
        return
    document.add(
        report,
        document.first_present([("chartValues", "httpRoute", "enabled"), ("chartValues",)]),
        f"the HTTPRoute would have no authentication: "
        f"{_decided(environment.environment, 'authentication')}; expose the service with the "
        "leaf's ingress keys, which give its route the environment's authentication",
    )


def _holds(actual: object, expected: object) -> bool:
    """actual has every value of expected (mappings key by key; the chart's defaults of the
    keys expected leaves out may be beside them)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            _holds(actual.get(key), value) for key, value in expected.items()
        )
    return actual == expected


def check_exposure_bypass(
    document: Document, environment: Environment, effective: Mapping[str, Any], report: Report
) -> None:
    """A Service of type LoadBalancer or NodePort, or an Ingress beside the authenticated
    HTTPRoute (chartValues alone can write either), where the environment refuses
    administration or authenticates requests: both reach every Ollama endpoint, administration
    included, without the gateway's route or its authentication."""
    refused = [] if administration_allowed(environment) else ["refuses administration"]
    if environment.authentication is not None:
        refused.append("authenticates every request at the gateway")
    if not refused:
        return
    why = f"environment {environment.environment!r} {' and '.join(refused)}"
    kind = (effective.get("service") or {}).get("type")
    if kind not in (None, "ClusterIP"):
        document.add(
            report,
            document.first_present([("chartValues", "service", "type"), ("chartValues",)]),
            f"service.type {kind} reaches every Ollama endpoint, administration included, from "
            f"outside the cluster, past the gateway: {why}; keep ClusterIP and expose the "
            "service with the leaf's ingress keys",
        )
    ingress = effective.get("ingress") or {}
    if environment.authentication is not None and ingress.get("enabled"):
        document.add(
            report,
            document.first_present([("chartValues", "ingress", "enabled"), ("chartValues",)]),
            f"an Ingress would reach the service without the gateway's authentication: {why}; "
            "expose the service with the leaf's ingress keys (an authenticated HTTPRoute)",
        )
