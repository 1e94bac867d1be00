"""How a service is reached: the leaf's ingress and gateway keys over the environment's routing.

resolve_exposure decides the hosts and the Gateway or Ingress settings, exposure_values turns
them into chart values, and deployed_host_sources lists the hosts the chart will really route
(chartValues included) for the cross-leaf uniqueness rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalog_gen.fields import Routing
from catalog_gen.load.document import DataPath, Document
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.problems import Report


@dataclass(frozen=True)
class Exposure:
    enabled: bool
    routing: Routing
    hosts: tuple[str, ...]  # first the service's host, then additional hostnames
    host_sources: tuple[tuple[str, DataPath], ...]  # each host and the leaf node it came from
    parent_ref: Mapping[str, str] | None  # routing: gateway
    ingress_class: str  # routing: ingress, "" = cluster default
    tls_secret_name: str  # routing: ingress, "" = no TLS
    ingress_annotations: Mapping[str, str]  # routing: ingress, the environment's


def resolve_exposure(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> Exposure:
    routing = environment.routing
    ingress_settings = environment.ingress
    disabled = Exposure(
        enabled=False,
        routing=routing,
        hosts=(),
        host_sources=(),
        parent_ref=None,
        ingress_class="",
        tls_secret_name="",
        ingress_annotations={},
    )
    if leaf.ingress is None or not leaf.ingress.enabled:
        return disabled
    sources = _service_host(document, leaf, environment, report)
    if sources is None:
        return disabled
    parent_ref: dict[str, str] | None = None
    if routing == "gateway":
        parent_ref = _parent_ref(document, leaf, environment, report)
        if parent_ref is None:
            return disabled
        for index, extra in enumerate(
            leaf.gateway.additional_hostnames or () if leaf.gateway else ()
        ):
            sources.append((extra, ("gateway", "additionalHostnames", index)))
    hosts: list[str] = []
    for name, source in sources:
        if name in hosts:
            document.add(report, source, f"host {name!r} is listed twice for this service")
        else:
            hosts.append(name)
    return Exposure(
        enabled=True,
        routing=routing,
        hosts=tuple(hosts),
        host_sources=tuple(sources),
        parent_ref=parent_ref,
        ingress_class=(ingress_settings.class_name or "") if ingress_settings else "",
        tls_secret_name=(ingress_settings.tls_secret_name or "") if ingress_settings else "",
        ingress_annotations=dict((ingress_settings.annotations or {}) if ingress_settings else {}),
    )


def _service_host(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> list[tuple[str, DataPath]] | None:
    """[(host, where the leaf sets it)]: ingress.host, else <serviceName>.<baseDomain>; None
    (a problem reported) without either."""
    host = leaf.ingress.host if leaf.ingress else None
    if host is not None:
        return [(host, ("ingress", "host"))]
    if environment.base_domain is None:
        document.add(
            report,
            ("ingress",),
            f"ingress.host is required: environment {environment.environment!r} has no "
            "baseDomain to derive <serviceName>.<baseDomain> from",
        )
        return None
    host = f"{leaf.service_name}.{environment.base_domain}"
    if len(host) > 253:
        document.add(
            report,
            ("ingress",),
            f"the derived host {host!r} is longer than 253 characters: set ingress.host",
        )
        return None
    return [(host, ("ingress",))]


def _parent_ref(
    document: Document, leaf: CatalogLeaf, environment: Environment, report: Report
) -> dict[str, str] | None:
    """The Gateway: the leaf's gateway.parentRef keys over the environment's; None (a problem
    reported) without a name and a namespace."""
    override = leaf.gateway.parent_ref if leaf.gateway and leaf.gateway.parent_ref else None
    base = environment.gateway.parent_ref if environment.gateway else None
    merged: dict[str, str] = {}
    for key, attribute in (
        ("name", "name"),
        ("namespace", "namespace"),
        ("sectionName", "section_name"),
    ):
        value = getattr(override, attribute, None) or getattr(base, attribute, None)
        if value:
            merged[key] = value
    if "name" not in merged or "namespace" not in merged:
        document.add(
            report,
            ("ingress", "enabled"),
            f"environment {environment.environment!r} routes through a Gateway but names "
            "none: add gateway.parentRef to its environment file, or set "
            "gateway.parentRef.name and .namespace in this leaf",
        )
        return None
    return merged


def deployed_host_sources(
    exposure: Exposure, effective: Mapping[str, Any]
) -> tuple[tuple[str, DataPath], ...]:
    """The hosts the chart will actually route, for the uniqueness rule across leaves: the
    leaf's own, unless chartValues replaced them, plus those chartValues added (an HTTPRoute
    hostname or an Ingress host set there would otherwise escape the rule)."""
    from_leaf = dict(exposure.host_sources)
    sources: list[tuple[str, DataPath]] = []
    for host, source in _routed_hosts(effective, routes=True):
        if isinstance(host, str) and host not in (name for name, _ in sources):
            sources.append((host, from_leaf.get(host, source)))
    return tuple(sources)


def _routed_hosts(effective: Mapping[str, Any], *, routes: bool) -> list[tuple[object, DataPath]]:
    """The hosts of the HTTPRoute (with routes) and of the Ingress, as the effective values
    enable them, each with the chartValues path that would set it."""
    hosts: list[tuple[object, DataPath]] = []
    route = effective.get("httpRoute") or {}
    if routes and route.get("enabled"):
        hosts += [
            (host, ("chartValues", "httpRoute", "hostnames", index))
            for index, host in enumerate(route.get("hostnames") or ())
        ]
    ingress = effective.get("ingress") or {}
    if ingress.get("enabled"):
        hosts += [
            (rule["host"], ("chartValues", "ingress", "hosts", index, "host"))
            for index, rule in enumerate(ingress.get("hosts") or ())
            if isinstance(rule, Mapping) and rule.get("host")
        ]
    return hosts


def check_catch_all_route(document: Document, effective: Mapping[str, Any], report: Report) -> None:
    """An HTTPRoute without hostnames on a Gateway the catalog's services share takes every host
    of its listener that no other route claims (Gateway API: a route without hostnames matches
    them all), so one leaf's `chartValues: {httpRoute: {hostnames: []}}` would serve every other
    service's traffic and escape the rule that hosts are unique per environment. The chart's own
    Gateway (gateway.enabled) serves this service alone: a route without hostnames is its own."""
    route = effective.get("httpRoute") or {}
    own_gateway = (effective.get("gateway") or {}).get("enabled")
    if not route.get("enabled") or route.get("hostnames") or own_gateway:
        return
    where = document.first_present(
        [("chartValues", "httpRoute", "hostnames"), ("chartValues", "httpRoute"), ("ingress",)]
    )
    document.add(
        report,
        where,
        "the HTTPRoute has no hostnames: on a shared Gateway it would take every host of the "
        "listener that no other route claims (other services' traffic); list this service's "
        "hosts, or leave httpRoute.hostnames to the leaf's ingress keys",
    )


def check_wildcard_hosts(
    document: Document, exposure: Exposure, effective: Mapping[str, Any], report: Report
) -> None:
    """A wildcard host (gateway.additionalHostnames, or chartValues) only under one of the
    service's own hosts, those its leaf keys give (`*.chat.example.com` beside
    `chat.example.com`): `*.example.com` would take every host under it that no other route
    claims, other services' traffic (a service removed, a typo), past the rule that hosts are
    unique per environment. A route on the chart's own Gateway serves this service alone; an
    Ingress host shares the controller whatever Gateway the chart renders."""
    own_gateway = bool((effective.get("gateway") or {}).get("enabled"))
    hosts = _routed_hosts(effective, routes=not own_gateway)
    wildcards = [(host, where) for host, where in hosts if str(host).startswith("*")]
    if not wildcards:  # most services
        return
    own = [host for host in exposure.hosts if not host.startswith("*")]
    from_leaf = dict(exposure.host_sources)
    for host, where in wildcards:
        under = str(host)[2:] if str(host).startswith("*.") else ""
        if under and any(under == name or under.endswith(f".{name}") for name in own):
            continue
        document.add(
            report,
            document.first_present([from_leaf.get(str(host), where), where[:2], ("ingress",)]),
            f"host {host!r} is a wildcard over other services' names: it would take every host "
            "under it that no other route claims (other services' traffic); a wildcard goes "
            f"under one of this service's own hosts ({', '.join(own) or 'none'})",
        )


def exposure_values(exposure: Exposure) -> dict[str, Any]:
    if not exposure.enabled:
        return {"httpRoute": {"enabled": False}, "ingress": {"enabled": False}}
    if exposure.routing == "gateway":
        return {
            "httpRoute": {
                "enabled": True,
                "parentRefs": [dict(exposure.parent_ref or {})],
                "hostnames": list(exposure.hosts),
            },
            "ingress": {"enabled": False},
        }
    ingress: dict[str, Any] = {
        "enabled": True,
        # The chart routes only the paths of its api/ollama-endpoints.yaml on each host.
        "hosts": [{"host": host} for host in exposure.hosts],
    }
    if exposure.ingress_class:
        ingress["className"] = exposure.ingress_class
    if exposure.ingress_annotations:
        ingress["annotations"] = dict(exposure.ingress_annotations)
    if exposure.tls_secret_name:
        ingress["tls"] = [{"secretName": exposure.tls_secret_name, "hosts": list(exposure.hosts)}]
    return {"httpRoute": {"enabled": False}, "ingress": ingress}
