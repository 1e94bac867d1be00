"""The names the chart gives its resources, for the rule that services of one namespace never
share one.

The chart owns the naming (charts/ollama-inference-load/templates/_names.tpl); this is the same
algorithm in Python, and tests/chart/test_names.py compares it with what helm 3 and helm 4 render
for names at and around every limit, so the two cannot drift.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

from catalog_gen.load.document import DataPath

CHART_NAME = "ollama-inference-load"  # Chart.yaml `name` (a test compares them)
NAME_MAX = 63  # a Service name (DNS-1035 label) and every label value
# The StatefulSet's pods carry controller-revision-hash "<name>-<up to 10 characters>".
STATEFULSET_NAME_MAX = 52
HASH_LENGTH = 8


class ResourceName(NamedTuple):
    """A resource the chart renders for a service. A named tuple, not a dataclass: every
    service's facts hold several, and the cache unpickles them for every leaf of a run (a
    tuple's unpickling costs half a dataclass instance's)."""

    kind: str
    name: str
    source: DataPath  # the leaf node that decides the name


def bounded(name: str, limit: int) -> str:
    """oil.boundedName: name, or its first limit-9 characters, '-' and 8 hex of its sha256."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_LENGTH]
    return f"{name[: limit - HASH_LENGTH - 1]}-{digest}"


def fullname(release: str, values: Mapping[str, Any]) -> str:
    """oil.fullname."""
    name = str(values.get("fullnameOverride") or "")
    if not name:
        base = str(values.get("nameOverride") or "") or CHART_NAME
        name = release if base in release else f"{release}-{base}"
    return bounded(name, NAME_MAX)


def suffixed(full: str, suffix: str) -> str:
    """oil.suffixedName: the full name bounded to leave room for '-<suffix>'."""
    return f"{bounded(full, NAME_MAX - 1 - len(suffix))}-{suffix}"


def resource_names(
    release: str, values: Mapping[str, Any], chart_values: Mapping[str, Any]
) -> tuple[ResourceName, ...]:
    """Every (kind, name) the chart renders for these effective values (helm test pod included),
    but the scripts ConfigMap: its name ends in a hash of its content (`<fullname>-scripts-<10
    hex>`, oil.scriptsConfigMapName), which only helm computes; it shares the Service's full
    name, so two services whose ConfigMaps would meet have Services that meet first."""
    full = fullname(release, values)
    by_full: DataPath = (
        ("chartValues", "fullnameOverride")
        if "fullnameOverride" in chart_values
        else ("serviceName",)
    )
    names = [
        ResourceName("Service", full, by_full),
        ResourceName("Pod", suffixed(full, "test"), by_full),
    ]
    cache = values.get("cache") or {}
    if cache.get("mode") == "perReplica":
        names.append(ResourceName("StatefulSet", bounded(full, STATEFULSET_NAME_MAX), by_full))
        names.append(ResourceName("Service", suffixed(full, "headless"), by_full))
    else:
        names.append(ResourceName("Deployment", full, by_full))
    if cache.get("mode") == "sharedPVC" and not cache.get("existingClaim"):
        names.append(ResourceName("PersistentVolumeClaim", suffixed(full, "models"), by_full))
    account = values.get("serviceAccount") or {}
    if account.get("create", True):
        explicit = str(account.get("name") or "")
        where = ("chartValues", "serviceAccount", "name") if explicit else by_full
        names.append(ResourceName("ServiceAccount", explicit or full, where))
    names.extend(_optional_names(full, values, by_full))
    return tuple(names)


def _optional_names(full: str, values: Mapping[str, Any], by_full: DataPath) -> list[ResourceName]:
    names: list[ResourceName] = []
    enabled = {
        "HTTPRoute": ("httpRoute",),
        "Ingress": ("ingress",),
        "NetworkPolicy": ("networkPolicy",),
        "Gateway": ("gateway",),
    }
    for kind, keys in enabled.items():
        if (values.get(keys[0]) or {}).get("enabled"):
            names.append(ResourceName(kind, full, by_full))
    pdb = values.get("podDisruptionBudget") or {}
    if pdb.get("enabled") and int(values.get("replicaCount", 1)) > 1:
        names.append(ResourceName("PodDisruptionBudget", full, by_full))
    gateway = values.get("gateway") or {}
    tls = gateway.get("tls") or {}
    if (
        gateway.get("enabled")
        and tls.get("enabled")
        and (tls.get("certificate") or {}).get("enabled")
    ):
        names.append(ResourceName("Certificate", full, by_full))
        explicit = str(tls.get("secretName") or "")
        where = ("chartValues", "gateway", "tls", "secretName") if explicit else by_full
        names.append(ResourceName("Secret", explicit or suffixed(full, "tls"), where))
    return names
