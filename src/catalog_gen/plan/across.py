"""The rules across leaves, on the services of one environment: unique service names, hosts and
resource names, shared claims, the environment's GPU budget. They read what planning derived
(hosts, effective values, resource names), so they run after every leaf is planned.

They read a LeafFacts per service, never its ServicePlan: the few facts they need, built from the
plan by `leaf_facts` (their one owner), small enough that the incremental render keeps them
beside each leaf's cached plan and loads them without unpickling the plan (catalog_gen/cache.py).
To add a rule that needs a new fact: add the field to LeafFacts, fill it in `leaf_facts`, and if
the rule reports at a leaf node not yet listed, add that node's path to `_reported_paths` (the
facts keep the position of each, so the message lands where Document.add would put it). The
cache's key includes catalog-gen's code, so cached facts of the old shape are never read.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import operator
import pickle
import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalog_gen.check.names import ResourceName
from catalog_gen.check.rules import SINGLE_ATTACH_MODES
from catalog_gen.load.document import DataPath, Document, Position
from catalog_gen.models import Environment
from catalog_gen.plan.autoscaling import autoscaled, counted_replicas
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import JsonPathPart, Report, Severity
from catalog_gen.sizing import parse_quantity


@dataclass(frozen=True)
class LeafFacts:
    """What the rules across leaves, the Argo CD files, the emit-stage checks
    (catalog_gen/emit/checks.py) and the list of output files read of one service (see the
    module doc for how to add one)."""

    environment_name: str
    namespace: str
    service_name: str
    leaf_path: str  # ServicePlan.leaf_path: names the service's plan
    relative_dir: str  # ServicePlan.relative_dir as POSIX text
    display: str  # the leaf's Document.display
    host_sources: tuple[tuple[str, DataPath], ...]  # Exposure.host_sources
    resource_names: tuple[ResourceName, ...]
    existing_claim: tuple[str, tuple[str, ...]] | None  # sharedPVC existingClaim, sorted modes
    steady_gpus: int
    autoscaled: bool
    other_namespaces: tuple[str, ...]  # namespaces it writes to besides its own
    owner: str | None  # ServicePlan.owner: the leaf's, else the environment's (Backstage's)
    positions: tuple[tuple[DataPath, Position], ...]  # where each reported node starts
    valid: bool = True

    def add(
        self,
        report: Report,
        parts: Sequence[JsonPathPart],
        message: str,
        *,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Document.add at a node the facts know the position of."""
        line, column = dict(self.positions)[tuple(parts)]
        report.add(self.display, line, column, list(parts), message, severity=severity)


def leaf_facts(plan: ServicePlan) -> LeafFacts:
    """The facts of a plan (their one owner)."""
    claim = plan.cache.get("existingClaim") or ""
    modes = tuple(sorted(set(plan.cache.get("accessModes") or ())))
    existing = (str(claim), modes) if claim and plan.cache.get("mode") == "sharedPVC" else None
    reported = _reported_paths(plan)
    return LeafFacts(
        environment_name=plan.environment_name,
        namespace=plan.namespace,
        service_name=plan.service_name,
        leaf_path=plan.leaf_path,
        relative_dir=plan.relative_dir.as_posix(),
        display=plan.document.display,
        host_sources=tuple(plan.exposure.host_sources),
        resource_names=tuple(plan.resource_names),
        existing_claim=existing,
        steady_gpus=steady_gpus(plan),
        autoscaled=autoscaled(plan.effective),
        other_namespaces=other_namespaces(plan.effective),
        owner=plan.owner,
        positions=tuple((path, plan.document.position(path)) for path in reported),
        valid=plan.valid,
    )


def facts_digest(facts: LeafFacts) -> str:
    """sha256 of facts as pickled: what the cache keys the rules' problems on (equal facts may
    pickle apart, sharing objects differently: then the rules only run again)."""
    return hashlib.sha256(pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()


def _reported_paths(plan: ServicePlan) -> list[DataPath]:
    """Every leaf node a rule on LeafFacts may report at, once each."""
    paths: list[DataPath] = [
        ("serviceName",),
        ("namespace",),
        ("owner",),  # where the leaf sets it; absent: where the leaf's mapping starts
        ("cache", "mode"),  # a created claim another service mounts: the mode creates it
        ("cache", "existingClaim"),
    ]
    paths += [source for _, source in plan.exposure.host_sources]
    paths += [resource.source for resource in plan.resource_names]
    return list(dict.fromkeys(tuple(path) for path in paths))


def other_namespaces(effective: Mapping[str, Any]) -> tuple[str, ...]:
    """The KEDA HTTP add-on's namespace where the chart renders a ReferenceGrant there."""
    autoscaling = effective.get("autoscaling") or {}
    keda_http = autoscaling.get("kedaHttp") or {}
    if (
        autoscaled(effective)
        and autoscaling.get("engine") == "keda-http"
        and (keda_http.get("referenceGrant") or {}).get("create", True)
    ):
        return (str(keda_http["interceptorNamespace"]),)
    return ()


def check_across_leaves(
    services: Sequence[LeafFacts],
    environments: Mapping[str, Environment],
    environment_documents: Mapping[str, Document],
    report: Report,
) -> None:
    by_environment: dict[str, list[LeafFacts]] = defaultdict(list)
    for service in services:
        by_environment[service.environment_name].append(service)
    for name, members in sorted(by_environment.items()):
        ordered = sorted(members, key=_LEAF_PATH)
        # Each rule reports only where two services share a key: when no key repeats (the
        # usual case, found with C-level set operations), its walk is skipped. The walks
        # themselves are the rules; these only prove that they would find nothing.
        if _repeats(zip(map(_NAMESPACE, ordered), map(_SERVICE_NAME, ordered), strict=True)):
            _unique_service_names(ordered, report)
        if _repeats(map(_FIRST, itertools.chain.from_iterable(map(_HOST_SOURCES, ordered)))):
            _unique_hosts(ordered, report)
        if _repeats(_resource_keys(ordered)):
            _unique_resource_names(ordered, report)
        claimed = [service for service in ordered if service.existing_claim is not None]
        if claimed:
            _shared_claims(claimed, report)
            _created_claims_mounted(ordered, claimed, report)
        document = environment_documents.get(name)
        environment = environments.get(name)
        if document is not None and environment is not None:
            _gpu_budget(ordered, environment, document, report)


_LEAF_PATH = operator.attrgetter("leaf_path")
_NAMESPACE = operator.attrgetter("namespace")
_SERVICE_NAME = operator.attrgetter("service_name")
_HOST_SOURCES = operator.attrgetter("host_sources")
_FIRST = operator.itemgetter(0)


def _repeats(keys: Iterable[object]) -> bool:
    """Whether a key occurs more than once."""
    listed = list(keys)
    return len(set(listed)) != len(listed)


def _resource_keys(services: Iterable[LeafFacts]) -> list[tuple[str, str, str]]:
    """(namespace, kind, name) of every resource of every service."""
    return [
        (service.namespace, resource.kind, resource.name)
        for service in services
        for resource in service.resource_names
    ]


def _clashes(
    uses: Iterable[tuple[Hashable, LeafFacts, DataPath]],
) -> Iterator[tuple[Hashable, LeafFacts, DataPath, list[LeafFacts]]]:
    """Each use of a key (key, service, where the service's leaf sets it) that other services
    use too, with those others in the leaves' order. A clash is symmetric, so it is reported at
    every service involved: `validate FILE`, `new` and `promote`, which keep the problems of one
    leaf, see it whichever leaf they name. A service using a key twice clashes with no one."""
    users: dict[Hashable, dict[int, tuple[LeafFacts, list[DataPath]]]] = defaultdict(dict)
    for key, service, source in uses:
        users[key].setdefault(id(service), (service, []))[1].append(source)
    for key, by_service in users.items():
        if len(by_service) < 2:
            continue
        involved = [service for service, _ in by_service.values()]
        for service, sources in by_service.values():
            others = [other for other in involved if other is not service]
            for source in sources:
                yield key, service, source, others


def _unique_service_names(services: Iterable[LeafFacts], report: Report) -> None:
    uses = (
        ((service.namespace, service.service_name), service, ("serviceName",))
        for service in services
    )
    for _, service, source, others in _clashes(uses):
        service.add(
            report,
            source,
            f"service {service.service_name!r} is also defined in namespace "
            f"{service.namespace!r} by {', '.join(other.display for other in others)}; a "
            "service is defined once per namespace",
        )


def _unique_hosts(services: Iterable[LeafFacts], report: Report) -> None:
    uses = (
        (host, service, source) for service in services for host, source in service.host_sources
    )
    for host, service, source, others in _clashes(uses):
        users = ", ".join(
            f"{other.display} (service {other.namespace}/{other.service_name})" for other in others
        )
        # A host the leaf does not name is the one it derives (plan/exposure.py), at ingress.
        derived = " (<serviceName>.<baseDomain>)" if source == ("ingress",) else ""
        service.add(
            report,
            source,
            f"host {host!r}{derived} is also used by {users}; hosts are unique per environment",
        )


def _unique_resource_names(services: Iterable[LeafFacts], report: Report) -> None:
    """Two services of one namespace must not render a resource of the same kind and name (the
    chart's names, catalog_gen/names.py): one error at each of the two leaves."""
    owners: dict[tuple[str, str, str], list[tuple[LeafFacts, DataPath]]] = {}
    clashes: dict[tuple[int, int], list[tuple[LeafFacts, DataPath, LeafFacts, str]]] = {}
    for service in services:
        for resource in service.resource_names:
            key = (service.namespace, resource.kind, resource.name)
            what = f"{resource.kind} {resource.name}"
            for other, other_at in owners.get(key, []):
                if other is service or other.service_name == service.service_name:
                    continue  # one service; or a duplicate serviceName, reported on its own
                pairs = ((service, resource.source, other), (other, other_at, service))
                for here, at, there in pairs:
                    clashes.setdefault((id(here), id(there)), []).append((here, at, there, what))
            owners.setdefault(key, []).append((service, resource.source))
    for found in clashes.values():
        here, source, there, _ = found[0]
        here.add(
            report,
            source,
            f"service {there.namespace}/{there.service_name} ({there.display}) renders "
            f"resources of the same names: {', '.join(item[3] for item in found)}; the chart's "
            "names must be unique in a namespace: rename one service (or its fullnameOverride)",
        )


def _shared_claims(services: Iterable[LeafFacts], report: Report) -> None:
    """Two services of one namespace must not mount one single-attach existingClaim."""
    uses = (
        ((service.namespace, service.existing_claim[0]), service, ("cache", "existingClaim"))
        for service in services
        if service.existing_claim is not None
        and set(service.existing_claim[1]) <= SINGLE_ATTACH_MODES
    )
    for _, service, source, others in _clashes(uses):
        claim, modes = service.existing_claim or ("", ())
        service.add(
            report,
            source,
            f"claim {claim!r} (access modes {json.dumps(list(modes))}) is also used by "
            f"{', '.join(other.display for other in others)}; a single-attach volume cannot "
            "serve two services",
        )


def _created_claims_mounted(
    services: Iterable[LeafFacts], claimed: Iterable[LeafFacts], report: Report
) -> None:
    """A service's existingClaim must not name the claim the chart creates for another service
    of its namespace (its PersistentVolumeClaim among the chart's names, check/names.py),
    whatever the access modes: that service's release owns the claim, and removing the service,
    renaming it or changing its cache deletes it with the models. An error at both leaves: the
    user's cache.existingClaim, the creator's cache.mode (sharedPVC without an existingClaim
    creates the claim)."""
    users: dict[tuple[str, str], list[LeafFacts]] = defaultdict(list)
    for service in claimed:
        if service.existing_claim is not None:
            users[(service.namespace, service.existing_claim[0])].append(service)
    for creator in services:
        for resource in creator.resource_names:
            key = (creator.namespace, resource.name)
            if resource.kind != "PersistentVolumeClaim" or key not in users:
                continue
            # One service's name twice is reported on its own (_unique_service_names).
            mounting = [user for user in users[key] if user.service_name != creator.service_name]
            if not mounting:
                continue
            creator.add(
                report,
                ("cache", "mode"),
                f"claim {resource.name!r}, which the chart creates for this service, is also "
                f"used by {', '.join(user.display for user in mounting)} (cache.existingClaim); "
                "a created claim belongs to its service's release (removing the service, "
                "renaming it or changing its cache deletes it with the models): the other "
                "service needs a claim of its own",
            )
            for user in mounting:
                user.add(
                    report,
                    ("cache", "existingClaim"),
                    f"claim {resource.name!r} is the one the chart creates for service "
                    f"{creator.namespace}/{creator.service_name} ({creator.display}); its "
                    "release owns the claim and deletes it with the models when that service "
                    "is removed, renamed or changes its cache: use a claim no service creates",
                )
    _replica_claims_mounted(services, users, report)


# A claim of a StatefulSet's volumeClaimTemplate (templates/statefulset.yaml, named `models`):
# models-<StatefulSet>-<ordinal>, the ordinal written as %d (no leading zero).
_REPLICA_CLAIM = re.compile(r"models-(.+)-(?:0|[1-9][0-9]*)")


def _replica_claims_mounted(
    services: Iterable[LeafFacts],
    users: Mapping[tuple[str, str], list[LeafFacts]],
    report: Report,
) -> None:
    """A service's existingClaim must not name a claim of another service's per-replica
    StatefulSet (models-<StatefulSet>-<ordinal>): that replica's pod mounts it already, a
    single-attach volume then stops one of the two pods (Multi-Attach), and two servers would
    write one model store. An error at both leaves."""
    by_statefulset: dict[tuple[str, str], list[tuple[str, LeafFacts]]] = defaultdict(list)
    for (namespace, claim), claim_users in users.items():
        found = _REPLICA_CLAIM.fullmatch(claim)
        if found is not None:
            for user in claim_users:
                by_statefulset[(namespace, found[1])].append((claim, user))
    for creator in services:
        for resource in creator.resource_names:
            if resource.kind != "StatefulSet":
                continue
            for claim, user in by_statefulset.get((creator.namespace, resource.name), ()):
                if user.service_name == creator.service_name:
                    continue
                creator.add(
                    report,
                    ("cache", "mode"),
                    f"claim {claim!r} of this service's per-replica StatefulSet is also used by "
                    f"{user.display} (cache.existingClaim): its replica's pod mounts it, so "
                    "the other service needs a claim of its own",
                )
                user.add(
                    report,
                    ("cache", "existingClaim"),
                    f"claim {claim!r} belongs to a replica of the per-replica StatefulSet of "
                    f"service {creator.namespace}/{creator.service_name} ({creator.display}), "
                    "whose pod mounts it: use a claim no service creates",
                )


# HAMi's shares of a GPU (memory in MiB, memory percent, core percent): amounts, not devices. A
# pod that asks for them holds the vGPUs it requests as nvidia.com/gpu (gpu.extraResources).
GPU_SHARE_RESOURCES = frozenset(
    {"nvidia.com/gpumem", "nvidia.com/gpumem-percentage", "nvidia.com/gpucores"}
)


# Whole GPUs (or slices of one: MIG, time-sliced `.shared`) by the resource names their device
# plugins advertise, besides the environment's gpu.resourceName: a leaf's chartValues may ask for
# them in the server's resources, gpu.extraResources or the model-pull init container, and the
# budget counts them too. HAMi's shares (GPU_SHARE_RESOURCES) are amounts, never devices.
GPU_DEVICE_RESOURCES = frozenset({"nvidia.com/gpu", "nvidia.com/gpu.shared", "amd.com/gpu"})
GPU_DEVICE_PREFIXES = ("nvidia.com/mig-", "gpu.intel.com/")


def pod_gpu_devices(effective: Mapping[str, Any]) -> int:
    """GPU devices one server pod holds: its server container's (its limits as the chart builds
    them, oil.resources: `resources`, then gpu.resourceName set to gpu.count and
    gpu.extraResources over it, both only with gpu.count > 0) or its model-pull init
    container's, whichever is more (the scheduler reserves the larger of a pod's largest init
    container and the sum of its containers). The `helm test` pod runs only during helm test."""
    gpu = effective.get("gpu") or {}
    resources = effective.get("resources") or {}
    limits = dict(_mapping(resources.get("limits")))
    count = gpu.get("count")
    if isinstance(count, int) and count > 0:
        limits[gpu.get("resourceName")] = count
        limits.update(_mapping(gpu.get("extraResources")))
    device = gpu.get("resourceName")
    server = _gpu_devices(device, limits, _mapping(resources.get("requests")))
    pull = (effective.get("pull") or {}).get("resources") or {}
    init = _gpu_devices(device, _mapping(pull.get("limits")), _mapping(pull.get("requests")))
    return max(server, init)


def _mapping(value: object) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _gpu_devices(device: object, *lists: Mapping[Any, Any]) -> int:
    """The GPU devices one container holds: for each GPU device resource its resource lists
    name (device: the environment's gpu.resourceName, a device unless a HAMi share), the larger
    of its amounts."""
    amounts: dict[str, int] = {}
    for resources in lists:
        for name, amount in resources.items():
            if not _is_gpu_device(name, device):
                continue
            if type(amount) is int:  # gpu.count, as the chart sets it: most services
                found = amount
            elif isinstance(amount, str | float):
                try:
                    found = math.ceil(parse_quantity(amount))
                except ValueError:
                    continue  # the chart schema refuses it
            else:
                continue
            amounts[name] = max(amounts.get(name, 0), found)
    return sum(amounts.values())


def _is_gpu_device(name: object, device: object) -> bool:
    if not isinstance(name, str) or name in GPU_SHARE_RESOURCES:
        return False
    return name == device or name in GPU_DEVICE_RESOURCES or name.startswith(GPU_DEVICE_PREFIXES)


def steady_gpus(plan: ServicePlan) -> int:
    """GPU devices a service may hold when no rollout runs: per pod devices x replicas
    (autoscaling.maxReplicas when KEDA owns the count)."""
    return pod_gpu_devices(plan.effective) * counted_replicas(plan.effective)


def rollout_reserve(usage: Iterable[int], environment: Environment) -> int:
    """GPUs the environment keeps spare for rollouts (gpu.surge), once for the whole pool: each
    service's rollout may use all of it, and rollouts that meet wait in turn (docs/catalog-gen.md
    "Rollouts"). Nothing where no service holds a GPU (usage: each service's steady_gpus)."""
    if not any(usage):
        return 0
    return environment.gpu.surge


def _gpu_budget(
    services: Sequence[LeafFacts], environment: Environment, document: Document, report: Report
) -> None:
    budget = environment.gpu.budget
    if budget is None:
        return
    steady = sum(service.steady_gpus for service in services)
    surge = rollout_reserve((service.steady_gpus for service in services), environment)
    if steady + surge <= budget:
        return
    largest = sorted(
        (service for service in services if service.steady_gpus),
        key=lambda service: (-service.steady_gpus, service.leaf_path),
    )[:5]
    listing = ", ".join(
        f"{service.namespace}/{service.service_name} {service.steady_gpus}"
        + (" (maxReplicas)" if service.autoscaled else "")
        for service in largest
    )
    spare = f" plus gpu.surge {surge} spare for rollouts = {steady + surge}," if surge else ","
    counted = "GPUs per pod x replicas"
    if any(service.autoscaled for service in services):
        counted += ", autoscaled services x autoscaling.maxReplicas"
    document.add(
        report,
        ("gpu", "budget"),
        f"services of environment {environment.environment!r} request {steady} GPUs "
        f"({counted}){spare} over the budget of {budget}; largest: {listing}",
    )
